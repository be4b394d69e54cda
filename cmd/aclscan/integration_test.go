//go:build integration

// Integration tests of the command line against a real S3 (radosgw from
// scripts/local-s3): exit codes, messages, formats, TLS.

package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/internal/testkit"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/s3access"
)

// runLocal runs the command line on the local S3 as user A.
func runLocal(t *testing.T, env locals3.Env, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runWith(t, s3access.Options{EndpointURL: env.HTTPURL, Credentials: env.A.Credentials()}, args...)
}

// runFromEnvironment runs the command line with what the standard AWS
// variables give, pointed at the local S3 as user A unless the test
// changes them: for the tests of the default chain (which cannot run in
// parallel).
func runFromEnvironment(t *testing.T, env locals3.Env, setup func(t *testing.T), args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("AWS_ENDPOINT_URL_S3", env.HTTPURL)
	t.Setenv("AWS_ACCESS_KEY_ID", env.A.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", env.A.SecretKey)
	if setup != nil {
		setup(t)
	}
	return runCLI(t, args...)
}

func demoEnv(t *testing.T) locals3.Env {
	t.Helper()
	env := locals3.ForTest(t)
	if err := locals3.SeedDemo(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	return env
}

func TestIntegrationCLIDemoReport(t *testing.T) {
	t.Parallel()
	env := demoEnv(t)
	for _, strategy := range []string{"serial", "pool", "all"} {
		t.Run(strategy, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "report.jsonl")
			code, stdout, stderr := runLocal(t, env, "scan", "s3://demo", "--strategy", strategy, "-o", path)
			if code != exitOK || stdout != "" || stderr != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			info, err := os.Stat(path)
			if err != nil || info.Mode().Perm() != 0o600 {
				t.Fatalf("report mode %v, %v; want 0600", info.Mode().Perm(), err)
			}
			recs := testkit.Records(t, path)
			keys := map[string]report.Record{}
			for _, r := range recs {
				keys[r.Key] = r
			}
			if len(recs) != 104 || len(keys) != 104 {
				t.Fatalf("got %d records (%d keys), want 104", len(recs), len(keys))
			}
			for key, want := range locals3.DemoRisky {
				if got := strings.Join(keys[key].Findings, ","); got != strings.Join(want, ",") {
					t.Errorf("%s: findings %q, want %q", key, got, want)
				}
			}
		})
	}
}

func TestIntegrationCLIExitCodes(t *testing.T) {
	env := demoEnv(t)
	cases := []struct {
		name      string
		args      []string
		setup     func(t *testing.T)
		code      int
		stderrHas string
	}{
		{"fail-on a found kind", []string{"scan", "s3://demo", "--fail-on", "public"}, nil, exitFindings, "findings matching --fail-on: public 1"},
		{"fail-on any", []string{"scan", "s3://demo", "--fail-on", "any"}, nil, exitFindings, "unreadable 1"},
		{"fail-on an absent kind", []string{"scan", "s3://demo/experiment/", "--fail-on", "public,cross-account"}, nil, exitOK, ""},
		{"missing bucket", []string{"scan", "s3://no-such-bucket-here"}, nil, exitIncomplete, "the bucket does not exist"},
		{"wrong secret", []string{"scan", "s3://demo"}, func(t *testing.T) {
			t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-at-all")
		}, exitIncomplete, "signature does not match"},
		{"unknown access key", []string{"scan", "s3://demo"}, func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", "NOSUCHKEY000000000")
		}, exitIncomplete, "access key ID is not known"},
		{"nothing listening", []string{"scan", "s3://demo", "--endpoint-url", "http://127.0.0.1:1", "--max-attempts", "1", "--outage-wait", "0"}, nil, exitIncomplete, "connection refused"},
		// The SDK's own warnings (IMDS fallback) must not add lines.
		{"no credentials at all", []string{"scan", "s3://demo"}, func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", "")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "")
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
		}, exitIncomplete, "no AWS credentials found"},
		{"https without the CA", []string{"scan", "s3://demo", "--endpoint-url", env.HTTPSURL, "--max-attempts", "1"}, nil, exitIncomplete, "unknown CA"},
		{"https with --ca-bundle", []string{"scan", "s3://demo/shared/", "--endpoint-url", env.HTTPSURL, "--ca-bundle", env.CABundle}, nil, exitOK, ""},
		{"https with AWS_CA_BUNDLE", []string{"scan", "s3://demo/shared/", "--endpoint-url", env.HTTPSURL}, func(t *testing.T) {
			t.Setenv("AWS_CA_BUNDLE", env.CABundle)
		}, exitOK, ""},
		// Only an explicit flag skips the check, and it says so.
		{"https with --insecure-skip-verify", []string{"scan", "s3://demo/shared/", "--endpoint-url", env.HTTPSURL, "--insecure-skip-verify"}, nil, exitOK, "warning: --insecure-skip-verify"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runFromEnvironment(t, env, tc.setup, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.code, stderr)
			}
			if tc.stderrHas == "" && stderr != "" || !strings.Contains(stderr, tc.stderrHas) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tc.stderrHas)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("error is more than one line: %q", stderr)
			}
			for _, secret := range []string{env.A.SecretKey, "not-the-secret-at-all"} {
				if strings.Contains(stderr, secret) {
					t.Errorf("stderr shows a secret: %q", stderr)
				}
			}
		})
	}
}

