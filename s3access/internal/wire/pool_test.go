package wire

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// The pool's own behaviours; the s3access package tests it under the
// client (keep-alive, resends, timeouts, chunked answers, header caps).

func TestConnPoolLeavesProxiedHostsToTheTransport(t *testing.T) {
	t.Parallel()
	proxy, _ := url.Parse("http://127.0.0.1:1")
	p := NewPool(&http.Transport{Proxy: http.ProxyURL(proxy)}, time.Second)
	req, _ := http.NewRequest(http.MethodGet, "http://s3.example.com/bucket/k?acl=", nil)
	if _, err := p.Do(context.Background(), req); err != ErrNotPooled {
		t.Errorf("err %v, want ErrNotPooled", err)
	}
	req, _ = http.NewRequest(http.MethodGet, "ftp://s3.example.com/k", nil)
	if _, err := NewPool(&http.Transport{}, time.Second).Do(context.Background(), req); err != ErrNotPooled {
		t.Errorf("ftp: err %v, want ErrNotPooled", err)
	}
}

// New TLS connections resume the session of an earlier one instead of a
// full handshake.
func TestConnPoolResumesTLSSessions(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<AccessControlPolicy/>"))
	}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	p := NewPool(&http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, 5*time.Second)
	for i := range 2 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/bucket/k?acl=", nil)
		// A fresh connection each time: the first one is kept busy.
		u, _ := url.Parse(srv.URL)
		conn, err := p.dial(context.Background(), u, hostKey{"https", u.Host})
		if err != nil {
			t.Fatal(err)
		}
		resp, _, err := conn.exchange(context.Background(), req, time.Now().Add(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		resumed := conn.Conn.(*tls.Conn).ConnectionState().DidResume
		conn.Close()
		if resumed != (i == 1) {
			t.Errorf("connection %d: resumed = %v", i+1, resumed)
		}
	}
}
