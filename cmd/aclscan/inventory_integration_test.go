//go:build integration

package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aclscan/aclscan/internal/testkit"

	"github.com/aclscan/aclscan/internal/invgen"
	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/report"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// writeReport writes an AWS-format inventory report of a bucket of the
// local S3 into the bucket "inventory" and returns its manifest URL.
func writeReport(t *testing.T, env locals3.Env, source, format, config string, versioned bool, created time.Time) (string, invgen.Report) {
	t.Helper()
	ctx := context.Background()
	if err := locals3.CreateBucket(ctx, env.Client(env.A), "inventory"); err != nil {
		t.Fatal(err)
	}
	objects, err := invgen.FromBucket(ctx, env, source, versioned)
	if err != nil {
		t.Fatal(err)
	}
	r := invgen.Report{SourceBucket: source, DestinationBucket: "inventory", Prefix: "reports", ConfigID: config, Format: format,
		Versioned: versioned, Created: created, FileRows: 40}
	if err := r.Write(objects, invgen.PutTo(ctx, env, "inventory")); err != nil {
		t.Fatal(err)
	}
	return "s3://inventory/" + r.ManifestKey(), r
}

func byKey(recs []report.Record) map[string]report.Record {
	m := map[string]report.Record{}
	for _, r := range recs {
		m[r.Key+"\x00"+ptr(r.VersionID)] = r
	}
	return m
}

func ptr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// The same bucket judged from its inventory report and scanned live:
// the same keys with the same findings, except the object another user
// owns, whose real ACL the report shows where the live scan is denied.
func TestIntegrationInventoryMatchesLiveScan(t *testing.T) {
	t.Parallel()
	env := demoEnv(t)
	dir := t.TempDir()
	livePath := filepath.Join(dir, "live.jsonl")
	if code, _, stderr := runLocal(t, env, "scan", "s3://demo", "-o", livePath); code != exitOK {
		t.Fatalf("live scan: exit %d: %s", code, stderr)
	}
	live := byKey(testkit.Records(t, livePath))
	for _, format := range []string{"CSV", "Parquet"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			manifest, _ := writeReport(t, env, "demo", format, "match-"+format, false, time.Now().UTC())
			invPath := filepath.Join(t.TempDir(), "inv.jsonl")
			code, _, stderr := runLocal(t, env, "inventory", manifest, "-o", invPath)
			if code != exitOK || !strings.Contains(stderr, "inventory report "+manifest) {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			inv := byKey(testkit.Records(t, invPath))
			if len(inv) != len(live) || len(inv) != 104 {
				t.Fatalf("%d records from the report, %d live; want 104 each", len(inv), len(live))
			}
			for id, l := range live {
				r, ok := inv[id]
				if !ok {
					t.Fatalf("%q is in the live scan, not in the report", l.Key)
				}
				if r.Source != "inventory" || r.ReportDate == nil || l.Source != "live" {
					t.Errorf("%q: sources %q/%q, report date %v", l.Key, r.Source, l.Source, r.ReportDate)
				}
				if l.Key == "uploads/from-userb.txt" {
					// Live: denied. The report: its real ACL, B's own.
					if l.Status != "denied" || r.Status != "ok" || strings.Join(r.Findings, ",") != "cross-account,foreign-owner" || r.OwnerID != env.B.ID {
						t.Errorf("the object B owns: live %s %v, report %s %v owner %s", l.Status, l.Findings, r.Status, r.Findings, r.OwnerID)
					}
					continue
				}
				if strings.Join(r.Findings, ",") != strings.Join(l.Findings, ",") || r.Status != l.Status || r.OwnerID != l.OwnerID {
					t.Errorf("%q: report %s %v owner %s; live %s %v owner %s", l.Key, r.Status, r.Findings, r.OwnerID, l.Status, l.Findings, l.OwnerID)
				}
			}
		})
	}
}

