package report

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

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
	sum.ByKind[acl.Public] = 1
	sum.ByEffective[acl.Public] = 1
	sum.ByKind[acl.Authenticated] = 1
	sum.ByKind[acl.Unreadable] = 1
	sum.ByEffective[acl.Unreadable] = 1
	for _, format := range []Format{FormatJSONL, FormatCSV, FormatTable} {
		t.Run(string(format), func(t *testing.T) {
			got := writeAll(t, format, append(policySamples(), sampleResults()...), sum)
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
