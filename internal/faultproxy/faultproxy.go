// Package faultproxy is an HTTP proxy to put in front of an S3 server in
// tests and benchmarks: it answers 503 SlowDown beyond a request rate,
// as S3 does beyond its per-prefix limits, and can add latency. Faults
// below HTTP (resets, stalls) are toxiproxy's job.
package faultproxy

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Options configure the proxy.
type Options struct {
	// Rate is the requests per second let through (0 = no limit); Burst
	// is the bucket size (default Rate/10, at least 1).
	Rate  float64
	Burst int
	// Latency is added before each request is forwarded.
	Latency time.Duration
}

// Proxy is a running fault proxy.
type Proxy struct {
	URL       string // base URL to use as the S3 endpoint
	server    *http.Server
	listener  net.Listener
	limiter   *rate.Limiter
	latency   time.Duration
	forwarded atomic.Int64
	throttled atomic.Int64
}

const slowDownBody = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>faultproxy</RequestId></Error>`

// Start listens on a free local port and proxies to upstream.
func Start(upstream string, opts Options) (*Proxy, error) {
	target, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{URL: "http://" + ln.Addr().String(), listener: ln, latency: opts.Latency}
	if opts.Rate > 0 {
		burst := opts.Burst
		if burst <= 0 {
			burst = max(1, int(opts.Rate/10))
		}
		p.limiter = rate.NewLimiter(rate.Limit(opts.Rate), burst)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second}
	p.server = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.latency > 0 {
			time.Sleep(p.latency)
		}
		if p.limiter != nil && !p.limiter.Allow() {
			p.throttled.Add(1)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(slowDownBody))
			return
		}
		p.forwarded.Add(1)
		// The client signed the Host it connected to: keep it.
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = p.server.Serve(ln) }()
	return p, nil
}

// Forwarded is the number of requests passed to the upstream server.
func (p *Proxy) Forwarded() int64 { return p.forwarded.Load() }

// Throttled is the number of requests answered 503 SlowDown.
func (p *Proxy) Throttled() int64 { return p.throttled.Load() }

// Close stops the proxy.
func (p *Proxy) Close() error { return p.server.Close() }