// With GetBucketAcl denied, --fail-on cannot promise anything about
// owner-dependent kinds: exit 1 unless the owner is given.
func TestIntegrationCLIUnknownOwner(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	bucket := locals3.NewBucket(t, env, "cli-owner")
	if err := locals3.PutObjects(ctx, a, bucket, []string{"x"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := grantBucketRead(ctx, env, bucket); err != nil {
		t.Fatal(err)
	}
	asB := s3access.Options{EndpointURL: env.HTTPURL, Credentials: env.B.Credentials()}
	code, _, stderr := runWith(t, asB, "scan", "s3://"+bucket, "--fail-on", "cross-account")
	if code != exitIncomplete || !strings.Contains(stderr, "--bucket-owner") {
		t.Errorf("exit %d, stderr %q; want 1 asking for --bucket-owner", code, stderr)
	}
	// B cannot read A's object ACL: unreadable. With the owner given,
	// cross-account is still not judged (no ACL was read), so the gate
	// cannot pass: exit 1, not a reassuring 0.
	code, stdout, stderr := runWith(t, asB, "scan", "s3://"+bucket, "--fail-on", "cross-account", "--bucket-owner", env.A.ID, "--format", "csv")
	if code != exitIncomplete || !strings.Contains(stdout, ",denied,,,unreadable") || !strings.Contains(stderr, "could not be judged") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// The kinds that need no ACL are judged: the gate on them passes.
	code, _, stderr = runWith(t, asB, "scan", "s3://"+bucket, "--fail-on", "foreign-owner", "--bucket-owner", env.A.ID)
	if code != exitOK {
		t.Errorf("--fail-on foreign-owner: exit %d, stderr %q", code, stderr)
	}
}

func grantBucketRead(ctx context.Context, env locals3.Env, bucket string) error {
	return locals3.GrantBucketAccess(ctx, env.Client(env.A), bucket, env.A, env.B, "READ")
}

func TestIntegrationCLITableOutput(t *testing.T) {
	t.Parallel()
	env := demoEnv(t)
	code, stdout, _ := runLocal(t, env, "scan", "s3://demo", "--format", "table")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Risky objects (4 of 4)", "uploads/from-userb.txt", "Scanned s3://demo/", "104 objects", "ok 103  denied 1", "bucket owner: usera"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
}

// Ctrl-C in the middle of a scan: exit 1, every record written so far is
// whole, and the message counts them.
// interruptBucket holds 3,000 objects, seeded once per server.
func interruptBucket(t *testing.T) string {
	env := locals3.ForTest(t)
	ctx := context.Background()
	bucket := "it-interrupt-3000"
	a := env.Client(env.A)
	if err := locals3.CreateBucket(ctx, a, bucket); err != nil {
		t.Fatal(err)
	}
	if n, _ := locals3.CountObjects(ctx, a, bucket); n != 3000 {
		if err := locals3.PutObjects(ctx, a, bucket, locals3.Keys("k/", 3000), nil); err != nil {
			t.Fatal(err)
		}
	}
	return bucket
}

// buildCLI builds the command, once per test binary: signals need a
// real process.
func buildCLI(t *testing.T) string {
	t.Helper()
	built.Do(func() { built.bin, _, built.err = testkit.BuildCLI(false) })
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

var built struct {
	sync.Once
	bin string
	err error
}

// localCommand is the built CLI, given the local S3 (as user A) by its
// environment.
func localCommand(t *testing.T, bin string, args ...string) *exec.Cmd {
	env := locals3.ForTest(t)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_S3="+env.HTTPURL,
		"AWS_ACCESS_KEY_ID="+env.A.AccessKey, "AWS_SECRET_ACCESS_KEY="+env.A.SecretKey)
	return cmd
}

// startAndSignal runs the CLI, sends sig after a while, and returns its
// exit code and stderr.
func startAndSignal(t *testing.T, bin string, sig os.Signal, after time.Duration, args ...string) (int, string) {
	t.Helper()
	return startAndSignalWhen(t, bin, sig, func() bool { time.Sleep(after); return true }, args...)
}

// startAndSignalWhen signals the command once ready says so (it is
// polled until then): a machine under load may take longer than a fixed
// delay to reach the point to interrupt.
func startAndSignalWhen(t *testing.T, bin string, sig os.Signal, ready func() bool, args ...string) (int, string) {
	t.Helper()
	cmd := localCommand(t, bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); !ready() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Signal(sig)
	err := cmd.Wait()
	var exitErr *exec.ExitError
	if err == nil {
		t.Fatalf("the scan finished before the signal (stderr %q): make it slower", stderr.String())
	}
	if !errors.As(err, &exitErr) {
		t.Fatal(err)
	}
	return exitErr.ExitCode(), stderr.String()
}

func TestIntegrationCLIInterruptKeepsWrittenRecords(t *testing.T) {
	bucket := interruptBucket(t)
	bin := buildCLI(t)
	report := filepath.Join(t.TempDir(), "r.jsonl")
	code, stderr := startAndSignal(t, bin, os.Interrupt, 700*time.Millisecond, "scan", "s3://"+bucket, "--strategy", "serial", "-o", report)
	if code != exitIncomplete {
		t.Fatalf("exit %d (stderr %q); want %d", code, stderr, exitIncomplete)
	}
	recs := testkit.Records(t, report)
	if len(recs) == 0 || len(recs) >= 3000 {
		t.Fatalf("%d records written; want a partial report", len(recs))
	}
	want := fmt.Sprintf("scan interrupted; %d objects reported", len(recs))
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q lacks %q", stderr, want)
	}
}

// A scan stopped by Ctrl-C, SIGTERM or kill -9 continues from its
// checkpoint: no key fetched twice into the report, none missing, the
// counts of the final summary covering both runs.
func TestIntegrationCLICheckpointResume(t *testing.T) {
	bucket := interruptBucket(t)
	bin := buildCLI(t)
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM, os.Kill} {
		for _, format := range []string{"jsonl", "csv"} {
			t.Run(fmt.Sprintf("%v/%s", sig, format), func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				reportPath := filepath.Join(dir, "report."+format)
				ckpt := filepath.Join(dir, "scan.ckpt")
				summary := filepath.Join(dir, "summary.json")
				args := []string{"scan", "s3://" + bucket, "--concurrency", "2", "--format", format, "-o", reportPath,
					"--checkpoint", ckpt, "--checkpoint-interval", "50ms"}
				code, stderr := startAndSignal(t, bin, sig, 600*time.Millisecond, args...)
				if sig != os.Kill && (code != exitIncomplete || !strings.Contains(stderr, "run the same command again")) {
					t.Fatalf("first run: exit %d, stderr %q", code, stderr)
				}
				if _, err := os.Stat(ckpt); err != nil {
					t.Fatalf("no checkpoint after the interruption: %v", err)
				}
				// The second run completes; its summary goes to a file.
				cmd := localCommand(t, bin, append(args, "--summary-json", summary)...)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("second run: %v\n%s", err, out)
				}
				if !strings.Contains(string(out), "resuming from") {
					t.Errorf("second run did not say it resumed: %q", out)
				}
				if _, err := os.Stat(ckpt); !os.IsNotExist(err) {
					t.Errorf("checkpoint still there after a complete scan: %v", err)
				}
				keys := reportKeys(t, reportPath, format)
				seen := map[string]int{}
				for _, k := range keys {
					seen[k]++
				}
				for _, k := range locals3.Keys("k/", 3000) {
					if seen[k] != 1 {
						t.Fatalf("key %s appears %d times in the report (%d records)", k, seen[k], len(keys))
					}
				}
				if len(keys) != 3000 {
					t.Fatalf("%d records, want 3000", len(keys))
				}
				var sum report.SummaryRecord
				b, err := os.ReadFile(summary)
				if err != nil || json.Unmarshal(b, &sum) != nil {
					t.Fatalf("summary: %v %s", err, b)
				}
				if sum.Objects != 3000 || sum.ByStatus["ok"] != 3000 || !sum.Resumed || !sum.Complete {
					t.Errorf("summary of the resumed scan: %+v", sum)
				}
			})
		}
	}
}

