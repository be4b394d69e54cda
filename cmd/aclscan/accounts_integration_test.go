//go:build integration

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/internal/testkit"
	"github.com/aclscan/aclscan/report"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// stsEnv is the local S3 seen through its STS gateway, where roles are
// assumed and their sessions accepted.
func stsEnv(t *testing.T) locals3.Env {
	t.Helper()
	env := locals3.ForTest(t)
	if env.STSURL == "" {
		t.Fatal("LOCAL_S3_STS_URL is not set: restart the local S3 (scripts/local-s3 stop && scripts/local-s3 start)")
	}
	env.HTTPURL = env.STSURL
	return env
}

// accountsFixture makes two radosgw tenants standing in for two other
// accounts, each with a bucket of n objects (every tenth public), and
// the role aclscan enters them through.
func accountsFixture(t *testing.T, env locals3.Env, n int) (tenants []locals3.Tenant, buckets []string) {
	t.Helper()
	ctx := context.Background()
	for i := range 2 {
		tn, err := locals3.NewTenant(ctx, env, fmt.Sprintf("acct%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		owner := env.Client(tn.Owner)
		bucket := "b-" + tn.Name
		if err := locals3.CreateBucket(ctx, owner, bucket); err != nil {
			t.Fatal(err)
		}
		keys := locals3.Keys("k/", n)
		// Called from several goroutines: decided by the key alone.
		if err := locals3.PutObjects(ctx, owner, bucket, keys, func(in *s3.PutObjectInput) {
			if strings.HasSuffix(*in.Key, "7") {
				locals3.PublicRead(in)
			}
		}); err != nil {
			t.Fatal(err)
		}
		tenants, buckets = append(tenants, tn), append(buckets, bucket)
	}
	return tenants, buckets
}

// Two other "accounts" (radosgw tenants) scanned through their roles in
// one run and one report, and a third whose role cannot be assumed: it
// fails in seconds, named, and the others complete; the exit code says
// an account was not scanned. radosgw's ListBuckets through an assumed
// role lists the assuming user's buckets, not the tenant's (AWS lists the
// account's): the accounts file names each account's buckets, and an
// account without them is reported denied, not clean.
func TestIntegrationAccountsThroughRoles(t *testing.T) {
	t.Parallel()
	env := stsEnv(t)
	tenants, buckets := accountsFixture(t, env, 40)
	dir := t.TempDir()
	file := filepath.Join(dir, "accounts.yml")
	yml := fmt.Sprintf(`accounts:
- account_id: %[1]s
  name: first
  role: %[2]s
  buckets: [%[3]s]
- name: second
  role: %[4]s
  buckets: [%[5]s]
- name: gone
  role: arn:aws:iam::nosuchtenant:role/aclscan
- name: listed-only
  role: %[2]s
`, tenants[0].Name, tenants[0].RoleARN, buckets[0], tenants[1].RoleARN, buckets[1])
	// listed-only repeats the first account: refused as listed twice.
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runLocal(t, env, "scan", "--all-buckets", "--accounts", file, "-o", filepath.Join(dir, "x.jsonl"))
	if code != exitUsage || !strings.Contains(stderr, "is listed twice") {
		t.Fatalf("an account listed twice: exit %d, %s", code, stderr)
	}
	yml = strings.Replace(yml, "- name: listed-only\n  role: "+tenants[0].RoleARN+"\n", "", 1)
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	out, summary := filepath.Join(dir, "accounts.jsonl"), filepath.Join(dir, "summary.json")
	start := time.Now()
	code, _, stderr = runLocal(t, env, "scan", "--all-buckets", "--accounts", file, "-o", out, "--summary-json", summary)
	took := time.Since(start)
	if code != exitIncomplete || !strings.Contains(stderr, "1 of 3 accounts were not scanned whole") ||
		!strings.Contains(stderr, "cannot assume arn:aws:iam::nosuchtenant:role/aclscan in account nosuchtenant") {
		t.Fatalf("exit %d after %s:\n%s", code, took, stderr)
	}
	perAccount := map[string]int{}
	public := map[string]int{}
	names := map[string]string{tenants[0].Name: "first", tenants[1].Name: "second"}
	for _, r := range testkit.Records(t, out) {
		if r.AccountID == nil {
			t.Fatalf("record %s/%s names no account", r.Bucket, r.Key)
		}
		if r.AccountName == nil || *r.AccountName != names[*r.AccountID] {
			t.Fatalf("record %s/%s: account name %v, want the file's %q", r.Bucket, r.Key, r.AccountName, names[*r.AccountID])
		}
		perAccount[*r.AccountID]++
		if strings.Join(r.Effective, ",") == "public" {
			public[*r.AccountID]++
		}
	}
	for i, tn := range tenants {
		if perAccount[tn.Name] != 40 || public[tn.Name] != 4 {
			t.Errorf("account %s (bucket %s): %d records, %d public; want 40 and 4", tn.Name, buckets[i], perAccount[tn.Name], public[tn.Name])
		}
	}
	var sum report.SummaryRecord
	b, err := os.ReadFile(summary)
	if err != nil || json.Unmarshal(b, &sum) != nil {
		t.Fatalf("summary: %v", err)
	}
	states := map[string]string{}
	for _, a := range sum.Accounts {
		states[a.Name] = a.State
		if a.State == "scanned" && (a.Objects != 40 || a.ByEffective["public"] != 4 || a.AssumeRoleCalls != 1) {
			t.Errorf("account row %+v", a)
		}
	}
	if states["first"] != "scanned" || states["second"] != "scanned" || states["gone"] != "denied" || len(sum.Accounts) != 3 {
		t.Errorf("account rows: %+v", sum.Accounts)
	}

	// Without the buckets named: radosgw's ListBuckets through a role
	// lists the buckets of the user who assumed it (user A's), which the
	// role's tenant cannot reach (HeadBucket: 404). Each account is then
	// reported denied, its ListBuckets named: never clean.
	code, _, stderr = runLocal(t, env, "scan", "--all-buckets", "--role-arn", tenants[0].RoleARN, "--role-arn", tenants[1].RoleARN,
		"--format", "table", "-o", filepath.Join(dir, "table.txt"))
	table, _ := os.ReadFile(filepath.Join(dir, "table.txt"))
	if code != exitIncomplete || strings.Count(string(table), "denied: list the buckets of account") != 2 || !strings.Contains(string(table), "Accounts: 2 listed: 0 scanned, 0 partial, 2 denied") {
		t.Errorf("roles without buckets named: exit %d\n%s\n%s", code, stderr, table)
	}

	// One role and one bucket: a plain scan through the session.
	code, stdout, stderr := runLocal(t, env, "scan", "s3://"+buckets[1], "--role-arn", tenants[1].RoleARN, "--format", "jsonl")
	if code != exitOK || strings.Count(stdout, `"account_id":"`+tenants[1].Name+`"`) != 40 {
		t.Errorf("one role, one bucket: exit %d %s\n%.300s", code, stderr, stdout)
	}
}

// A run over accounts killed (-9) half way resumes from its checkpoint:
// no object reported twice, none missing; resuming over other accounts
// is refused.
func TestIntegrationAccountsCheckpointResume(t *testing.T) {
	t.Parallel()
	env := stsEnv(t)
	tenants, buckets := accountsFixture(t, env, 1200)
	dir := t.TempDir()
	file := filepath.Join(dir, "accounts.yml")
	// radosgw's ListBuckets through a role does not list the tenant's
	// buckets: the YAML form names them.
	yml := fmt.Sprintf("accounts:\n- role: %s\n  buckets: [%s]\n- role: %s\n  buckets: [%s]\n", tenants[0].RoleARN, buckets[0], tenants[1].RoleARN, buckets[1])
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildCLI(t)
	reportPath, ckpt := filepath.Join(dir, "r.jsonl"), filepath.Join(dir, "run.ckpt")
	// Through the STS gateway (the roles' sessions are accepted there).
	args := []string{"scan", "--all-buckets", "--accounts", file, "--account-concurrency", "1", "--concurrency", "2",
		"-o", reportPath, "--checkpoint", ckpt, "--checkpoint-interval", "50ms", "--endpoint-url", env.HTTPURL}
	startAndSignalWhen(t, bin, os.Kill, func() bool {
		_, err := os.Stat(ckpt)
		info, rerr := os.Stat(reportPath)
		return err == nil && rerr == nil && info.Size() > 100_000
	}, args...)
	if _, err := os.Stat(ckpt); err != nil {
		t.Fatalf("no checkpoint after kill -9: %v", err)
	}
	other := filepath.Join(dir, "other.yml")
	if err := os.WriteFile(other, []byte(fmt.Sprintf("accounts:\n- role: %s\n  buckets: [%s]\n", tenants[0].RoleARN, buckets[0])), 0o600); err != nil {
		t.Fatal(err)
	}
	otherArgs := append([]string{}, args...)
	otherArgs[3] = other
	if out, err := localCommand(t, bin, otherArgs...).CombinedOutput(); err == nil || !strings.Contains(string(out), "not of these 1 accounts") {
		t.Fatalf("resumed over other accounts: %v\n%s", err, out)
	}
	out, err := localCommand(t, bin, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "resuming from") {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	seen := map[string]int{}
	for _, r := range testkit.Records(t, reportPath) {
		seen[*r.AccountID+"/"+r.Bucket+"/"+r.Key]++
	}
	for i, tn := range tenants {
		for _, k := range locals3.Keys("k/", 1200) {
			if id := tn.Name + "/" + buckets[i] + "/" + k; seen[id] != 1 {
				t.Fatalf("%s reported %d times", id, seen[id])
			}
		}
	}
}
