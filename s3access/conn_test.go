package s3access

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The connection pool's behaviours are shapes radosgw does not produce
// on demand (connections closed under the client, hanging answers,
// chunked bodies, TLS resumption): httptest servers and raw listeners.

// countConns wraps srv to count the connections it accepts.
func countConns(srv *httptest.Server) *atomic.Int64 {
	var n atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}

func poolClient(t *testing.T, endpoint string, opts Options) *Client {
	t.Helper()
	opts.EndpointURL = endpoint
	opts.Credentials = StaticCredentials("AKIDTEST", "test-secret", "")
	c, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if c.conns == nil && !opts.StdTransport {
		t.Fatal("the client does not use its own connection pool")
	}
	return c
}

func TestConnPoolKeepsConnectionsAlive(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte(publicACL))
	}))
	conns := countConns(srv)
	srv.Start()
	defer srv.Close()
	c := poolClient(t, srv.URL, Options{})
	for i := range 50 {
		if p, err := c.GetObjectACL(context.Background(), "bucket", fmt.Sprint("k", i), ""); err != nil || p.Owner != "usera" {
			t.Fatalf("request %d: %v %+v", i, err, p)
		}
	}
	if conns.Load() != 1 {
		t.Errorf("50 requests one after another opened %d connections, want 1", conns.Load())
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if _, err := c.GetObjectACL(context.Background(), "bucket", fmt.Sprint(w, "/", i), ""); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 || conns.Load() > 17 {
		t.Errorf("16 workers: %d failed, %d connections (want 0 and at most 17)", failed.Load(), conns.Load())
	}
	if c.Requests() != 50+16*20 {
		t.Errorf("counted %d requests, want %d", c.Requests(), 50+16*20)
	}
}

// oneShotServer answers one request per connection, then closes it
// without saying so (no Connection: close), as a server whose idle
// timeout fired between two requests.
// rawServer answers each request on its own connection with answer,
// written by hand (what net/http's server would not send), then closes it.
func rawServer(t *testing.T, answer func(conn net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
					return
				}
				answer(conn)
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func oneShotServer(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var served atomic.Int64
	url := rawServer(t, func(conn net.Conn) {
		served.Add(1)
		fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n\r\n%s", len(publicACL), publicACL)
	})
	return url, &served
}

func TestConnPoolResendsOnAConnectionTheServerClosed(t *testing.T) {
	t.Parallel()
	endpoint, served := oneShotServer(t)
	// One attempt per request: only the pool's own resend can save it.
	c := poolClient(t, endpoint, Options{MaxAttempts: 1})
	for i := range 5 {
		// Give the server time to close the connection it answered on.
		time.Sleep(10 * time.Millisecond)
		if _, err := c.GetObjectACL(context.Background(), "bucket", "k", ""); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if served.Load() != 5 || c.Requests() != 5 {
		t.Errorf("served %d, counted %d, want 5 and 5", served.Load(), c.Requests())
	}
}

func TestConnPoolTimeoutAndCancel(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	c := poolClient(t, srv.URL, Options{MaxAttempts: 1, RequestTimeout: 100 * time.Millisecond})
	start := time.Now()
	_, err := c.GetObjectACL(context.Background(), "bucket", "k", "")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || time.Since(start) > 5*time.Second {
		t.Errorf("hanging server: err %v after %v, want a timeout after ~100ms", err, time.Since(start))
	}

	c = poolClient(t, srv.URL, Options{MaxAttempts: 1, RequestTimeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = c.GetObjectACL(ctx, "bucket", "k", "")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("ended context: err %v after %v, want context.DeadlineExceeded after ~100ms", err, time.Since(start))
	}
}

// A context that ends while the body is read cuts the read short too.
func TestConnPoolCancelDuringBody(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = w.Write([]byte("<AccessControlPolicy>"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := poolClient(t, srv.URL, Options{MaxAttempts: 1, RequestTimeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.GetObjectACL(ctx, "bucket", "k", "")
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("err %v after %v, want a failure soon after the context ended", err, time.Since(start))
	}
}

func TestConnPoolChunkedAndConnectionClose(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/closing") {
			w.Header().Set("Connection", "close")
		}
		// Two flushes: a chunked body.
		half := len(publicACL) / 2
		_, _ = w.Write([]byte(publicACL[:half]))
		w.(http.Flusher).Flush()
		_, _ = w.Write([]byte(publicACL[half:]))
	}))
	conns := countConns(srv)
	srv.Start()
	defer srv.Close()
	c := poolClient(t, srv.URL, Options{MaxAttempts: 1})
	for _, key := range []string{"a", "b", "closing", "c", "d"} {
		if p, err := c.GetObjectACL(context.Background(), "bucket", key, ""); err != nil || len(p.Grants) != 1 {
			t.Fatalf("%s: %v %+v", key, err, p)
		}
	}
	if conns.Load() != 2 {
		t.Errorf("%d connections, want 2 (a new one after the server closed the first)", conns.Load())
	}
}

func TestConnPoolRefusesHeaderInjection(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c, err := New(context.Background(), Options{EndpointURL: srv.URL, MaxAttempts: 1,
		Credentials: StaticCredentials("AKIDTEST", "test-secret", "token\r\nX-Injected: yes")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetObjectACL(context.Background(), "bucket", "k", "")
	if err == nil || !strings.Contains(err.Error(), "invalid value for header") || hits.Load() != 0 {
		t.Errorf("err %v, %d requests reached the server; want a refusal and none", err, hits.Load())
	}
}

// A hostile endpoint that answers with endless headers: the pool stops
// reading at maxResponseHeader, as net/http's transport does at its
// MaxResponseHeaderBytes, instead of holding whatever it is sent.
func TestConnPoolCapsResponseHeaders(t *testing.T) {
	t.Parallel()
	url := rawServer(t, func(conn net.Conn) {
		line := "X-Pad: " + strings.Repeat("a", 1000) + "\r\n"
		if _, err := io.WriteString(conn, "HTTP/1.1 200 OK\r\n"); err != nil {
			return
		}
		for i := 0; i < 100_000; i++ { // up to 100 MB, unless the client stops reading
			if _, err := io.WriteString(conn, line); err != nil {
				return
			}
		}
	})
	c := poolClient(t, url, Options{MaxAttempts: 1})
	_, err := c.GetObjectACL(context.Background(), "b", "k", "")
	if err == nil || !strings.Contains(err.Error(), "headers are larger than") {
		t.Fatalf("err = %v, want the header cap", err)
	}
}

// A server whose clock is two hours ahead answers RequestTimeTooSkewed
// with its Date: the client signs again with the server's clock and
// keeps it for the next requests, as the SDK does.
func TestClockSkewIsCorrected(t *testing.T) {
	t.Parallel()
	ahead := 2 * time.Hour
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		now := time.Now().Add(ahead)
		signed, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
		if err != nil || now.Sub(signed).Abs() > 15*time.Minute {
			w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
			w.WriteHeader(403)
			fmt.Fprint(w, `<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message></Error>`)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, publicACL)
	}))
	defer srv.Close()
	c := poolClient(t, srv.URL, Options{MaxAttempts: 3})
	if _, err := c.GetObjectACL(context.Background(), "b", "k", ""); err != nil {
		t.Fatalf("first request: %v", err)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("%d requests, want 2 (one refused, one signed with the server's clock)", n)
	}
	if _, err := c.GetObjectACL(context.Background(), "b", "k2", ""); err != nil || requests.Load() != 3 {
		t.Errorf("second request: %v after %d requests; want one, the skew remembered", err, requests.Load())
	}
}

func TestPlainHTTPSessionCredentialsAreNamed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		endpoint, token string
		want            bool
	}{{"http://127.0.0.1:1", "token", true}, {"https://127.0.0.1:1", "token", false}, {"http://127.0.0.1:1", "", false}} {
		c, err := New(context.Background(), Options{EndpointURL: tc.endpoint, Credentials: StaticCredentials("AKIDTEST", "secret", tc.token)})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.PlainHTTPSessionCredentials(context.Background()); got != tc.want {
			t.Errorf("%s with token %q: %v, want %v", tc.endpoint, tc.token, got, tc.want)
		}
	}
}