// reportKeys returns the keys of a JSONL or CSV report, in order.
func reportKeys(t *testing.T, path, format string) []string {
	t.Helper()
	var keys []string
	if format == "jsonl" {
		for _, r := range testkit.Records(t, path) {
			keys = append(keys, r.Key)
		}
		return keys
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("CSV report: %v", err)
	}
	if len(rows) == 0 || rows[0][0] != "bucket" {
		t.Fatalf("CSV report lacks its header")
	}
	for _, row := range rows[1:] {
		if row[0] == "bucket" {
			t.Fatal("a second CSV header: the resumed scan wrote it again")
		}
		keys = append(keys, row[1])
	}
	return keys
}

func TestIntegrationCLICheckpointOfAnotherScanIsRefused(t *testing.T) {
	bucket := interruptBucket(t)
	dir := t.TempDir()
	report, ckpt := filepath.Join(dir, "r.jsonl"), filepath.Join(dir, "c.ckpt")
	bin := buildCLI(t)
	startAndSignal(t, bin, os.Interrupt, 400*time.Millisecond, "scan", "s3://"+bucket, "-c", "2", "-o", report, "--checkpoint", ckpt)
	code, _, stderr := runLocal(t, locals3.ForTest(t), "scan", "s3://"+bucket+"/other-prefix", "-o", report, "--checkpoint", ckpt)
	if code != exitUsage || !strings.Contains(stderr, "use another checkpoint file") {
		t.Errorf("exit %d, stderr %q; want a usage error naming the mismatch", code, stderr)
	}
}

