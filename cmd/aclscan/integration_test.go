//go:build integration

// Integration tests of the command line against a real S3 (radosgw from
// scripts/local-s3): exit codes, messages, formats, TLS.

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/report"
)

func demoEnv(t *testing.T) locals3.Env {
	t.Helper()
	env := locals3.ForTest(t)
	if err := locals3.SeedDemo(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	return env
}

func readJSONL(t *testing.T, path string) []report.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []report.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r report.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

func TestIntegrationCLIDemoReport(t *testing.T) {
	demoEnv(t)
	for _, strategy := range []string{"serial", "pool", "all"} {
		t.Run(strategy, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "report.jsonl")
			code, stdout, stderr := runCLI(t, "scan", "s3://demo", "--strategy", strategy, "-o", path)
			if code != exitOK || stdout != "" || stderr != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			info, err := os.Stat(path)
			if err != nil || info.Mode().Perm() != 0o600 {
				t.Fatalf("report mode %v, %v; want 0600", info.Mode().Perm(), err)
			}
			recs := readJSONL(t, path)
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
		{"nothing listening", []string{"scan", "s3://demo", "--endpoint-url", "http://127.0.0.1:1", "--max-attempts", "1"}, nil, exitIncomplete, "connection refused"},
		{"https without the CA", []string{"scan", "s3://demo", "--endpoint-url", env.HTTPSURL, "--max-attempts", "1"}, nil, exitIncomplete, "unknown CA"},
		{"https with --ca-bundle", []string{"scan", "s3://demo/shared/", "--endpoint-url", env.HTTPSURL, "--ca-bundle", env.CABundle}, nil, exitOK, ""},
		{"https with AWS_CA_BUNDLE", []string{"scan", "s3://demo/shared/", "--endpoint-url", env.HTTPSURL}, func(t *testing.T) {
			t.Setenv("AWS_CA_BUNDLE", env.CABundle)
		}, exitOK, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			locals3.ForTest(t)
			if tc.setup != nil {
				tc.setup(t)
			}
			code, _, stderr := runCLI(t, tc.args...)
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
	locals3.UseUser(t, env, env.B)
	code, _, stderr := runCLI(t, "scan", "s3://"+bucket, "--fail-on", "cross-account")
	if code != exitIncomplete || !strings.Contains(stderr, "--bucket-owner") {
		t.Errorf("exit %d, stderr %q; want 1 asking for --bucket-owner", code, stderr)
	}
	// B cannot read A's object ACL: unreadable, and A's object is foreign to
	// the owner B claims (a wrong owner gives that away).
	code, stdout, stderr := runCLI(t, "scan", "s3://"+bucket, "--fail-on", "cross-account", "--bucket-owner", env.A.ID, "--format", "csv")
	if code != exitOK || !strings.Contains(stdout, ",denied,,,unreadable") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func grantBucketRead(ctx context.Context, env locals3.Env, bucket string) error {
	return locals3.GrantBucketAccess(ctx, env.Client(env.A), bucket, env.A, env.B, "READ")
}

func TestIntegrationCLITableOutput(t *testing.T) {
	demoEnv(t)
	code, stdout, _ := runCLI(t, "scan", "s3://demo", "--format", "table")
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
func TestIntegrationCLIInterruptKeepsWrittenRecords(t *testing.T) {
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
	bin := filepath.Join(t.TempDir(), "aclscan")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	report := filepath.Join(t.TempDir(), "r.jsonl")
	cmd := exec.Command(bin, "scan", "s3://"+bucket, "--strategy", "serial", "-o", report)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	_ = cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != exitIncomplete {
		t.Fatalf("wait: %v (stderr %q); want exit %d", err, stderr.String(), exitIncomplete)
	}
	recs := readJSONL(t, report)
	if len(recs) == 0 || len(recs) >= 3000 {
		t.Fatalf("%d records written; want a partial report", len(recs))
	}
	want := fmt.Sprintf("scan interrupted; %d objects reported", len(recs))
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q lacks %q", stderr.String(), want)
	}
}
