package s3access

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aclscan/aclscan/s3access/internal/wire"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

const publicACL = `<?xml version="1.0" encoding="UTF-8"?><AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>usera</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`

// testClient points a client at an httptest server: these answers
// (throttling, malformed bodies) are ones RGW does not give on demand.
func testClient(t *testing.T, handler http.HandlerFunc) (*Client, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := New(context.Background(), Options{
		EndpointURL: srv.URL, MaxAttempts: 3, Credentials: StaticCredentials("AKIDTEST", "test-secret", ""),
		// Retries are tested for what they do, not for how long they wait.
		Backoff: retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil }),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, &hits
}

func TestLeanRequestShape(t *testing.T) {
	t.Parallel()
	var got *http.Request
	c, _ := testClient(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		_, _ = w.Write([]byte(publicACL))
	})
	p, err := c.GetObjectACL(context.Background(), "bucket", "dir/a b+c%~é", "v 1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Owner != "usera" || len(p.Grants) != 1 || p.Grants[0].URI == "" {
		t.Errorf("policy = %+v", p)
	}
	if got.Method != http.MethodGet || got.URL.EscapedPath() != "/bucket/dir/a%20b%2Bc%25~%C3%A9" {
		t.Errorf("request %s %s", got.Method, got.URL.EscapedPath())
	}
	if q := got.URL.Query(); !q.Has("acl") || q.Get("versionId") != "v 1" || !strings.Contains(got.URL.RawQuery, "versionId=v%201") {
		t.Errorf("query %q", got.URL.RawQuery)
	}
	auth := got.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") || !strings.Contains(auth, "/us-east-1/s3/aws4_request") {
		t.Errorf("Authorization %q", auth)
	}
	if got.Header.Get("X-Amz-Content-Sha256") != wire.EmptyPayloadSHA256 || got.Header.Get("X-Amz-Date") == "" {
		t.Errorf("signing headers missing: %v", got.Header)
	}
	if strings.Contains(auth, "test-secret") {
		t.Error("the secret key appears in a header")
	}
}

func TestLeanRetriesThrottlingThenSucceeds(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	c, hits := testClient(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`))
			return
		}
		_, _ = w.Write([]byte(publicACL))
	})
	if _, err := c.GetObjectACL(context.Background(), "bucket", "k", ""); err != nil {
		t.Fatalf("err = %v, want success after one retry", err)
	}
	if hits.Load() != 2 || c.Requests() != 2 {
		t.Errorf("server saw %d requests, client counted %d; want 2", hits.Load(), c.Requests())
	}
}

func TestLeanErrorAnswers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		status   int
		body     string
		attempts int64
		check    func(error) bool
		errHas   string
		// contentLength, if set, is declared instead of the body's length.
		contentLength int
	}{
		{"access denied", 403, `<Error><Code>AccessDenied</Code><Message></Message></Error>`, 1, IsAccessDenied, "AccessDenied", 0},
		{"403 without a body", 403, "", 1, IsAccessDenied, "AccessDenied", 0},
		{"no such key", 404, `<Error><Code>NoSuchKey</Code></Error>`, 1, IsNotFound, "NoSuchKey", 0},
		{"internal error is retried", 500, `<Error><Code>InternalError</Code></Error>`, 3, nil, "after 3 attempts", 0},
		{"HTML instead of XML", 200, `<!DOCTYPE html><html><body>proxy login</body></html>`, 1, nil, "HTML page", 0},
		{"200 with an error body", 200, `<Error><Code>InternalError</Code></Error>`, 1, nil, "root element is <Error>", 0},
		{"truncated XML", 200, publicACL[:len(publicACL)/2], 1, nil, "parse ACL response", 0},
		{"enormous body", 200, "<AccessControlPolicy>" + strings.Repeat(" ", 2<<20), 1, nil, "larger than", 0},
		{"nesting bomb", 200, strings.Repeat("<a>", 300_000), 1, nil, "parse ACL response", 0},
		{"proxy's HTML error page", 502, "<html><body><h1>502 Bad Gateway</h1></body></html>", 3, nil, "HTTP 502", 0},
		// The connection closes before the declared length: cut short,
		// retried like a reset.
		{"body shorter than Content-Length", 200, publicACL[:100], 3, nil, "unexpected EOF", len(publicACL)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, hits := testClient(t, func(w http.ResponseWriter, r *http.Request) {
				// S3's type; an HTML page is known by its body.
				w.Header().Set("Content-Type", "application/xml")
				if tc.contentLength != 0 {
					w.Header().Set("Content-Length", strconv.Itoa(tc.contentLength))
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			_, err := c.GetObjectACL(context.Background(), "bucket", "k", "")
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.errHas)
			}
			if tc.check != nil && !tc.check(err) {
				t.Errorf("error %v not classified", err)
			}
			if hits.Load() != tc.attempts {
				t.Errorf("%d attempts, want %d", hits.Load(), tc.attempts)
			}
		})
	}
}

// Grants an ACL may hold beyond what S3 allows (100) or knows come back
// whole: every grant, unknown grantee types included, for the classifier
// to report rather than the parser to drop.
func TestLeanUnusualButValidACLs(t *testing.T) {
	t.Parallel()
	grant := `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>someone</ID></Grantee><Permission>READ</Permission></Grant>`
	martian := `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Martian"><ID>z</ID></Grantee><Permission>READ</Permission></Grant>`
	cases := []struct {
		name   string
		grants string
		want   int
		type0  string
	}{
		{"5,000 grants", strings.Repeat(grant, 5000), 5000, "CanonicalUser"},
		{"unknown grantee type", martian, 1, "Martian"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := testClient(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(`<AccessControlPolicy><Owner><ID>o</ID></Owner><AccessControlList>` + tc.grants + `</AccessControlList></AccessControlPolicy>`))
			})
			p, err := c.GetObjectACL(context.Background(), "bucket", "k", "")
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Grants) != tc.want || p.Grants[0].Type != tc.type0 {
				t.Errorf("%d grants, first of type %q; want %d of %q", len(p.Grants), p.Grants[0].Type, tc.want, tc.type0)
			}
		})
	}
}
