//go:build integration

package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aclscan/aclscan/internal/testkit"

	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/report"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// --all-buckets on radosgw: every bucket user A owns and the patterns
// select, none of user B's; one report, a summary per bucket.
func TestIntegrationCLIAllBuckets(t *testing.T) {
	t.Parallel()
	env := demoEnv(t)
	ctx := context.Background()
	theirs := "demo-b-" + strings.ToLower(t.Name()[len(t.Name())-4:])
	if err := locals3.CreateBucket(ctx, env.Client(env.B), theirs); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	reportPath, summaryPath := filepath.Join(dir, "r.jsonl"), filepath.Join(dir, "s.json")
	code, _, stderr := runLocal(t, env, "scan", "--all-buckets", "--include", "demo*", "--verify-public",
		"-o", reportPath, "--summary-json", summaryPath, "--fail-on", "public", "--readiness-policy", filepath.Join(dir, "policies"))
	if code != exitFindings || !strings.Contains(stderr, "findings matching --fail-on: public 3") {
		t.Fatalf("exit %d, stderr %q; want 3 for the three effective public objects (one by its ACL, two by the bucket policy)", code, stderr)
	}
	byBucket := map[string]map[string]report.Record{}
	for _, r := range testkit.Records(t, reportPath) {
		if byBucket[r.Bucket] == nil {
			byBucket[r.Bucket] = map[string]report.Record{}
		}
		byBucket[r.Bucket][r.Key] = r
	}
	if len(byBucket) != 3 || len(byBucket[locals3.DemoBucket]) != 104 || len(byBucket[locals3.DemoLockedBucket]) != 21 ||
		len(byBucket[locals3.DemoWebsiteBucket]) != len(locals3.DemoWebsiteKeys) {
		t.Fatalf("buckets in the report: %d (%d, %d, %d objects); want demo (104), demo-locked (21) and demo-website (3), not user B's",
			len(byBucket), len(byBucket[locals3.DemoBucket]), len(byBucket[locals3.DemoLockedBucket]), len(byBucket[locals3.DemoWebsiteBucket]))
	}
	// Private ACLs, opened to anyone by the bucket policy: public, served,
	// and the statement named.
	for _, key := range locals3.DemoWebsitePublic {
		r := byBucket[locals3.DemoWebsiteBucket][key]
		if strings.Join(r.Effective, ",") != "public" || r.VerifiedPublic == nil || !*r.VerifiedPublic ||
			len(r.Sources) != 1 || r.Sources[0].Door != "bucket-policy" || r.Sources[0].Ref != "PublicWebsite" {
			t.Errorf("website object %s: %+v", key, r)
		}
	}
	if r := byBucket[locals3.DemoWebsiteBucket]["drafts/launch-plan.txt"]; len(r.Findings) != 0 {
		t.Errorf("the website's draft is private, got %+v", r)
	}
	exposed := byBucket[locals3.DemoBucket]["shared/public-report.pdf"]
	if exposed.VerifiedPublic == nil || !*exposed.VerifiedPublic || strings.Join(exposed.Effective, ",") != "public" {
		t.Errorf("exposed object: %+v", exposed)
	}
	latent := byBucket[locals3.DemoLockedBucket][locals3.DemoLockedKey]
	if strings.Join(latent.Findings, ",") != "public" || len(latent.Effective) != 0 || strings.Join(latent.BlockedBy, ",") != "bucket:IgnorePublicAcls" || latent.VerifiedPublic != nil {
		t.Errorf("latent object: %+v", latent)
	}

	var sum report.SummaryRecord
	b, err := os.ReadFile(summaryPath)
	if err != nil || json.Unmarshal(b, &sum) != nil {
		t.Fatalf("summary: %v %s", err, b)
	}
	if len(sum.Buckets) != 3 || sum.Objects != 128 || !sum.Complete || sum.ByFinding["public"] != 4 || sum.ByEffective["public"] != 3 {
		t.Fatalf("total: %d buckets, %d objects, complete %v, public %d/%d", len(sum.Buckets), sum.Objects, sum.Complete, sum.ByFinding["public"], sum.ByEffective["public"])
	}
	for _, bs := range sum.Buckets {
		if bs.Region == "" || bs.Context == nil || bs.Readiness == nil || !bs.Complete || bs.Error != "" {
			t.Errorf("bucket %s: %+v", bs.Bucket, bs)
		}
		// The demo bucket's own ACL grants user B WRITE: disabling ACLs
		// would fail until that moves to the bucket policy.
		if bs.Bucket == locals3.DemoBucket && (bs.Readiness.Verdict != "not-ready" || !strings.Contains(strings.Join(bs.Readiness.Reasons, ";"), "InvalidBucketAclWithObjectOwnership")) {
			t.Errorf("demo readiness: %+v", bs.Readiness)
		}
		if bs.Bucket == locals3.DemoLockedBucket && bs.Readiness.Verdict != "ready" {
			t.Errorf("demo-locked readiness: %+v (its only public grant is ignored today)", bs.Readiness)
		}
	}
	policy, err := os.ReadFile(filepath.Join(dir, "policies", "demo.json"))
	if err != nil || !strings.Contains(string(policy), `"CanonicalUser": "`+env.B.ID+`"`) {
		t.Errorf("draft policy for demo: %v\n%s", err, policy)
	}
	if _, err := os.Stat(filepath.Join(dir, "policies", "demo-locked.json")); !os.IsNotExist(err) {
		t.Errorf("a draft was written for a bucket that needs none: %v", err)
	}
}

