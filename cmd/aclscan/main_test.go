package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runWith(t, s3access.Options{}, args...)
}

// runWith runs the command line with an endpoint (unless the arguments
// give one) and credentials of the test's, as its environment would
// give them: the process environment is not touched, so tests using it
// may run in parallel.
func runWith(t *testing.T, base s3access.Options, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	sh := &shell{stdout: &out, stderr: &errOut, s3: base}
	code = sh.run(context.Background(), args)
	return code, out.String(), errOut.String()
}

// fakeKeys sign requests to httptest servers, which do not check them.
var fakeKeys = s3access.Options{Credentials: s3access.StaticCredentials("AKIDFAKE", "fake-secret", "")}

// Tests give the command line their credentials; none reads the
// developer's AWS settings.
func TestMain(m *testing.M) {
	locals3.Isolate()
	os.Exit(m.Run())
}

// Usage errors need no server: they are caught before any request.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"scan"}, "one s3://BUCKET[/PREFIX] argument"},
		{[]string{"scan", "s3://a", "s3://b"}, "one s3://BUCKET[/PREFIX] argument"},
		{[]string{"scan", "bucket"}, "not an s3:// URL"},
		{[]string{"scan", "s3://x"}, "shorter than 3"},
		{[]string{"scan", "s3://bad_name!"}, "not allowed"},
		{[]string{"scan", "s3://bucket", "--strategy", "fast"}, "unknown strategy"},
		{[]string{"scan", "s3://bucket", "--format", "xml"}, "unknown format"},
		{[]string{"scan", "s3://bucket", "--fail-on", "public", "--fail-on-new"}, "--fail-on-new needs --baseline REPORT"},
		{[]string{"scan", "s3://bucket", "--baseline", "missing.jsonl", "--fail-on-new"}, "give --fail-on KINDS too"},
		{[]string{"scan", "s3://bucket", "--baseline", "missing.jsonl"}, "open missing.jsonl: no such file"},
		{[]string{"scan", "s3://bucket", "--concurrency", "0"}, "--concurrency: must be at least 1"},
		{[]string{"scan", "s3://bucket", "--fail-on", "public,secret"}, `unknown finding kind "secret"`},
		{[]string{"scan", "s3://bucket", "--nope"}, "unknown flag: --nope"},
		{[]string{"scan", "s3://bucket", "--endpoint-url", "localhost:7480"}, "is not a URL"},
		{[]string{"scan", "s3://bucket", "--ca-bundle", "/does/not/exist.pem"}, "--ca-bundle: cannot read"},
		{[]string{"scan", "s3://bucket", "-o", "/does/not/exist/report.jsonl"}, "cannot write the report"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"scan", "s3://bucket", "--insecure-skip-verify", "--ca-bundle", "ca.pem"}, "contradict each other"},
		{[]string{"scan", "s3://bucket", "--strategy", "serial", "-c", "8"}, "--strategy serial does not use it"},
		{[]string{"scan", "s3://bucket", "--strategy", "all", "--concurrency", "8"}, "--strategy all does not use it"},
		{[]string{"scan", "s3://bucket", "--strategy", "serial", "--list-concurrency", "4"}, "one request at a time"},
		{[]string{"scan", "s3://bucket", "--format", "jsonl", "--table-rows", "5"}, "applies to --format table"},
		{[]string{"scan", "s3://bucket", "--checkpoint-interval", "1s"}, "needs --checkpoint FILE"},
		{[]string{"scan", "s3://bucket", "--outage-wait", "-1s"}, "--outage-wait: must be 0 or more"},
		{[]string{"scan", "s3://bucket", "-o", "/proc/version/report.jsonl"}, "cannot write the report"},
		{[]string{"scan", "s3://bucket", "--summary-json", "/does/not/exist/s.json"}, "--summary-json"},
		{[]string{"scan", "s3://bucket", "--all-buckets"}, "--all-buckets scans every bucket: drop the s3://bucket argument"},
		{[]string{"scan", "s3://bucket", "--include", "prod-*"}, "choose buckets for --all-buckets"},
		{[]string{"scan", "--all-buckets", "--exclude", "[unclosed"}, `"[unclosed" is not a valid glob pattern`},
		{[]string{"scan", "--all-buckets", "--parallel-buckets", "0"}, "--parallel-buckets must be at least 1"},
		{[]string{"scan", "s3://bucket", "--fail-on-latent", "pubic"}, `--fail-on-latent: unknown finding kind "pubic"`},
		{[]string{"scan", "s3://bucket", "--account-id", "12"}, "--account-id: must be a 12-digit AWS account ID"},
		{[]string{"scan", "s3://bucket", "--readiness-policy", "/does/not/exist/p.json"}, "--readiness-policy /does/not/exist/p.json: the directory /does/not/exist does not exist"},
		{[]string{"scan", "--all-buckets", "--readiness-policy", "/proc/version/dir"}, "--readiness-policy: with --all-buckets it names a directory"},
		{[]string{"scan", "--all-buckets", "-o", "r.jsonl", "--checkpoint", "testdata/single.ckpt"}, "is of a scan of s3://bucket/, not of every bucket (--all-buckets)"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q lacks %q", stderr, tc.want)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("error is not one line: %q", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout not empty: %q", stdout)
			}
		})
	}
}