// Versions, delete markers, and the destination prefix: the newest
// complete report is taken.
func TestIntegrationInventoryVersionsAndNewestReport(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	bucket := locals3.NewVersionedBucket(t, env, "invver")
	for range 2 {
		if err := locals3.PutObjects(ctx, a, bucket, []string{"doc one.txt", "doc+two.txt"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: aws.String("doc one.txt")}); err != nil {
		t.Fatal(err)
	}
	old := time.Now().UTC().Add(-48 * time.Hour)
	writeReport(t, env, bucket, "Parquet", "versions", true, old)
	_, newest := writeReport(t, env, bucket, "CSV", "versions", true, old.Add(24*time.Hour))
	// A newer report still being written: no checksum yet.
	unfinished := newest
	unfinished.Created = old.Add(47 * time.Hour)
	if _, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("inventory"), Key: aws.String(unfinished.ManifestKey()), Body: strings.NewReader("{}")}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "inv.jsonl")
	summary := filepath.Join(t.TempDir(), "s.json")
	code, _, stderr := runLocal(t, env, "inventory", "s3://inventory/"+newest.Base(), "-o", path, "--summary-json", summary)
	if code != exitOK || !strings.Contains(stderr, newest.ManifestKey()) {
		t.Fatalf("exit %d, stderr %q; want the newest complete report %s", code, stderr, newest.ManifestKey())
	}
	recs := testkit.Records(t, path)
	if len(recs) != 4 {
		t.Fatalf("%d records, want the 4 versions", len(recs))
	}
	for _, r := range recs {
		if r.VersionID == nil || r.IsLatest == nil {
			t.Errorf("a version without version_id or is_latest: %+v", r)
		}
	}
	var sum report.SummaryRecord
	b, _ := os.ReadFile(summary)
	if err := json.Unmarshal(b, &sum); err != nil || sum.DeleteMarkers != 1 || sum.Objects != 4 {
		t.Errorf("summary: %v, %d objects, %d delete markers; want 4 and 1", err, sum.Objects, sum.DeleteMarkers)
	}
}

// --verify reads live the ACL of every object with findings and says
// which changed since the report; --no-context judges from the report
// alone and says so.
func TestIntegrationInventoryVerifyAndNoContext(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	bucket := locals3.NewBucket(t, env, "invverify")
	if err := locals3.PutObjects(ctx, a, bucket, []string{"open-then-closed", "still-open"}, locals3.PublicRead); err != nil {
		t.Fatal(err)
	}
	manifest, _ := writeReport(t, env, bucket, "CSV", "verify", false, time.Now().UTC())
	if _, err := a.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: &bucket, Key: aws.String("open-then-closed"), ACL: types.ObjectCannedACLPrivate}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "inv.jsonl")
	summary := filepath.Join(t.TempDir(), "s.json")
	code, _, stderr := runLocal(t, env, "inventory", manifest, "--verify", "--no-context", "--bucket-owner", env.A.ID, "-o", path, "--summary-json", summary)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	recs := byKey(testkit.Records(t, path))
	closed, open := recs["open-then-closed\x00"], recs["still-open\x00"]
	if closed.ChangedSinceReport == nil || !*closed.ChangedSinceReport || open.ChangedSinceReport == nil || *open.ChangedSinceReport {
		t.Errorf("changed_since_report: closed %v, open %v; want true and false", closed.ChangedSinceReport, open.ChangedSinceReport)
	}
	var sum report.SummaryRecord
	b, _ := os.ReadFile(summary)
	_ = json.Unmarshal(b, &sum)
	if !strings.Contains(strings.Join(sum.Notes, "\n"), "--no-context") || sum.Context == nil || sum.Context.BucketPublicAccessBlock != nil {
		t.Errorf("--no-context: notes %q, context %+v", sum.Notes, sum.Context)
	}
}

// A report configured without the ACL fields: exit 2, saying how to add them.
func TestIntegrationInventoryWithoutACLFields(t *testing.T) {
	t.Parallel()
	env := demoEnv(t)
	ctx := context.Background()
	objects, err := invgen.FromBucket(ctx, env, "demo", false)
	if err != nil {
		t.Fatal(err)
	}
	r := invgen.Report{SourceBucket: "demo", DestinationBucket: "inventory", Prefix: "reports", ConfigID: "no-acl", Format: "CSV", NoACL: true, Created: time.Now().UTC()}
	if err := locals3.CreateBucket(ctx, env.Client(env.A), "inventory"); err != nil {
		t.Fatal(err)
	}
	if err := r.Write(objects, invgen.PutTo(ctx, env, "inventory")); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runLocal(t, env, "inventory", "s3://inventory/"+r.ManifestKey())
	if code != exitUsage || !strings.Contains(stderr, "add ObjectOwner and ObjectAccessControlList") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
