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

	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/internal/testkit"
	"github.com/aclscan/aclscan/report"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Intended exposure against radosgw: a bucket with public objects under
// assets/ (a rule accepts them, with its reason) and an accidental one
// elsewhere. --fail-on public fails on the accidental one alone, and the
// report shows both kinds; once the rule has expired, all of them fail.
func TestIntegrationAcceptedExposures(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	bucket := locals3.NewBucket(t, env, "accepted")
	if err := locals3.PutObjects(ctx, env.Client(env.A), bucket, []string{"assets/logo.png", "assets/css/site.css", "drafts/leak.txt"}, locals3.PublicRead); err != nil {
		t.Fatal(err)
	}
	if err := locals3.PutObjects(ctx, env.Client(env.A), bucket, []string{"drafts/private.txt"}, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rules := func(expires string) string {
		path := filepath.Join(dir, "accept-"+expires+".yaml")
		doc := "rules:\n  - id: website-assets\n    bucket: \"it-accepted-*\"\n    key: \"assets/**\"\n    findings: [public]\n" +
			"    reason: the website's images and styles\n    expires: " + expires + "\n  - id: stale\n    bucket: elsewhere\n    findings: [public]\n    reason: a bucket long gone\n"
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	reportPath := filepath.Join(dir, "report.jsonl")
	summary := filepath.Join(dir, "summary.json")

	code, _, stderr := runLocal(t, env, "scan", "s3://"+bucket, "--accept", rules("2099-12-31"), "--fail-on", "public",
		"-o", reportPath, "--summary-json", summary)
	if code != exitFindings || !strings.Contains(stderr, "findings matching --fail-on: public 1") {
		t.Fatalf("with the rule: exit %d, stderr %q; want 3 for the accidental object alone", code, stderr)
	}
	if !strings.Contains(stderr, "accepted exposures from ") || !strings.Contains(stderr, "2 rules apply") {
		t.Errorf("the rules in use are not said: %q", stderr)
	}
	accepted := map[string]string{}
	for _, rec := range testkit.Records(t, reportPath) {
		if len(rec.Effective) > 0 {
			rule := ""
			if rec.AcceptedRule != nil {
				rule = *rec.AcceptedRule + ": " + *rec.AcceptedReason
			}
			accepted[rec.Key] = rule
		}
	}
	want := map[string]string{
		"assets/logo.png":     "website-assets: the website's images and styles",
		"assets/css/site.css": "website-assets: the website's images and styles",
		"drafts/leak.txt":     "",
	}
	if len(accepted) != len(want) {
		t.Errorf("public objects in the report %v; want %v", accepted, want)
	}
	for key, rule := range want {
		if got, ok := accepted[key]; !ok || got != rule {
			t.Errorf("%s: accepted by %q; want %q", key, got, rule)
		}
	}
	raw, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	var sum report.SummaryRecord
	if err := json.Unmarshal(raw, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.ByEffective["public"] != 3 || sum.ByAccepted["public"] != 2 || sum.Accept == nil || strings.Join(sum.Accept.Unmatched, ",") != "stale" {
		t.Errorf("summary: effective %v, accepted %v, rules %+v; want 3 public, 2 accepted, the stale rule unmatched", sum.ByEffective, sum.ByAccepted, sum.Accept)
	}

	code, stdout, stderr := runLocal(t, env, "scan", "s3://"+bucket, "--accept", rules("2026-01-31"), "--fail-on", "public", "--format", "table")
	if code != exitFindings || !strings.Contains(stderr, "findings matching --fail-on: public 3") {
		t.Errorf("with the rule expired: exit %d, stderr %q; want 3 for all three", code, stderr)
	}
	if !strings.Contains(stdout, "expired, no longer applied: website-assets (expired 2026-01-31)") {
		t.Errorf("the table does not name the expired rule:\n%s", stdout)
	}

	code, _, stderr = runLocal(t, env, "scan", "s3://"+bucket, "--accept", filepath.Join(dir, "missing.yaml"))
	if code != exitUsage || !strings.Contains(stderr, "--accept") {
		t.Errorf("a missing rules file: exit %d, %q; want 2", code, stderr)
	}

	// fix leaves accepted findings alone, and its plan says why.
	undo := filepath.Join(dir, "undo.jsonl")
	code, stdout, stderr = runLocal(t, env, "fix", "s3://"+bucket, "--findings", "public", "--accept", rules("2099-12-31"), "--apply", "--undo-log", undo)
	if code != exitOK || !strings.Contains(stdout, "1 ACLs") || !strings.Contains(stdout, "2 objects have findings the accepted-exposures rule website-assets accepts") {
		t.Fatalf("fix: exit %d\n%s%s", code, stdout, stderr)
	}
	for key, want := range map[string]int{"assets/logo.png": 200, "assets/css/site.css": 200, "drafts/leak.txt": 403} {
		if got := anonymousGET(t, env, bucket, key); got != want {
			t.Errorf("%s after the fix: anonymous GET %d, want %d", key, got, want)
		}
	}
}

// A baseline from a first run, then one new public object and one fixed:
// --fail-on-new fails on the new one alone, the report marks it new and
// the other public ones known, and the fixed one is listed as closed.
func TestIntegrationBaseline(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	bucket := locals3.NewBucket(t, env, "baseline")
	if err := locals3.PutObjects(ctx, a, bucket, []string{"old/a.txt", "old/b.txt", "old/fixed.txt"}, locals3.PublicRead); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first := filepath.Join(dir, "first.jsonl")
	if code, _, stderr := runLocal(t, env, "scan", "s3://"+bucket, "-o", first, "--no-accept"); code != exitOK {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	if err := locals3.PutObjects(ctx, a, bucket, []string{"new/leak.txt"}, locals3.PublicRead); err != nil {
		t.Fatal(err)
	}
	if err := locals3.PutObjects(ctx, a, bucket, []string{"old/fixed.txt"}, nil); err != nil { // private now
		t.Fatal(err)
	}
	second, summary := filepath.Join(dir, "second.jsonl"), filepath.Join(dir, "second.json")
	code, _, stderr := runLocal(t, env, "scan", "s3://"+bucket, "--baseline", first, "--fail-on", "public", "--fail-on-new",
		"-o", second, "--summary-json", summary, "--no-accept")
	if code != exitFindings || !strings.Contains(stderr, "findings matching --fail-on: public 1 new") {
		t.Fatalf("second run: exit %d, %q; want 3 for the one new object", code, stderr)
	}
	states := map[string]string{}
	for _, rec := range testkit.Records(t, second) {
		if rec.Baseline != nil {
			states[rec.Key] = *rec.Baseline
		}
	}
	want := map[string]string{"old/a.txt": "known", "old/b.txt": "known", "new/leak.txt": "new"}
	if fmt.Sprint(states) != fmt.Sprint(want) {
		t.Errorf("baseline states %v; want %v", states, want)
	}
	var sum report.SummaryRecord
	raw, _ := os.ReadFile(summary)
	if err := json.Unmarshal(raw, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Baseline == nil || sum.Baseline.Closed != 1 || sum.Baseline.ClosedObjects[0].Key != "old/fixed.txt" || sum.ByNew["public"] != 1 {
		t.Errorf("summary: baseline %+v, by_new %v; want old/fixed.txt closed and 1 new public", sum.Baseline, sum.ByNew)
	}
	// The same comparison of the two reports, afterwards.
	code, stdout, stderr := runLocal(t, env, "report", "--diff", first, second, "--format", "table", "--fail-on", "public", "--fail-on-new")
	if code != exitFindings || !strings.Contains(stderr, "public 1 new") || !strings.Contains(stdout, "public(new)") ||
		!strings.Contains(stdout, "closed 1, s3://"+bucket+"/old/fixed.txt (public)") {
		t.Errorf("report --diff: exit %d\n%s%s", code, stdout, stderr)
	}
	// Without --fail-on-new, everything public fails as before.
	if code, _, stderr := runLocal(t, env, "scan", "s3://"+bucket, "--baseline", first, "--fail-on", "public", "--no-accept"); code != exitFindings || !strings.Contains(stderr, "public 3") {
		t.Errorf("without --fail-on-new: exit %d, %q; want 3 for all three", code, stderr)
	}
}

// A grant to an account of the zone of trust is no cross-account finding:
// the record names the trusted account, and --fail-on cross-account passes.
func TestIntegrationTrustedAccounts(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	bucket := locals3.NewBucket(t, env, "trusted")
	shareWithB := func(in *s3.PutObjectInput) { grant := "id=" + env.B.ID; in.GrantRead = &grant }
	if err := locals3.PutObjects(context.Background(), env.Client(env.A), bucket, []string{"exchange/partner.csv"}, shareWithB); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "report.jsonl")
	code, _, stderr := runLocal(t, env, "scan", "s3://"+bucket, "--fail-on", "cross-account", "--no-accept")
	if code != exitFindings || !strings.Contains(stderr, "cross-account 1") {
		t.Fatalf("without trust: exit %d, %q; want 3", code, stderr)
	}
	code, _, stderr = runLocal(t, env, "scan", "s3://"+bucket, "--fail-on", "cross-account", "--trusted-accounts", env.B.ID, "-o", out, "--no-accept")
	if code != exitOK {
		t.Fatalf("with %s trusted: exit %d, %q; want 0", env.B.ID, code, stderr)
	}
	recs := testkit.Records(t, out)
	if len(recs) != 1 || len(recs[0].Findings) != 0 || strings.Join(recs[0].Trusted, ",") != env.B.ID {
		t.Errorf("record %+v; want no finding and %s trusted", recs, env.B.ID)
	}
	if code, _, stderr := runLocal(t, env, "scan", "s3://"+bucket, "--trusted-accounts", "12345"); code != exitUsage || !strings.Contains(stderr, "--trusted-accounts") {
		t.Errorf("a mistyped account ID: exit %d, %q; want 2", code, stderr)
	}
}
