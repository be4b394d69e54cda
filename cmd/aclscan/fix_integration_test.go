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

	"github.com/aws/aws-sdk-go-v2/aws"

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
	put("open", locals3.PublicRead)
	put("any-aws", func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLAuthenticatedRead })
	// Public and shared with B: only the public grant goes (B's stays).
	put("open-and-shared", func(in *s3.PutObjectInput) {
		in.GrantFullControl = aws.String("id=" + env.A.ID)
		in.GrantRead = aws.String("uri=" + acl.AllUsersURI + ", id=" + env.B.ID)
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
	// Undo plans first: nothing restored, the re-opened access said.
	code, stdout, stderr = runLocal(t, env, "undo", undo, "s3://"+bucket)
	if code != exitOK || !strings.Contains(stdout, "3 ACLs would be restored") || !strings.Contains(stderr, "WARNING: undo would re-open access the fix had closed, on 3 ACLs (public 2, authenticated 1)") {
		t.Fatalf("undo plan: exit %d\n%s%s", code, stdout, stderr)
	}
	if code := anonymousGET(t, env, bucket, "open"); code != 403 {
		t.Fatalf("undo's plan changed something: anonymous GET %d", code)
	}
	code, stdout, stderr = runLocal(t, env, "undo", undo, "s3://"+bucket, "--apply")
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
	if err := locals3.PutObjects(ctx, a, bucket, []string{"stays-open", "closed-meanwhile"}, locals3.PublicRead); err != nil {
		t.Fatal(err)
	}
	if err := locals3.GrantBucketWrite(ctx, a, bucket, env.A, env.B); err != nil {
		t.Fatal(err)
	}
	if err := locals3.PutObjects(ctx, b, bucket, []string{"bs-object"}, locals3.PublicRead); err != nil {
		t.Fatal(err)
	}
	manifest, _ := writeReport(t, env, bucket, "CSV", "fixrep", false, time.Now().UTC())
	dir := t.TempDir()
	reportPath := filepath.Join(dir, "inv.jsonl")
	if code, _, stderr := runLocal(t, env, "inventory", manifest, "-o", reportPath); code != exitOK {
		t.Fatalf("inventory: %d %s", code, stderr)
	}
	if _, err := a.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: &bucket, Key: aws.String("closed-meanwhile"), ACL: types.ObjectCannedACLAuthenticatedRead}); err != nil {
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
	bucket := locals3.NewVersionedBucket(t, env, "fixver")
	for range 2 {
		if err := locals3.PutObjects(ctx, a, bucket, []string{"doc"}, locals3.PublicRead); err != nil {
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
	code, stdout, _ = runLocal(t, env, "undo", undo, "--all-buckets-in-log", "--apply")
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
	if err := locals3.PutObjects(ctx, a, bucket, keys, locals3.PublicRead); err != nil {
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
	out, err = localCommand(t, bin, "undo", undo, "s3://"+bucket, "--apply").CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("Undo: %d restored", len(keys))) {
		t.Fatalf("undo: %v\n%s", err, out)
	}
	for _, k := range []string{keys[0], keys[599]} {
		if code := anonymousGET(t, env, bucket, k); code != 200 {
			t.Errorf("%s after undo: anonymous GET %d", k, code)
		}
	}
}

// Issue 24's attack, and its neighbours, against radosgw: a forged
// pending line for another bucket, or one that grants more than the ACL it
// saved, is refused before anything changes; undo names its buckets.
func TestIntegrationFixRefusesForgedLogs(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	victim, other := locals3.NewBucket(t, env, "victim"), locals3.NewBucket(t, env, "other")
	if err := locals3.PutObjects(ctx, a, victim, []string{"secret.txt"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := locals3.PutObjects(ctx, a, other, []string{"in/target.txt"}, nil); err != nil {
		t.Fatal(err)
	}
	ownerFC := `{"type":"CanonicalUser","id":"` + env.A.ID + `","permission":"FULL_CONTROL"}`
	publicFC := `{"type":"Group","uri":"http://acs.amazonaws.com/groups/global/AllUsers","permission":"FULL_CONTROL"}`
	forge := func(bucket, key string) string {
		path := filepath.Join(t.TempDir(), "undo.jsonl")
		line := `{"op":"before","bucket":"` + bucket + `","key":"` + key + `","owner_id":"` + env.A.ID + `","grants":[` + ownerFC + `],"after":[` + publicFC + `,` + ownerFC + `]}` + "\n"
		if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// The reproduction: a line for another bucket.
	log := forge(victim, "secret.txt")
	code, stdout, stderr := runLocal(t, env, "fix", "s3://"+other, "--apply", "--undo-log", log)
	if code != exitUsage || !strings.Contains(stderr, "line 1: a pending change of s3://"+victim+"/secret.txt is outside this run's targets") {
		t.Errorf("a line for another bucket: exit %d\n%s%s", code, stdout, stderr)
	}
	// A line inside the target that would grant more than it saved.
	log = forge(other, "in/target.txt")
	code, stdout, stderr = runLocal(t, env, "fix", "s3://"+other, "--apply", "--undo-log", log)
	if code != exitUsage || !strings.Contains(stderr, "line 1: its change of s3://"+other+"/in/target.txt is refused: it would write AllUsers:FULL_CONTROL") {
		t.Errorf("a line granting more: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, o := range [][2]string{{victim, "secret.txt"}, {other, "in/target.txt"}} {
		if code := anonymousGET(t, env, o[0], o[1]); code != 403 {
			t.Errorf("s3://%s/%s after the forged logs: anonymous GET %d, want 403", o[0], o[1], code)
		}
		if got := objectACL(t, env, o[0], o[1]); len(got) != 1 {
			t.Errorf("s3://%s/%s: ACL %+v, want the owner's alone", o[0], o[1], got)
		}
	}
	// Undo acts only on the buckets it is told.
	code, _, stderr = runLocal(t, env, "undo", log)
	if code != exitUsage || !strings.Contains(stderr, "name the buckets to restore") {
		t.Errorf("undo without buckets: exit %d %s", code, stderr)
	}
	code, _, stderr = runLocal(t, env, "undo", log, "s3://"+victim, "--apply")
	if code != exitUsage || !strings.Contains(stderr, "line 1 restores s3://"+other+"/in/target.txt, in a bucket not named on the command line") {
		t.Errorf("undo of a bucket not named: exit %d %s", code, stderr)
	}
}

// An object fixed, then made public again, and fixed again with the same
// command and log: fixed again, not reported as done.
func TestIntegrationFixAgainAfterReExposure(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	bucket := locals3.NewBucket(t, env, "reexposed")
	if err := locals3.PutObjects(ctx, a, bucket, []string{"doc"}, locals3.PublicRead); err != nil {
		t.Fatal(err)
	}
	undo := filepath.Join(t.TempDir(), "undo.jsonl")
	for run := 1; run <= 2; run++ {
		code, stdout, stderr := runLocal(t, env, "fix", "s3://"+bucket, "--apply", "--undo-log", undo, "--verify-public")
		if code != exitOK || !strings.Contains(stdout, "Applied: 1 changed, 0 skipped, 0 failed; 0 of 1 fixed public objects still served") ||
			strings.Contains(stdout, "by an earlier run") {
			t.Fatalf("run %d: exit %d\n%s%s", run, code, stdout, stderr)
		}
		if code := anonymousGET(t, env, bucket, "doc"); code != 403 {
			t.Errorf("run %d: anonymous GET %d after the fix", run, code)
		}
		// Someone opens it again.
		if _, err := a.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: &bucket, Key: aws.String("doc"), ACL: types.ObjectCannedACLPublicRead}); err != nil {
			t.Fatal(err)
		}
	}
	if recs := journalRecords(t, undo); recs["before"]["doc@"] != 2 || recs["done"]["doc@"] != 2 {
		t.Errorf("undo log %v: want two changes of doc, each logged", recs)
	}
}

// --canned private on an object user B owns in A's bucket keeps A's
// access: A can still read and change its ACL after the fix.
func TestIntegrationCannedPrivateKeepsTheBucketOwner(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a, b := env.Client(env.A), env.Client(env.B)
	bucket := locals3.NewBucket(t, env, "canned")
	if err := locals3.GrantBucketWrite(ctx, a, bucket, env.A, env.B); err != nil {
		t.Fatal(err)
	}
	// B's object: B full control, A full control, anyone may read.
	if err := locals3.PutObjects(ctx, b, bucket, []string{"from-b"}, func(in *s3.PutObjectInput) {
		in.GrantFullControl = aws.String("id=" + env.B.ID + ", id=" + env.A.ID)
		in.GrantRead = aws.String("uri=" + acl.AllUsersURI)
	}); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runLocal(t, env, "fix", "s3://"+bucket, "--canned", "private", "--findings", "public", "--apply", "--undo-log", filepath.Join(t.TempDir(), "undo.jsonl"))
	if code != exitOK || !strings.Contains(stdout, "Applied: 1 changed") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if code := anonymousGET(t, env, bucket, "from-b"); code != 403 {
		t.Errorf("anonymous GET %d after the fix", code)
	}
	got := objectACL(t, env, bucket, "from-b") // read as A: A is not locked out
	want := []acl.Grant{{Type: "CanonicalUser", ID: env.B.ID, Permission: "FULL_CONTROL"}, {Type: "CanonicalUser", ID: env.A.ID, Permission: "FULL_CONTROL"}}
	if !fix.SameACL("", got, "", want) {
		t.Errorf("ACL after --canned private: %+v, want B's and A's full control", got)
	}
}
