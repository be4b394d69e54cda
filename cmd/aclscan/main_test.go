package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// Usage errors need no server: they are caught before any request.
func TestUsageErrors(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
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
		{[]string{"scan", "s3://bucket", "--concurrency", "0"}, "--concurrency must be at least 1"},
		{[]string{"scan", "s3://bucket", "--fail-on", "public,secret"}, `unknown finding kind "secret"`},
		{[]string{"scan", "s3://bucket", "--nope"}, "unknown flag: --nope"},
		{[]string{"scan", "s3://bucket", "--endpoint-url", "localhost:7480"}, "is not a URL"},
		{[]string{"scan", "s3://bucket", "--ca-bundle", "/does/not/exist.pem"}, "cannot read --ca-bundle"},
		{[]string{"scan", "s3://bucket", "-o", "/does/not/exist/report.jsonl"}, "cannot write the report"},
		{[]string{"frobnicate"}, "unknown command"},
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
	set, err := parseFailOn("public, unreadable")
	if err != nil || len(set.Kinds()) != 2 {
		t.Fatalf("parseFailOn = %v, %v", set.Names(), err)
	}
	all, err := parseFailOn("any")
	if err != nil || len(all.Kinds()) != 5 {
		t.Fatalf("any = %v, %v", all.Names(), err)
	}
}

func TestUnwritableOutputDirIsCaughtBeforeScanning(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCLI(t, "scan", "s3://bucket", "-o", filepath.Join(dir, "missing", "r.jsonl"), "--endpoint-url", "http://127.0.0.1:1")
	if code != exitUsage || !strings.Contains(stderr, "no such file or directory") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
