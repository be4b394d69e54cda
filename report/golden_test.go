package report

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aclscan/aclscan/accept"
	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/scan"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata from the current output")

// Each format's whole output for one set of results, byte for byte:
// testdata/FORMAT.golden. After an intended change, run
// go test ./report -run TestGolden -update and review the diff.
func TestGolden(t *testing.T) {
	t.Parallel()
	sum := &scan.Summary{Bucket: "b", Prefix: "p/", Strategy: scan.Pool, Concurrency: 64, Objects: 5, Complete: true,
		Duration: 1500 * time.Millisecond, Requests: 6, BucketOwner: "a", OwnerSource: "GetBucketAcl",
		Context: acl.BucketContext{
			Owner:        "a",
			ACL:          acl.Read([]acl.Grant{{Type: acl.TypeCanonicalUser, ID: "a", Permission: "FULL_CONTROL"}}),
			Ownership:    acl.Read(acl.ObjectWriter),
			BucketBlock:  acl.Read(acl.PublicAccessBlock{BlockPublicACLs: true}),
			AccountBlock: acl.Read(acl.PublicAccessBlock{IgnorePublicACLs: true}),
			PolicyPublic: acl.Unread[bool]("GetBucketPolicyStatus was denied (the identity needs s3:GetBucketPolicyStatus)"),
			Policy:       acl.Read(websitePolicy),
		},
		Served: 1, Shared: 2}
	sum.ByStatus[scan.StatusOK] = 3
	sum.ByStatus[scan.StatusError] = 1
	sum.ByStatus[scan.StatusDenied] = 1
	sum.ByKind[acl.Public] = 2
	sum.ByEffective[acl.Public] = 2
	sum.ByAccepted[acl.Public] = 1
	sum.ByAcceptedEffective[acl.Public] = 1
	sum.ByKind[acl.Public] += 2
	sum.ByEffective[acl.Public] += 2
	sum.ByNewEffective[acl.Public] = 1
	sum.Trusted = 1
	sum.Baseline = &scan.BaselineOutcome{Name: "last-week.jsonl", Closed: 1,
		Listed: []scan.ClosedObject{{Bucket: "b", Key: "fixed/report.pdf", Findings: []string{"public"}}}}
	sum.ByKind[acl.Authenticated] = 1
	sum.ByKind[acl.Unreadable] = 1
	sum.ByEffective[acl.Unreadable] = 1
	sum.AcceptRules = &scan.AcceptRules{File: ".aclscan.yaml", Live: 2, Expired: []string{"campaign-2025 (expired 2026-01-31)"}, Unmatched: []string{"old-bucket"}}
	written := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, format := range []Format{FormatJSONL, FormatCSV, FormatTable, FormatHTML, FormatOCSF} {
		t.Run(string(format), func(t *testing.T) {
			results := append(append(policySamples(), sampleResults()...), acceptedSample())
			opts := Options{TableRows: 2, HTMLRows: 20, Spell: testFlags, Version: "1.2.3", Now: func() time.Time { return written }}
			got := writeWith(t, format, opts, append(append(results, baselineSamples()...), trustedSample(), watchedSample()), sum)
			path := filepath.Join("testdata", string(format)+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s output differs from %s (run with -update if intended):\n--- got\n%s\n--- want\n%s", format, path, got, want)
			}
		})
	}
}

// acceptedSample is a public object an accepted-exposures rule accepts.
func acceptedSample() scan.Result {
	public := acl.Findings(0).With(acl.Public)
	return scan.Result{Bucket: "b", Key: "assets/logo.png", OwnerID: "a",
		Grants:   []acl.Grant{{Type: "Group", URI: acl.AllUsersURI, Permission: "READ"}},
		Findings: public, Effective: public, ViaACL: public, Accepted: public,
		Acceptance: &accept.Acceptance{Rule: "website-assets", Reason: "the public website's images"}}
}

// An accepted finding survives a report read back (merged batches, a
// report written again in another format, a baseline).
func TestAcceptedReadBack(t *testing.T) {
	t.Parallel()
	out := writeAll(t, FormatJSONL, []scan.Result{acceptedSample()}, &scan.Summary{})
	var got []scan.Result
	err := ReadJSONL(strings.NewReader(out), func(rec Record) error {
		r, err := rec.Result()
		got = append(got, r)
		return err
	})
	want := acceptedSample()
	if err != nil || len(got) != 1 || got[0].Accepted != want.Accepted || got[0].Acceptance == nil || *got[0].Acceptance != *want.Acceptance {
		t.Errorf("read back %+v, %v; want the acceptance %+v", got, err, want.Acceptance)
	}
}

// baselineSamples are public objects compared with a baseline: one it
// had (known), one it did not (new).
func baselineSamples() []scan.Result {
	public := acl.Findings(0).With(acl.Public)
	grants := []acl.Grant{{Type: "Group", URI: acl.AllUsersURI, Permission: "READ"}}
	return []scan.Result{
		{Bucket: "b", Key: "shared/known.pdf", OwnerID: "a", Grants: grants, Findings: public, Effective: public, ViaACL: public, Compared: true},
		{Bucket: "b", Key: "shared/new.pdf", OwnerID: "a", Grants: grants, Findings: public, Effective: public, ViaACL: public, Compared: true, New: public},
	}
}

// The table says which findings are accepted and which are new since the
// baseline.
func TestTableMarksAcceptedAndNew(t *testing.T) {
	t.Parallel()
	out := writeWith(t, FormatTable, Options{TableRows: 10}, append([]scan.Result{acceptedSample()}, baselineSamples()...), &scan.Summary{Objects: 3})
	for _, want := range []string{"public(accepted)", "public(new)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "public(") != 2 {
		t.Errorf("the known finding is marked too:\n%s", out)
	}
}

// trustedSample is an object shared only with an account of the zone of
// trust: not cross-account, and said so.
func trustedSample() scan.Result {
	return scan.Result{Bucket: "b", Key: "exchange/partner.csv", OwnerID: "a",
		Grants:  []acl.Grant{{Type: acl.TypeCanonicalUser, ID: "a", Permission: "FULL_CONTROL"}, {Type: acl.TypeCanonicalUser, ID: "p", Permission: "READ"}},
		Trusted: []string{"p"},
		// The door that shares it: written as not effective, and why.
		Sources: []acl.Source{{Finding: "cross-account", Door: "acl", Ref: "p:READ", Principal: "p", Actions: []string{"s3:GetObject"}, Effective: true}}}
}

// watchedSample is an object a watch judged when S3 said it was created,
// in a bucket of one of the accounts of a run over accounts.
func watchedSample() scan.Result {
	public := acl.Findings(0).With(acl.Public)
	return scan.Result{Bucket: "b", Key: "uploads/new.png", OwnerID: "a", Account: &scan.Account{ID: "111122223333", Name: "production", OUPath: "r-ab12/ou-ab12-11111111"},
		Grants:   []acl.Grant{{Type: "Group", URI: acl.AllUsersURI, Permission: "READ"}},
		Findings: public, Effective: public, ViaACL: public,
		Cause: &scan.Cause{Source: "aws:s3", Name: "ObjectCreated:Put", ID: "0055AED6DCD90281E5", Time: time.Date(2026, 12, 7, 11, 59, 0, 0, time.UTC)}}
}