func TestHelpListsContractFlags(t *testing.T) {
	code, stdout, _ := runCLI(t, "scan", "--help")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, flag := range []string{"--endpoint-url", "--path-style", "--region", "--profile", "--ca-bundle", "--strategy", "--concurrency", "--all-versions", "--format", "--output", "--fail-on", "--bucket-owner"} {
		if !strings.Contains(stdout, flag) {
			t.Errorf("help lacks %s", flag)
		}
	}
}

func TestParseFailOn(t *testing.T) {
	set, err := parseFailOn("--fail-on", "public, unreadable")
	if err != nil || len(set.Kinds()) != 2 {
		t.Fatalf("parseFailOn = %v, %v", set.Names(), err)
	}
	all, err := parseFailOn("--fail-on", "any")
	if err != nil || len(all.Kinds()) != len(acl.AllKinds()) {
		t.Fatalf("any = %v, %v", all.Names(), err)
	}
	if _, err := parseFailOn("--fail-on-latent", "pubic"); err == nil || !strings.Contains(err.Error(), `--fail-on-latent: unknown finding kind "pubic"`) {
		t.Errorf("a misspelt kind: %v", err)
	}
}

func TestUnwritableOutputDirIsCaughtBeforeScanning(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCLI(t, "scan", "s3://bucket", "-o", filepath.Join(dir, "missing", "r.jsonl"), "--endpoint-url", "http://127.0.0.1:1")
	if code != exitUsage || !strings.Contains(stderr, "no such file or directory") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// A certificate for another host name is refused, never silently accepted.
// httptest's TLS server (certificate for 127.0.0.1 and example.com) stands
// in for S3 here: the local RGW only answers on 127.0.0.1.
func TestTLSCertificateForAnotherHost(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	wrongHost := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	code, _, stderr := runWith(t, fakeKeys, "scan", "s3://bucket", "--endpoint-url", wrongHost, "--ca-bundle", caFile, "--max-attempts", "1")
	if code != exitIncomplete || !strings.Contains(stderr, "not valid for this host") {
		t.Errorf("exit %d, stderr %q; want 1 and a host name error", code, stderr)
	}
}

func TestVerdict(t *testing.T) {
	complete := func(edit func(*scan.Summary)) *scan.Summary {
		s := &scan.Summary{Complete: true, Objects: 10, BucketOwner: "a"}
		s.ByStatus[scan.StatusOK] = 10
		if edit != nil {
			edit(s)
		}
		return s
	}
	kinds := func(list string) acl.Findings { f, _ := parseFailOn("--fail-on", list); return f }
	public := failPolicy{effective: kinds("public")}
	cross := failPolicy{effective: kinds("cross-account")}
	latentPublic := failPolicy{latent: kinds("public")}
	found := func(k acl.Kind, inACLs, effective int64) func(*scan.Summary) {
		return func(s *scan.Summary) { s.ByKind[k], s.ByEffective[k] = inACLs, effective }
	}
	cases := []struct {
		name   string
		sum    *scan.Summary
		err    error
		failOn failPolicy
		code   int
	}{
		{"clean", complete(nil), nil, public, exitOK},
		{"finding not asked for", complete(found(acl.Authenticated, 1, 1)), nil, public, exitOK},
		{"finding asked for", complete(found(acl.Public, 2, 2)), nil, public, exitFindings},
		{"latent finding, effective asked", complete(found(acl.Public, 2, 0)), nil, public, exitOK},
		{"latent finding, latent asked", complete(found(acl.Public, 2, 0)), nil, latentPublic, exitFindings},
		{"no finding, latent asked", complete(nil), nil, latentPublic, exitOK},
		{"object errors beat findings", complete(func(s *scan.Summary) { found(acl.Public, 2, 2)(s); s.ByStatus[scan.StatusError] = 1 }), nil, public, exitIncomplete},
		{"stopped scan", complete(nil), &scan.Error{Op: "list s3://b/", Err: context.DeadlineExceeded}, public, exitIncomplete},
		{"interrupted", complete(nil), context.Canceled, failPolicy{}, exitIncomplete},
		{"owner unknown, owner kind asked", complete(func(s *scan.Summary) { s.BucketOwner = "" }), nil, cross, exitIncomplete},
		{"owner unknown, other kind asked", complete(func(s *scan.Summary) { s.BucketOwner = "" }), nil, public, exitOK},
		{"every ACL denied, a grant kind asked", complete(func(s *scan.Summary) { s.ByStatus[scan.StatusOK], s.ByStatus[scan.StatusDenied] = 0, 10 }), nil, public, exitIncomplete},
		{"every ACL denied, owner given, cross-account asked", complete(func(s *scan.Summary) { s.ByStatus[scan.StatusOK], s.ByStatus[scan.StatusDenied] = 0, 10 }), nil, cross, exitIncomplete},
		{"empty bucket", complete(func(s *scan.Summary) { s.Objects, s.ByStatus[scan.StatusOK] = 0, 0 }), nil, public, exitOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := verdict(tc.sum, tc.err, tc.failOn, "")
			code := exitOK
			if e, ok := err.(*exitError); ok {
				code = e.code
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d (%v)", code, tc.code, err)
			}
		})
	}
}

func TestOpenOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "existing.jsonl")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := openOutput(path, nil, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := out.w.Write([]byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(path)
	data, _ := os.ReadFile(path)
	if info.Mode().Perm() != 0o600 || string(data) != "new\n" {
		t.Errorf("mode %v content %q; want 0600 and the new content only", info.Mode().Perm(), data)
	}
	// A device is written to, not synced or chmod-ed.
	null, err := openOutput(os.DevNull, nil, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := null.Close(); err != nil {
		t.Errorf("closing %s: %v", os.DevNull, err)
	}
}

// A resumed report is cut back to the length the checkpoint counts (a
// record written after it would otherwise appear twice) and appended to.
func TestOpenOutputResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.jsonl")
	if err := os.WriteFile(path, []byte("one\ntwo\nhalf-writ"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := openOutput(path, nil, int64(len("one\ntwo\n")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := out.w.Write([]byte("three\n")); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "one\ntwo\nthree\n" {
		t.Errorf("report %q, want the checkpointed records then the new one", data)
	}
	// A report shorter than the checkpoint says was changed behind its back.
	if _, err := openOutput(path, nil, 1<<20); err == nil || !strings.Contains(err.Error(), "shorter than the checkpoint") {
		t.Errorf("err = %v, want a refusal to resume", err)
	}
	if _, err := openOutput(filepath.Join(t.TempDir(), "gone.jsonl"), nil, 0); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("err = %v, want a missing report error", err)
	}
}

// The progress line shows a percentage and the time left only once the
// total is known: a growing listing is not a total.
func TestDescribeProgress(t *testing.T) {
	cases := []struct {
		name                 string
		listingDone          bool
		buckets, bucketsDone int64
		listed, checked      int64
		rate                 float64
		want                 string
	}{
		{"listing", false, 0, 0, 5019, 4800, 300, "listed 5019, checked 4800"},
		{"listed", true, 0, 0, 5000, 1000, 100, "checked 1000 of 5000 (20%), about 40s left"},
		{"done", true, 0, 0, 10, 10, 5, "checked 10 of 10 (100%)"},
		{"buckets", false, 8, 2, 300, 200, 50, "buckets 2/8 (25%), listed 300, checked 200"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p scan.Progress
			p.ListingDone.Store(tc.listingDone)
			p.BucketsTotal.Store(tc.buckets)
			p.BucketsDone.Store(tc.bucketsDone)
			if got := describeProgress(&p, tc.listed, tc.checked, tc.rate); got != tc.want {
				t.Errorf("describeProgress = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestVersionCommand(t *testing.T) {
	code, stdout, _ := runCLI(t, "version")
	if code != exitOK || !strings.HasPrefix(stdout, "aclscan ") || !strings.Contains(stdout, "commit ") || !strings.Contains(stdout, "go1.") {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
	code, stdout, _ = runCLI(t, "completion", "bash")
	if code != exitOK || !strings.Contains(stdout, "bash completion") {
		t.Errorf("completion bash: exit %d", code)
	}
}

func TestTerminalSafe(t *testing.T) {
	for in, want := range map[string]string{
		"plain message, ümlaut": "plain message, ümlaut",
		"AccessDenied\x1b[2J":   `AccessDenied\x1b[2J`,
		"a\rb\u202ec":           `a\rb\u202ec`,
	} {
		if got := terminalSafe(in); got != want {
			t.Errorf("terminalSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// The working directory's .aclscan.yaml is read by default: a malformed
// one stops the run before any request, naming the file, the rule and the
// field (exit 2); --no-accept leaves it alone.
func TestAcceptDefaultFile(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile(".aclscan.yaml", []byte("rules:\n  - id: site\n    bucket: b\n    findings: [public]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "scan", "s3://bucket", "--endpoint-url", "http://127.0.0.1:1")
	if code != exitUsage || !strings.Contains(stderr, ".aclscan.yaml: rule site: reason: required") {
		t.Errorf("exit %d, %q; want 2 naming the file, the rule and the field", code, stderr)
	}
	code, _, stderr = runCLI(t, "scan", "s3://bucket", "--endpoint-url", "http://127.0.0.1:1", "--no-accept", "--max-attempts", "1")
	if code == exitUsage || strings.Contains(stderr, "aclscan.yaml") {
		t.Errorf("--no-accept: exit %d, %q; want the file left alone", code, stderr)
	}
}