// A bucket that cannot be listed is its own error line and status; the
// others are scanned, and the exit code says the run is incomplete.
func TestIntegrationCLIAllBucketsOneFails(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	prefix := locals3.NewBucket(t, env, "acct")
	good, denied := prefix+"-good", prefix+"-denied"
	for _, b := range []string{good, denied} {
		if err := locals3.CreateBucket(ctx, a, b); err != nil {
			t.Fatal(err)
		}
		if err := locals3.PutObjects(ctx, a, b, locals3.Keys("k/", 30), nil); err != nil {
			t.Fatal(err)
		}
	}
	// An explicit Deny binds the owner too: the bucket cannot be listed.
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":["arn:aws:iam:::user/` + env.A.ID + `"]},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::` + denied + `"}]}`
	if _, err := a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &denied, Policy: &policy}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	reportPath, summaryPath := filepath.Join(dir, "r.jsonl"), filepath.Join(dir, "s.json")
	code, _, stderr := runLocal(t, env, "scan", "--all-buckets", "--include", prefix+"-*", "-o", reportPath, "--summary-json", summaryPath)
	if code != exitIncomplete || !strings.Contains(stderr, "1 of 2 buckets could not be scanned") || !strings.Contains(stderr, denied) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	recs := testkit.Records(t, reportPath)
	for _, r := range recs {
		if r.Bucket != good {
			t.Fatalf("a record of %s: %+v", r.Bucket, r)
		}
	}
	if len(recs) != 30 {
		t.Errorf("%d records of the good bucket, want 30", len(recs))
	}
	var sum report.SummaryRecord
	b, _ := os.ReadFile(summaryPath)
	if err := json.Unmarshal(b, &sum); err != nil || sum.Complete || len(sum.Buckets) != 2 {
		t.Fatalf("summary: %v %s", err, b)
	}
	for _, bs := range sum.Buckets {
		if (bs.Bucket == denied) != (bs.Error != "") || (bs.Bucket == good) != bs.Complete {
			t.Errorf("bucket %s: complete %v, error %q", bs.Bucket, bs.Complete, bs.Error)
		}
	}
}

// One checkpoint covers a whole --all-buckets run: killed (-9) while
// several buckets are half done, the same command continues it, and every
// key of every bucket is reported exactly once.
func TestIntegrationCLIAllBucketsCheckpointResume(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	sizes := map[string]int{"it-ckpt-acct-1": 1500, "it-ckpt-acct-2": 900, "it-ckpt-acct-3": 1200}
	for b, n := range sizes {
		if err := locals3.CreateBucket(ctx, a, b); err != nil {
			t.Fatal(err)
		}
		if got, _ := locals3.CountObjects(ctx, a, b); got != n {
			if err := locals3.PutObjects(ctx, a, b, locals3.Keys("k/", n), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	bin := buildCLI(t)
	dir := t.TempDir()
	reportPath, ckpt := filepath.Join(dir, "r.jsonl"), filepath.Join(dir, "run.ckpt")
	args := []string{"scan", "--all-buckets", "--include", "it-ckpt-acct-*", "--concurrency", "2", "--parallel-buckets", "2",
		"-o", reportPath, "--checkpoint", ckpt, "--checkpoint-interval", "50ms"}
	// Killed once a checkpoint exists and some records are written.
	startAndSignalWhen(t, bin, os.Kill, func() bool {
		_, err := os.Stat(ckpt)
		info, rerr := os.Stat(reportPath)
		return err == nil && rerr == nil && info.Size() > 50_000
	}, args...)
	if _, err := os.Stat(ckpt); err != nil {
		t.Fatalf("no checkpoint after kill -9: %v", err)
	}
	out, err := localCommand(t, bin, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "resuming from") {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	seen := map[string]int{}
	for _, r := range testkit.Records(t, reportPath) {
		seen[r.Bucket+"/"+r.Key]++
	}
	total := 0
	for b, n := range sizes {
		total += n
		for _, k := range locals3.Keys("k/", n) {
			if seen[b+"/"+k] != 1 {
				t.Fatalf("%s/%s reported %d times", b, k, seen[b+"/"+k])
			}
		}
	}
	if len(seen) != total {
		t.Errorf("%d distinct records, want %d", len(seen), total)
	}
}