// A bucket in another Region, as AWS answers for it: 301
// PermanentRedirect naming the Region in x-amz-bucket-region, or 400
// AuthorizationHeaderMalformed naming it in <Region>. The lean path signs
// again for that Region once, and keeps it for the bucket (issue 26).
func TestRequestFollowsTheBucketsRegion(t *testing.T) {
	t.Parallel()
	for name, wrong := range map[string]func(w http.ResponseWriter){
		"PermanentRedirect": func(w http.ResponseWriter) {
			w.Header().Set("X-Amz-Bucket-Region", "eu-west-1")
			w.WriteHeader(http.StatusMovedPermanently)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.</Message><Endpoint>b.s3.eu-west-1.amazonaws.com</Endpoint><Bucket>b</Bucket><RequestId>R</RequestId><HostId>H</HostId></Error>`)
		},
		"AuthorizationHeaderMalformed": func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'</Message><Region>eu-west-1</Region><RequestId>R</RequestId><HostId>H</HostId></Error>`)
		},
	} {
		t.Run(name, func(t *testing.T) {
			var requests atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				if !strings.Contains(r.Header.Get("Authorization"), "/eu-west-1/s3/aws4_request") {
					wrong(w)
					return
				}
				w.Header().Set("Content-Type", "application/xml")
				fmt.Fprint(w, publicACL)
			}))
			defer srv.Close()
			c := poolClient(t, srv.URL, Options{Region: "us-east-1", MaxAttempts: 1})
			if _, err := c.GetObjectACL(context.Background(), "b", "k", ""); err != nil {
				t.Fatalf("with one attempt: %v", err)
			}
			if _, err := c.GetObjectACL(context.Background(), "b", "k2", ""); err != nil || requests.Load() != 3 {
				t.Errorf("%v after %d requests; want 3: one refused, then each signed for eu-west-1", err, requests.Load())
			}
		})
	}
}
