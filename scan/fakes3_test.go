package scan

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aclscan/aclscan/s3access"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// fakeS3 is an in-process S3 for unit tests, for the shapes a real server
// will not produce on demand (hand-picked ACL documents, failures). The
// integration tests run the same engine against radosgw.
type fakeS3 struct {
	mu sync.Mutex
	// objectACL maps a key to the status and body GetObjectAcl answers.
	objectACL map[string]fakeResponse
	bucketACL fakeResponse
	// bucketPolicy answers GetBucketPolicy (default: none, as AWS says it).
	bucketPolicy fakeResponse
	// keys is the listing, in S3's lexical order.
	keys []string
	// pageSize caps keys per list page (the client's max-keys also applies).
	pageSize int
	// requests counts requests per kind ("list", "acl", "bucket-acl").
	requests map[string]int
	// starts records the start-after of each list request ("" for none).
	starts []string
	// sdkACL makes the client fetch ACLs through the SDK's stack rather
	// than the lean path.
	sdkACL bool
	// failACLsFrom > 0 makes that GetObjectAcl request and the later ones
	// answer 500 InternalError, up to failACLsUntil (excluded; 0 = no end):
	// the server failing mid-scan.
	failACLsFrom, failACLsUntil int
	// downFrom > 0 makes every request answer 500 once that many
	// GetObjectAcl requests were served (listing included): the whole
	// server down.
	downFrom int
	// attempts is the client's MaxAttempts (default 2).
	attempts int
}

type fakeResponse struct {
	status int
	body   string
}

func newFakeS3() *fakeS3 {
	return &fakeS3{objectACL: map[string]fakeResponse{}, requests: map[string]int{}, pageSize: 1000,
		bucketPolicy: fakeResponse{404, errorXML("NoSuchBucketPolicy")}}
}

// count returns the requests of one kind served so far; the server may
// still be answering requests the client gave up on.
func (f *fakeS3) count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[kind]
}

func (f *fakeS3) put(key string, status int, body string) {
	f.objectACL[key] = fakeResponse{status, body}
	f.keys = append(f.keys, key)
	sort.Strings(f.keys)
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.downFrom > 0 && f.requests["acl"] >= f.downFrom {
		f.requests["down"]++
		f.reply(w, fakeResponse{500, errorXML("InternalError")})
		return
	}
	switch {
	case key == "" && q.Has("acl"):
		f.requests["bucket-acl"]++
		f.reply(w, f.bucketACL)
	case key == "" && q.Has("policy"):
		f.requests["bucket-policy"]++
		f.reply(w, f.bucketPolicy)
	case key == "" && q.Get("list-type") == "2":
		f.requests["list"]++
		if q.Get("continuation-token") == "" {
			f.starts = append(f.starts, q.Get("start-after"))
		}
		f.list(w, bucket, q)
	case key != "" && q.Has("acl"):
		f.requests["acl"]++
		resp, ok := f.objectACL[key]
		switch {
		case f.failACLsFrom > 0 && f.requests["acl"] >= f.failACLsFrom && (f.failACLsUntil == 0 || f.requests["acl"] < f.failACLsUntil):
			resp = fakeResponse{500, errorXML("InternalError")}
		case !ok:
			resp = fakeResponse{404, errorXML("NoSuchKey")}
		}
		f.reply(w, resp)
	default:
		f.reply(w, fakeResponse{501, errorXML("NotImplemented")})
	}
}

func (f *fakeS3) reply(w http.ResponseWriter, resp fakeResponse) {
	if resp.status == 0 {
		resp.status = 200
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(resp.status)
	fmt.Fprint(w, resp.body)
}

func (f *fakeS3) list(w http.ResponseWriter, bucket string, q url.Values) {
	start := 0
	if token := q.Get("continuation-token"); token != "" {
		start, _ = strconv.Atoi(token)
	} else if after := q.Get("start-after"); after != "" {
		start = sort.SearchStrings(f.keys, after)
		if start < len(f.keys) && f.keys[start] == after {
			start++
		}
	}
	limit := f.pageSize
	if mk, err := strconv.Atoi(q.Get("max-keys")); err == nil && mk < limit {
		limit = mk
	}
	prefix := q.Get("prefix")
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	fmt.Fprintf(&b, "<Name>%s</Name><EncodingType>url</EncodingType>", bucket)
	n, i := 0, start
	for ; i < len(f.keys) && n < limit; i++ {
		if !strings.HasPrefix(f.keys[i], prefix) {
			continue
		}
		fmt.Fprintf(&b, "<Contents><Key>%s</Key><Owner><ID>owner</ID></Owner></Contents>", url.QueryEscape(f.keys[i]))
		n++
	}
	if i < len(f.keys) {
		fmt.Fprintf(&b, "<IsTruncated>true</IsTruncated><NextContinuationToken>%d</NextContinuationToken>", i)
	} else {
		b.WriteString("<IsTruncated>false</IsTruncated>")
	}
	b.WriteString("</ListBucketResult>")
	f.reply(w, fakeResponse{200, b.String()})
}

func errorXML(code string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message></Message></Error>`
}

// client starts an httptest server for f and returns an aclscan client to it.
func (f *fakeS3) client(t *testing.T) *s3access.Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	attempts := f.attempts
	if attempts == 0 {
		attempts = 2
	}
	c, err := s3access.New(context.Background(), s3access.Options{
		EndpointURL: srv.URL, MaxAttempts: attempts, SDKObjectACL: f.sdkACL,
		Credentials: s3access.StaticCredentials("AKIDTESTFAKE", "fake-secret", ""),
		Backoff:     noBackoff, // retries are tested for what they do, not for how long they wait
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// noBackoff retries at once.
var noBackoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })

// collect is a Sink that keeps every result, by key.
type collect struct {
	byKey map[string]Result
	order []string
}

func (c *collect) Write(r *Result) error {
	if c.byKey == nil {
		c.byKey = map[string]Result{}
	}
	if _, dup := c.byKey[r.Key+"\x00"+r.VersionID]; dup {
		return fmt.Errorf("key %q written twice", r.Key)
	}
	c.byKey[r.Key+"\x00"+r.VersionID] = *r
	c.order = append(c.order, r.Key)
	return nil
}