// Secrets never appear in anything aclscan writes: failing and succeeding
// scans with known credentials (and a session token), their stderr,
// stdout, report, summary and checkpoint files are searched for them.
func TestIntegrationCLISecretsNeverShown(t *testing.T) {
	t.Parallel()
	env := demoEnv(t)
	const token = "SESSION-TOKEN-SENTINEL-7f3a"
	wrongSecret := "WRONG-SECRET-SENTINEL-91b2"
	secrets := []string{env.A.SecretKey, wrongSecret, token}
	cases := map[string]struct {
		args   []string
		secret string
	}{
		"signature mismatch":  {[]string{"scan", "s3://demo"}, wrongSecret},
		"missing bucket":      {[]string{"scan", "s3://no-such-bucket-here"}, env.A.SecretKey},
		"nothing listening":   {[]string{"scan", "s3://demo", "--endpoint-url", "http://127.0.0.1:1", "--max-attempts", "1", "--outage-wait", "0"}, env.A.SecretKey},
		"right keys, a token": {[]string{"scan", "s3://demo"}, env.A.SecretKey},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			keys := s3access.Options{EndpointURL: env.HTTPURL, Credentials: s3access.StaticCredentials(env.A.AccessKey, tc.secret, token)}
			dir := t.TempDir()
			args := append(tc.args, "-o", filepath.Join(dir, "report.jsonl"), "--summary-json", filepath.Join(dir, "summary.json"),
				"--checkpoint", filepath.Join(dir, "scan.ckpt"))
			_, stdout, stderr := runWith(t, keys, args...)
			outputs := map[string]string{"stdout": stdout, "stderr": stderr}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				b, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				outputs[e.Name()] = string(b)
			}
			for where, text := range outputs {
				for _, secret := range secrets {
					if strings.Contains(text, secret) {
						t.Errorf("%s contains a secret (%q...)", where, secret[:6])
					}
				}
			}
		})
	}
}

// The bucket policy, not the ACLs, makes the website's objects public:
// the table names the statement, --fail-on public fails, and fix's plan
// says the policy keeps them open.
func TestIntegrationCLIPolicyOnlyPublic(t *testing.T) {
	t.Parallel()
	env := demoEnv(t)
	target := "s3://" + locals3.DemoWebsiteBucket
	code, stdout, stderr := runLocal(t, env, "scan", target, "--verify-public", "--format", "table", "--fail-on", "public")
	if code != exitFindings || !strings.Contains(stderr, "findings matching --fail-on: public 2") {
		t.Fatalf("exit %d, stderr %q; want 3 for the two objects the policy opens", code, stderr)
	}
	for _, want := range []string{"policy:PublicWebsite", "public [served to anyone]", "site/index.html", "bucket policy public"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "No risky objects") {
		t.Errorf("the table says no risky objects:\n%s", stdout)
	}
	code, stdout, stderr = runLocal(t, env, "fix", target)
	if code != exitOK || !strings.Contains(stdout+stderr, "2 objects stay public by statement PublicWebsite of the bucket policy after this fix") {
		t.Errorf("fix plan: exit %d\n%s%s", code, stdout, stderr)
	}
}
