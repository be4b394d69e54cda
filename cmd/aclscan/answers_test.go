package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aclscan/aclscan/internal/testkit/fakes3"

	"github.com/aclscan/aclscan/internal/testkit"
)

// fakeBucket serves one bucket of n keys ("k/0000"...) with private ACLs
// (the shared fake S3, internal/testkit/fakes3), and hands every request
// to answer first, for the answers radosgw does not give (regions,
// expired tokens). answer returns false to let the normal answer through;
// aclRequests numbers the GetObjectAcl requests (0 for others).
func fakeBucket(t *testing.T, n int, answer func(w http.ResponseWriter, r *http.Request, aclRequests int64) bool) string {
	t.Helper()
	const private = `<AccessControlPolicy><Owner><ID>owner</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>owner</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`
	fake := fakes3.New()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k/%04d", i)
	}
	fake.PutAll(keys, http.StatusOK, private)
	fake.Hook = func(w http.ResponseWriter, r *http.Request, acls int) bool { return answer(w, r, int64(acls)) }
	return fake.URL(t)
}

func errorAnswer(w http.ResponseWriter, status int, code string, headers ...string) {
	for i := 0; i+1 < len(headers); i += 2 {
		w.Header().Set(headers[i], headers[i+1])
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<Error><Code>%s</Code><Message>%s answer</Message><Region>eu-west-1</Region></Error>`, code, code)
}

// What AWS answers when the region or the credentials are wrong: one line
// that says what to do, exit 1.
func TestServerAnswersExplained(t *testing.T) {
	cases := []struct {
		name   string
		answer func(w http.ResponseWriter, r *http.Request, acls int64) bool
		want   string
	}{
		{"bucket in another region (301)", func(w http.ResponseWriter, r *http.Request, _ int64) bool {
			errorAnswer(w, http.StatusMovedPermanently, "PermanentRedirect", "X-Amz-Bucket-Region", "eu-west-1")
			return true
		}, "the bucket is in region eu-west-1; use --region eu-west-1"},
		{"bucket just created in another region (307)", func(w http.ResponseWriter, r *http.Request, _ int64) bool {
			errorAnswer(w, http.StatusTemporaryRedirect, "TemporaryRedirect", "X-Amz-Bucket-Region", "eu-west-1", "Location", "https://bkt.s3.eu-west-1.amazonaws.com/")
			return true
		}, "use --region eu-west-1"},
		{"signed for the wrong region (400)", func(w http.ResponseWriter, r *http.Request, _ int64) bool {
			errorAnswer(w, http.StatusBadRequest, "AuthorizationHeaderMalformed", "X-Amz-Bucket-Region", "eu-west-1")
			return true
		}, "use --region eu-west-1"},
		{"expired token", func(w http.ResponseWriter, r *http.Request, _ int64) bool {
			errorAnswer(w, http.StatusBadRequest, "ExpiredToken")
			return true
		}, "the credentials have expired"},
		{"proxy login page", func(w http.ResponseWriter, r *http.Request, _ int64) bool {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<!DOCTYPE html><html><body>Sign in to the corporate proxy</body></html>")
			return true
		}, "an HTML page, not S3's XML"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := fakeBucket(t, 10, tc.answer)
			code, stdout, stderr := runWith(t, fakeKeys, "scan", "s3://bkt", "--endpoint-url", url, "-o", filepath.Join(t.TempDir(), "r.jsonl"))
			t.Logf("exit %d: %s", code, stderr)
			if code != exitIncomplete || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitIncomplete, tc.want)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") != 0 || stdout != "" {
				t.Errorf("want one line on stderr, nothing on stdout: %q / %q", stderr, stdout)
			}
		})
	}
}

// A host name that does not resolve: no server at all, one line.
func TestUnresolvableEndpoint(t *testing.T) {
	code, _, stderr := runWith(t, fakeKeys, "scan", "s3://bkt", "--endpoint-url", "http://no-such-host.invalid", "--max-attempts", "1", "-o", os.DevNull)
	if code != exitIncomplete || !strings.Contains(stderr, `cannot resolve host "bkt.no-such-host.invalid"`) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("exit %d, stderr %q; want 1 and one line naming the host", code, stderr)
	}
}

// Credentials that expire in the middle of a scan: every ACL request fails
// from then on. The scan stops after a run of failures, saying why, with
// the objects answered before in the report and none reported as an error;
// the checkpoint lets the same command continue with fresh credentials.
func TestCredentialsExpiringMidScan(t *testing.T) {
	var expired atomic.Bool
	url := fakeBucket(t, 600, func(w http.ResponseWriter, r *http.Request, acls int64) bool {
		if acls > 200 && expired.Load() {
			errorAnswer(w, http.StatusBadRequest, "ExpiredToken")
			return true
		}
		return false
	})
	expired.Store(true)
	dir := t.TempDir()
	report := filepath.Join(dir, "r.jsonl")
	args := []string{"scan", "s3://bkt", "--endpoint-url", url, "-c", "8", "-o", report, "--checkpoint", filepath.Join(dir, "c.ckpt")}
	code, _, stderr := runWith(t, fakeKeys, args...)
	t.Logf("exit %d: %s", code, stderr)
	if code != exitIncomplete || !strings.Contains(stderr, "failed in a row") || !strings.Contains(stderr, "the credentials have expired") ||
		!strings.Contains(stderr, "run the same command again") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	first := testkit.Records(t, report)
	if len(first) < 190 || len(first) > 200 {
		t.Errorf("%d records after the first run, want the ~200 answered", len(first))
	}
	for _, r := range first {
		if r.Status != "ok" {
			t.Fatalf("%s reported as %s: a failing endpoint's objects must stay unreported", r.Key, r.Status)
		}
	}
	expired.Store(false) // fresh credentials
	if code, _, stderr := runWith(t, fakeKeys, args...); code != exitOK {
		t.Fatalf("resumed scan: exit %d, stderr %q", code, stderr)
	}
	seen := map[string]int{}
	for _, r := range testkit.Records(t, report) {
		seen[r.Key]++
		if r.Status != "ok" {
			t.Errorf("%s: %s", r.Key, r.Status)
		}
	}
	for i := range 600 {
		if k := fmt.Sprintf("k/%04d", i); seen[k] != 1 {
			t.Fatalf("%s reported %d times over both runs", k, seen[k])
		}
	}
}

// aclscan only reads: a whole scan (bucket ACL, listing, object ACLs,
// checkpointing) sends nothing but GET requests.
func TestScanOnlyReads(t *testing.T) {
	var mu sync.Mutex
	methods := map[string]int{}
	url := fakeBucket(t, 300, func(w http.ResponseWriter, r *http.Request, _ int64) bool {
		mu.Lock()
		methods[r.Method]++
		mu.Unlock()
		return false
	})
	dir := t.TempDir()
	for _, extra := range [][]string{nil, {"--strategy", "serial"}, {"--sdk-acl"}} {
		args := append([]string{"scan", "s3://bkt", "--endpoint-url", url, "-o", filepath.Join(dir, "r.jsonl"), "--checkpoint", filepath.Join(dir, "c")}, extra...)
		if code, _, stderr := runWith(t, fakeKeys, args...); code != exitOK {
			t.Fatalf("%v: exit %d, %s", extra, code, stderr)
		}
	}
	if len(methods) != 1 || methods[http.MethodGet] < 3*301 {
		t.Errorf("requests by method: %v; want GET only, at least %d", methods, 3*301)
	}
}

// A mistyped endpoint is reported in seconds with the default flags: an
// endpoint that never answered is not an outage to wait out, and each
// request makes --max-attempts attempts, no more. (A closed port and a
// listener that hangs up stand in for a wrong endpoint.)
func TestEndpointThatNeverAnsweredFailsFast(t *testing.T) {
	t.Parallel()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusing := "http://" + closed.Addr().String()
	closed.Close()

	hangUp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hangUp.Close()
	var accepted atomic.Int64
	go func() {
		for {
			conn, err := hangUp.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conn.Close()
		}
	}()

	cases := []struct {
		name, endpoint string
		extra          []string
		want           string
		maxConns       int64
	}{
		{"connection refused, default flags", refusing, nil, "connection refused", 0},
		// Five requests start at once (the bucket's context: its ACL,
		// Object Ownership, Block Public Access, policy status, policy),
		// each with its 3 attempts, and no listing after them; net/http
		// may resend a request once by itself when a kept-alive
		// connection closes under it.
		{"connection closed, --max-attempts 3", "http://" + hangUp.Addr().String(), []string{"--max-attempts", "3"}, "closed before any answer", 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			args := append([]string{"scan", "s3://bkt", "--endpoint-url", tc.endpoint, "-o", os.DevNull}, tc.extra...)
			code, _, stderr := runWith(t, fakeKeys, args...)
			took := time.Since(start)
			if code != exitIncomplete || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, tc.want)
			}
			if took > 5*time.Second {
				t.Errorf("took %v to report an endpoint that never answered; want under 5 s", took)
			}
			if n := accepted.Load(); tc.maxConns > 0 && n > tc.maxConns {
				t.Errorf("%d connections for --max-attempts 3; want at most %d", n, tc.maxConns)
			}
		})
	}
}
