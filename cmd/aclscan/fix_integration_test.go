//go:build integration

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/fix"
	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// anonymousGET is what anyone on the internet gets for an object.
func anonymousGET(t *testing.T, env locals3.Env, bucket, key string) int {
	t.Helper()
	resp, err := http.Get(env.HTTPURL + "/" + bucket + "/" + key)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func objectACL(t *testing.T, env locals3.Env, bucket, key string) []acl.Grant {
	t.Helper()
	out, err := env.Client(env.A).GetObjectAcl(context.Background(), &s3.GetObjectAclInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	return s3access.ConvertGrants(out.Grants)
}

// journalRecords counts the undo log's records by op and object.
func journalRecords(t *testing.T, path string) map[string]map[string]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]int{"before": {}, "done": {}}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec fix.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("undo log line %q: %v", sc.Text(), err)
		}
		out[rec.Op][rec.Key+"@"+rec.VersionID]++
	}
	return out
}

// Plan, apply, verify, undo on radosgw: the offending grants go, the
// others stay; anyone is served before, refused after, served after undo.
func TestIntegrationFixApplyUndo(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	bucket := locals3.NewBucket(t, env, "fix")
	put := func(key string, edit func(*s3.PutObjectInput)) {
		if err := locals3.PutObjects(ctx, a, bucket, []string{key}, edit); err != nil {
			t.Fatal(err)
		}
	}
	put("open", func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLPublicRead })
	put("any-aws", func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLAuthenticatedRead })
	// Public and shared with B: only the public grant goes (B's stays).
	put("open-and-shared", func(in *s3.PutObjectInput) {
		in.GrantFullControl = aws("id=" + env.A.ID)
		in.GrantRead = aws("uri=" + acl.AllUsersURI + ", id=" + env.B.ID)
	})
	put("private", nil)
	if code := anonymousGET(t, env, bucket, "open"); code != 200 {
		t.Fatalf("anonymous GET before the fix: %d, want 200", code)
	}
	dir := t.TempDir()
	plan, undo := filepath.Join(dir, "plan.jsonl"), filepath.Join(dir, "undo.jsonl")
	code, stdout, stderr := runLocal(t, env, "fix", "s3://"+bucket, "--plan", plan)
	if code != exitOK || !strings.Contains(stdout, "3 ACLs (public 2, authenticated 1)") || !strings.Contains(stdout, "Nothing changed") {
		t.Fatalf("plan: exit %d\n%s%s", code, stdout, stderr)
	}
	if code := anonymousGET(t, env, bucket, "open"); code != 200 {
		t.Fatalf("the plan changed something: anonymous GET %d", code)
	}
	code, stdout, stderr = runLocal(t, env, "fix", "s3://"+bucket, "--apply", "--undo-log", undo, "--verify-public")
	if code != exitOK || !strings.Contains(stdout, "Applied: 3 changed, 0 skipped, 0 failed; 0 of 2 fixed public objects still served") {
		t.Fatalf("apply: exit %d\n%s%s", code, stdout, stderr)
	}
	if code := anonymousGET(t, env, bucket, "open"); code != 403 {
		t.Errorf("anonymous GET after the fix: %d, want 403", code)
	}
	shared := objectACL(t, env, bucket, "open-and-shared")
	if !fix.SameACL("", shared, "", []acl.Grant{{Type: "CanonicalUser", ID: env.A.ID, Permission: "FULL_CONTROL"}, {Type: "CanonicalUser", ID: env.B.ID, Permission: "READ"}}) {
		t.Errorf("open-and-shared after the fix: %+v; want A's and B's grants kept", shared)
	}
	code, stdout, stderr = runLocal(t, env, "undo", undo)
	if code != exitOK || !strings.Contains(stdout, "Undo: 3 restored") {
		t.Fatalf("undo: exit %d\n%s%s", code, stdout, stderr)
	}
	if code := anonymousGET(t, env, bucket, "open"); code != 200 {
		t.Errorf("anonymous GET after undo: %d, want 200", code)
	}
	if got := objectACL(t, env, bucket, "open-and-shared"); len(got) != 3 {
		t.Errorf("open-and-shared after undo: %+v; want its 3 grants back", got)
	}
}

