package wire

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Pool sends the lean path's requests itself, on kept-alive
// connections it dials with the SDK transport's dialer and TLS settings:
// the request is written and its answer read in the calling goroutine.
// net/http's Transport hands every request to two goroutines of the
// connection (writeLoop, readLoop) and back through channels; in the
// profile of a 100,000-object scan those hand-offs, Client.Do and their
// scheduling were ~55 of the client's ~120 µs of CPU per object
// (docs/benchmarks/README.md, "Client CPU per object"). The answer is
// still parsed by net/http (http.ReadResponse), and anything the pool does
// not handle goes to the SDK's HTTP client unchanged: a proxy, another
// scheme, a transport it cannot see.
type Pool struct {
	transport *http.Transport
	timeout   time.Duration // the whole exchange, as http.Client.Timeout
	tls       *tls.Config   // the transport's, offering HTTP/1.1 only, with a session cache
	mu        sync.Mutex
	hosts     map[hostKey]*hostConns
	closed    bool
}

// hostKey names a host's connections: the URL's scheme and host, as
// given (a struct key, not a joined string: no allocation per request).
type hostKey struct{ scheme, host string }

// hostConns are the idle connections to one host, newest last.
type hostConns struct {
	viaProxy bool // the transport sends this host's requests through a proxy
	idle     []*leanConn
}

// leanConn is a kept-alive connection and its buffers.
type leanConn struct {
	net.Conn
	host      hostKey
	r         *bufio.Reader
	w         *bufio.Writer
	idleSince time.Time
	// budget bounds what the status line and headers may read (the body
	// is bounded by each request's own limit).
	budget *headerBudget
}

// maxResponseHeader bounds an answer's status line and headers, as
// net/http's MaxResponseHeaderBytes does (S3's are a few hundred bytes):
// a hostile or broken endpoint cannot make the client hold more.
const maxResponseHeader = 1 << 20

// errHeaderTooLarge is an answer whose headers pass maxResponseHeader.
var errHeaderTooLarge = fmt.Errorf("the answer's headers are larger than %d bytes: not an S3 answer", maxResponseHeader)

// headerBudget reads from the connection, counting while on.
type headerBudget struct {
	r    io.Reader
	on   bool
	left int
}

func (b *headerBudget) Read(p []byte) (int, error) {
	if !b.on {
		return b.r.Read(p)
	}
	if b.left <= 0 {
		return 0, errHeaderTooLarge
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= n
	return n, err
}

func NewPool(transport *http.Transport, timeout time.Duration) *Pool {
	cfg := &tls.Config{}
	if transport.TLSClientConfig != nil {
		cfg = transport.TLSClientConfig.Clone()
	}
	cfg.NextProtos = []string{"http/1.1"}
	if cfg.ClientSessionCache == nil {
		// New connections to a host resume an earlier TLS session
		// instead of a full handshake.
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(0)
	}
	return &Pool{transport: transport, timeout: timeout, tls: cfg, hosts: map[hostKey]*hostConns{}}
}

// ErrNotPooled means the pool does not send this request: the caller
// sends it with the HTTP client.
var ErrNotPooled = errors.New("not sent by the connection pool")

// do sends req (a GET or HEAD without a body, signed) and returns its
// answer; the body must be read to its end and closed for the connection
// to be kept. It returns ErrNotPooled for a request it leaves to the
// HTTP client.
func (p *Pool) Do(ctx context.Context, req *http.Request) (*http.Response, error) {
	u := req.URL
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, ErrNotPooled
	}
	id := hostKey{u.Scheme, u.Host}
	deadline := time.Now().Add(p.timeout)
	d, ctxBound := ctx.Deadline()
	if ctxBound = ctxBound && d.Before(deadline); ctxBound {
		deadline = d
	}
	// A kept-alive connection the server has closed in the meantime fails
	// at once; a GET is safe to send again on a fresh one, as net/http does.
	for fresh := false; ; fresh = true {
		conn, reused, err := p.get(ctx, req, id, fresh)
		if err == ErrNotPooled {
			return nil, err
		}
		var resp *http.Response
		var unwatch func() bool
		if err == nil {
			resp, unwatch, err = conn.exchange(ctx, req, deadline)
		}
		if err == nil {
			resp.Body = &pooledBody{body: resp.Body, conn: conn, pool: p, keep: !resp.Close, unwatch: unwatch}
			return resp, nil
		}
		if conn != nil {
			unwatch()
			conn.Close()
		}
		if !reused || !errors.Is(err, errStale) {
			var ne net.Error
			switch {
			case ctx.Err() != nil:
				err = ctx.Err()
			case ctxBound && errors.As(err, &ne) && ne.Timeout():
				// The context's deadline, a moment before it reports so.
				err = context.DeadlineExceeded
			}
			// As http.Client reports it, for the same retry decisions.
			return nil, &url.Error{Op: req.Method[:1] + strings.ToLower(req.Method[1:]), URL: u.String(), Err: err}
		}
	}
}

// get returns an idle connection to the host (reused; none when fresh),
// or dials one.
func (p *Pool) get(ctx context.Context, req *http.Request, id hostKey, fresh bool) (conn *leanConn, reused bool, err error) {
	now := time.Now()
	p.mu.Lock()
	h := p.hosts[id]
	if h == nil {
		h = &hostConns{}
		if p.transport.Proxy != nil {
			proxy, err := p.transport.Proxy(req)
			if err != nil {
				p.mu.Unlock()
				return nil, false, err
			}
			h.viaProxy = proxy != nil
		}
		p.hosts[id] = h
	}
	if h.viaProxy {
		p.mu.Unlock()
		return nil, false, ErrNotPooled
	}
	for !fresh && len(h.idle) > 0 {
		conn := h.idle[len(h.idle)-1]
		h.idle = h.idle[:len(h.idle)-1]
		if p.transport.IdleConnTimeout > 0 && now.Sub(conn.idleSince) > p.transport.IdleConnTimeout {
			conn.Close()
			continue
		}
		p.mu.Unlock()
		return conn, true, nil
	}
	p.mu.Unlock()
	conn, err = p.dial(ctx, req.URL, id)
	return conn, false, err
}

