// Package fakes3 is the in-process S3 that unit tests across the
// repository share (apart from internal/testkit, which reads reports and
// so cannot be imported by the engine's own tests).
package fakes3

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Server is an in-process S3 of one bucket for unit tests, for the shapes
// a real server will not produce on demand: hand-picked ACL documents,
// failures mid-scan, a server down, answers radosgw does not give
// (through Hook). The integration tests run the same code against
// radosgw. Set its fields before the first request.
type Server struct {
	// ObjectACL maps a key to what GetObjectAcl answers (a key listed
	// but not here answers 404 NoSuchKey).
	ObjectACL map[string]Answer
	// BucketACL and BucketPolicy answer GetBucketAcl and GetBucketPolicy
	// (default: 501 NotImplemented and 404 NoSuchBucketPolicy, as AWS
	// says a bucket without a policy).
	BucketACL, BucketPolicy Answer
	// Keys is the listing, in S3's lexical order (Put keeps it so).
	Keys []string
	// PageSize caps keys per list page (the client's max-keys also applies).
	PageSize int
	// FailACLsFrom > 0 makes that GetObjectAcl request and the later ones
	// answer 500 InternalError, up to FailACLsUntil (excluded; 0 = no
	// end): the server failing mid-scan.
	FailACLsFrom, FailACLsUntil int
	// DownFrom > 0 makes every request answer 500 once that many
	// GetObjectAcl requests were served: the whole server down.
	DownFrom int
	// Hook, when set, sees every request first and returns true when it
	// answered; acls numbers GetObjectAcl requests (this one included; 0
	// for other requests).
	Hook func(w http.ResponseWriter, r *http.Request, acls int) bool

	mu       sync.Mutex
	requests map[string]int
	starts   []string
}

// Answer is a status and a body.
type Answer struct {
	Status int
	Body   string
}

// New is an empty bucket.
func New() *Server {
	return &Server{ObjectACL: map[string]Answer{}, requests: map[string]int{}, PageSize: 1000,
		BucketACL:    Answer{501, ErrorXML("NotImplemented")},
		BucketPolicy: Answer{404, ErrorXML("NoSuchBucketPolicy")}}
}

// Put lists key with the GetObjectAcl answer given.
func (f *Server) Put(key string, status int, body string) {
	f.PutAll([]string{key}, status, body)
}

// PutAll lists keys, each with the same GetObjectAcl answer.
func (f *Server) PutAll(keys []string, status int, body string) {
	for _, key := range keys {
		if _, listed := f.ObjectACL[key]; !listed {
			f.Keys = append(f.Keys, key)
		}
		f.ObjectACL[key] = Answer{status, body}
	}
	sort.Strings(f.Keys)
}

// Count returns the requests of one kind served so far ("list", "acl",
// "bucket-acl", "bucket-policy", "down"); the server may still be
// answering requests the client gave up on.
func (f *Server) Count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[kind]
}

// StartsAfter returns the start-after of the list requests that had one
// (the listing's splits).
func (f *Server) StartsAfter() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.starts {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Change runs fn under the server's lock: for a test that changes the
// server while requests may be in flight.
func (f *Server) Change(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// URL serves f on an httptest server for the test's duration.
func (f *Server) URL(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

func (f *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if key != "" && q.Has("acl") && r.Method == http.MethodPut {
		f.putACL(w, r, key)
		return
	}
	objectACL := key != "" && q.Has("acl")
	f.mu.Lock()
	served := f.requests["acl"] // before this request
	if objectACL {
		f.requests["acl"]++
	}
	acls := f.requests["acl"]
	f.mu.Unlock()
	if f.Hook != nil {
		seen := 0 // only GetObjectAcl requests are numbered
		if objectACL {
			seen = acls
		}
		if f.Hook(w, r, seen) {
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.DownFrom > 0 && served >= f.DownFrom {
		f.requests["down"]++
		reply(w, Answer{500, ErrorXML("InternalError")})
		return
	}
	switch {
	case key == "" && q.Has("acl"):
		f.requests["bucket-acl"]++
		reply(w, f.BucketACL)
	case key == "" && q.Has("policy"):
		f.requests["bucket-policy"]++
		reply(w, f.BucketPolicy)
	case key == "" && q.Get("list-type") == "2":
		f.requests["list"]++
		if q.Get("continuation-token") == "" {
			f.starts = append(f.starts, q.Get("start-after"))
		}
		f.list(w, bucket, q)
	case objectACL:
		resp, ok := f.ObjectACL[key]
		switch {
		case f.FailACLsFrom > 0 && acls >= f.FailACLsFrom && (f.FailACLsUntil == 0 || acls < f.FailACLsUntil):
			resp = Answer{500, ErrorXML("InternalError")}
		case !ok:
			resp = Answer{404, ErrorXML("NoSuchKey")}
		}
		reply(w, resp)
	default:
		reply(w, Answer{501, ErrorXML("NotImplemented")})
	}
}

// putACL takes an object's new ACL (PutObjectAcl with a body): later
// GetObjectAcl requests answer it.
func (f *Server) putACL(w http.ResponseWriter, r *http.Request, key string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests["put-acl"]++
	if _, listed := f.ObjectACL[key]; err != nil || !listed {
		reply(w, Answer{404, ErrorXML("NoSuchKey")})
		return
	}
	f.ObjectACL[key] = Answer{200, string(body)}
	reply(w, Answer{200, ""})
}

func reply(w http.ResponseWriter, resp Answer) {
	if resp.Status == 0 {
		resp.Status = 200
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(resp.Status)
	fmt.Fprint(w, resp.Body)
}

// list answers ListObjectsV2 as S3 does with encoding-type=url, the
// continuation token being the index of the next key.
func (f *Server) list(w http.ResponseWriter, bucket string, q url.Values) {
	start := 0
	if token := q.Get("continuation-token"); token != "" {
		start, _ = strconv.Atoi(token)
	} else if after := q.Get("start-after"); after != "" {
		start = sort.SearchStrings(f.Keys, after)
		if start < len(f.Keys) && f.Keys[start] == after {
			start++
		}
	}
	limit := f.PageSize
	if mk, err := strconv.Atoi(q.Get("max-keys")); err == nil && mk < limit {
		limit = mk
	}
	prefix := q.Get("prefix")
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	fmt.Fprintf(&b, "<Name>%s</Name><EncodingType>url</EncodingType>", bucket)
	n, i := 0, start
	for ; i < len(f.Keys) && n < limit; i++ {
		if !strings.HasPrefix(f.Keys[i], prefix) {
			continue
		}
		fmt.Fprintf(&b, "<Contents><Key>%s</Key><Owner><ID>owner</ID></Owner></Contents>", url.QueryEscape(f.Keys[i]))
		n++
	}
	if i < len(f.Keys) {
		fmt.Fprintf(&b, "<IsTruncated>true</IsTruncated><NextContinuationToken>%d</NextContinuationToken>", i)
	} else {
		b.WriteString("<IsTruncated>false</IsTruncated>")
	}
	b.WriteString("</ListBucketResult>")
	reply(w, Answer{200, b.String()})
}

// ErrorXML is S3's error body for code.
func ErrorXML(code string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message></Message></Error>`
}