// From a report taken before a change: the object changed since is
// skipped; the object user B owns (the report shows its real ACL) cannot
// be read by A: one line for it, the run goes on.
func TestIntegrationFixFromReportSkipsAndFails(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a, b := env.Client(env.A), env.Client(env.B)
	bucket := locals3.NewBucket(t, env, "fixrep")
	publicRead := func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLPublicRead }
	if err := locals3.PutObjects(ctx, a, bucket, []string{"stays-open", "closed-meanwhile"}, publicRead); err != nil {
		t.Fatal(err)
	}
	if err := locals3.GrantBucketWrite(ctx, a, bucket, env.A, env.B); err != nil {
		t.Fatal(err)
	}
	if err := locals3.PutObjects(ctx, b, bucket, []string{"bs-object"}, publicRead); err != nil {
		t.Fatal(err)
	}
	manifest, _ := writeReport(t, env, bucket, "CSV", "fixrep", false, time.Now().UTC())
	dir := t.TempDir()
	reportPath := filepath.Join(dir, "inv.jsonl")
	if code, _, stderr := runLocal(t, env, "inventory", manifest, "-o", reportPath); code != exitOK {
		t.Fatalf("inventory: %d %s", code, stderr)
	}
	if _, err := a.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: &bucket, Key: aws("closed-meanwhile"), ACL: types.ObjectCannedACLAuthenticatedRead}); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runLocal(t, env, "fix", "--from-report", reportPath, "--apply", "--undo-log", filepath.Join(dir, "undo.jsonl"))
	if code != exitIncomplete || !strings.Contains(stdout, "Applied: 1 changed, 1 skipped, 1 failed") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "closed-meanwhile: skipped: its ACL changed since the plan") ||
		!strings.Contains(stderr, "bs-object: failed: cannot read its ACL: AccessDenied") {
		t.Errorf("per-object lines: %s", stderr)
	}
	if code := anonymousGET(t, env, bucket, "stays-open"); code != 403 {
		t.Errorf("the fixable object: anonymous GET %d after the fix", code)
	}
	if got := objectACL(t, env, bucket, "closed-meanwhile"); len(got) != 2 || got[0].URI+got[1].URI == "" {
		t.Errorf("the object changed since the report was touched: %+v", got)
	}
}

// Versions: each version's ACL is fixed and restored by its version ID.
func TestIntegrationFixVersions(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	bucket := locals3.NewBucket(t, env, "fixver")
	if err := locals3.EnableVersioning(ctx, a, bucket); err != nil {
		t.Fatal(err)
	}
	publicRead := func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLPublicRead }
	for range 2 {
		if err := locals3.PutObjects(ctx, a, bucket, []string{"doc"}, publicRead); err != nil {
			t.Fatal(err)
		}
	}
	undo := filepath.Join(t.TempDir(), "undo.jsonl")
	code, stdout, stderr := runLocal(t, env, "fix", "s3://"+bucket, "--all-versions", "--apply", "--undo-log", undo)
	if code != exitOK || !strings.Contains(stdout, "Applied: 2 changed") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	recs := journalRecords(t, undo)
	if len(recs["before"]) != 2 || len(recs["done"]) != 2 {
		t.Errorf("undo log: %v; want each of the 2 versions once", recs)
	}
	code, stdout, _ = runLocal(t, env, "undo", undo)
	if code != exitOK || !strings.Contains(stdout, "2 restored") {
		t.Errorf("undo: %d %s", code, stdout)
	}
}

// kill -9 in the middle of --apply, then the same command: every object
// fixed, each logged and accounted for once; undo restores all.
func TestIntegrationFixKilledAndResumed(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	bucket := locals3.NewBucket(t, env, "fixkill")
	keys := locals3.Keys("k/", 600)
	publicRead := func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLPublicRead }
	if err := locals3.PutObjects(ctx, a, bucket, keys, publicRead); err != nil {
		t.Fatal(err)
	}
	bin := buildCLI(t)
	undo := filepath.Join(t.TempDir(), "undo.jsonl")
	args := []string{"fix", "s3://" + bucket, "--apply", "--undo-log", undo, "--max-puts-per-second", "400", "--workers", "4"}
	// Killed once some ACLs are logged (and so changed, or about to be).
	startAndSignalWhen(t, bin, os.Kill, func() bool {
		b, _ := os.ReadFile(undo)
		return strings.Count(string(b), `"op":"before"`) >= 40
	}, args...)
	first := journalRecords(t, undo)
	if n := len(first["before"]); n == 0 || n >= len(keys) {
		t.Fatalf("the first run logged %d ACLs before dying; want some of %d", n, len(keys))
	}
	out, err := localCommand(t, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("the second run: %v\n%s", err, out)
	}
	recs := journalRecords(t, undo)
	for _, k := range keys {
		if recs["before"][k+"@"] != 1 || recs["done"][k+"@"] != 1 {
			t.Fatalf("%s: %d before and %d done records; want one each", k, recs["before"][k+"@"], recs["done"][k+"@"])
		}
	}
	for _, k := range []string{keys[0], keys[299], keys[599]} {
		if code := anonymousGET(t, env, bucket, k); code != 403 {
			t.Errorf("%s after the fix: anonymous GET %d", k, code)
		}
	}
	out, err = localCommand(t, bin, "undo", undo).CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("Undo: %d restored", len(keys))) {
		t.Fatalf("undo: %v\n%s", err, out)
	}
	for _, k := range []string{keys[0], keys[599]} {
		if code := anonymousGET(t, env, bucket, k); code != 200 {
			t.Errorf("%s after undo: anonymous GET %d", k, code)
		}
	}
}