func (p *Pool) dial(ctx context.Context, u *url.URL, id hostKey) (*leanConn, error) {
	scheme, hostname, hostPort := u.Scheme, u.Hostname(), u.Host
	if u.Port() == "" {
		port := "80"
		if scheme == "https" {
			port = "443"
		}
		hostPort = net.JoinHostPort(hostname, port)
	}
	dial := p.transport.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	raw, err := dial(ctx, "tcp", hostPort)
	if err != nil {
		return nil, err
	}
	conn := raw
	if scheme == "https" {
		cfg := p.tls
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName = hostname
		}
		tc := tls.Client(raw, cfg)
		hctx := ctx
		if t := p.transport.TLSHandshakeTimeout; t > 0 {
			var cancel context.CancelFunc
			hctx, cancel = context.WithTimeout(ctx, t)
			defer cancel()
		}
		if err := tc.HandshakeContext(hctx); err != nil {
			raw.Close()
			return nil, err
		}
		conn = tc
	}
	budget := &headerBudget{r: conn}
	return &leanConn{Conn: conn, host: id, r: bufio.NewReaderSize(budget, 4<<10), w: bufio.NewWriterSize(conn, 4<<10), budget: budget}, nil
}

// put keeps conn for the next request, unless the host has enough idle.
func (p *Pool) put(conn *leanConn) {
	conn.idleSince = time.Now()
	p.mu.Lock()
	h := p.hosts[conn.host]
	if p.closed || h == nil || len(h.idle) >= max(p.transport.MaxIdleConnsPerHost, http.DefaultMaxIdleConnsPerHost) {
		p.mu.Unlock()
		conn.Close()
		return
	}
	h.idle = append(h.idle, conn)
	p.mu.Unlock()
}

// closeIdle closes the idle connections (the pool keeps working).
func (p *Pool) CloseIdle() {
	p.mu.Lock()
	var idle []*leanConn
	for _, h := range p.hosts {
		idle = append(idle, h.idle...)
		h.idle = nil
	}
	p.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// errStale marks a failure to write the request or to read the first
// byte of the answer: on a reused connection, the server had closed it.
var errStale = errors.New("connection closed by the server")

type staleError struct{ err error }

func (e *staleError) Error() string   { return e.err.Error() }
func (e *staleError) Unwrap() error   { return e.err }
func (e *staleError) Is(t error) bool { return t == errStale }

// exchange writes req and reads the answer's status and headers; the
// connection's deadline covers the whole exchange, body included, and a
// cancelled ctx cuts it short until unwatch is called (once the body is
// read); unwatch reports false if it came too late.
func (c *leanConn) exchange(ctx context.Context, req *http.Request, deadline time.Time) (resp *http.Response, unwatch func() bool, err error) {
	unwatch = func() bool { return true }
	if err := c.SetDeadline(deadline); err != nil {
		return nil, unwatch, err
	}
	if ctx.Done() != nil {
		unwatch = context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	}
	if err := writeRequest(c.w, req); err != nil {
		return nil, unwatch, err
	}
	if err := c.w.Flush(); err != nil {
		return nil, unwatch, &staleError{err}
	}
	c.budget.on, c.budget.left = true, maxResponseHeader
	defer func() { c.budget.on = false }()
	if _, err := c.r.Peek(1); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			return nil, unwatch, &staleError{err}
		}
		return nil, unwatch, err
	}
	resp, err = http.ReadResponse(c.r, req)
	if err != nil && errors.Is(err, errHeaderTooLarge) {
		err = errHeaderTooLarge
	}
	return resp, unwatch, err
}

// writeRequest writes req's request line and headers (no body).
func writeRequest(w *bufio.Writer, req *http.Request) error {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	w.WriteString(req.Method)
	w.WriteByte(' ')
	w.WriteString(req.URL.RequestURI())
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\n")
	for name, values := range req.Header {
		for _, v := range values {
			// A header value with a line break would split the request:
			// refuse it as net/http does.
			if strings.ContainsAny(v, "\r\n") {
				return fmt.Errorf("invalid value for header %s", name)
			}
			w.WriteString(name)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
	_, err := w.WriteString("\r\n")
	return err
}

// pooledBody returns the connection to the pool once the body has been
// read to its end and closed.
type pooledBody struct {
	body io.ReadCloser
	conn *leanConn
	pool *Pool
	keep bool // the server did not ask to close
	done bool // read to io.EOF
	// unwatch stops the request's context from cutting the connection
	// short (false: it already has, or is about to).
	unwatch func() bool
}

func (b *pooledBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.done = true
	}
	return n, err
}

func (b *pooledBody) Close() error {
	if b.conn == nil {
		return nil
	}
	conn := b.conn
	b.conn = nil
	b.body.Close()
	watched := b.unwatch()
	// Buffered bytes past the answer mean the exchange was not what it
	// seemed: do not reuse the connection.
	if watched && b.done && b.keep && conn.r.Buffered() == 0 {
		conn.SetDeadline(time.Time{})
		b.pool.put(conn)
		return nil
	}
	return conn.Close()
}
