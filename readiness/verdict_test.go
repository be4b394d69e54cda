package readiness

import (
	"strings"
	"testing"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
)

// The readiness verdict from a bucket's context and a scan's counts, by
// AWS's rules for switching to BucketOwnerEnforced.
func TestJudge(t *testing.T) {
	t.Parallel()
	ownerOnly := acl.Read([]acl.Grant{{Type: acl.TypeCanonicalUser, ID: "owner", Permission: "FULL_CONTROL"}})
	logDelivery := acl.Read([]acl.Grant{{Type: acl.TypeCanonicalUser, ID: "owner", Permission: "FULL_CONTROL"},
		{Type: acl.TypeGroup, URI: "http://acs.amazonaws.com/groups/s3/LogDelivery", Permission: "WRITE"}})
	base := func(change func(s *scan.Summary)) *scan.Summary {
		s := &scan.Summary{Complete: true, BucketOwner: "owner", Objects: 3,
			Context: acl.BucketContext{Owner: "owner", ACL: ownerOnly}}
		if change != nil {
			change(s)
		}
		return s
	}
	flags := func(s s3access.Setting, _ string) string { return "--" + string(s) }
	for _, tc := range []struct {
		name    string
		sum     *scan.Summary
		verdict string
		reason  string
	}{
		{"clean", base(nil), Ready, "grants only the owner"},
		{"disabled already", base(func(s *scan.Summary) { s.Context.Ownership = acl.Read(acl.OwnerEnforced) }), AlreadyDisabled, "already disabled"},
		{"objects shared", base(func(s *scan.Summary) { s.Shared = 2 }), NotReady, "2 objects have ACLs that grant access to others, who lose it (move it to the bucket policy: --readiness-policy drafts one)"},
		{"bucket ACL grants log delivery", base(func(s *scan.Summary) { s.Context.ACL = logDelivery }), NotReady, "InvalidBucketAclWithObjectOwnership"},
		{"foreign owners", base(func(s *scan.Summary) { s.ByKind[acl.ForeignOwner] = 1 }), NotReady, "owned by other accounts"},
		{"incomplete", base(func(s *scan.Summary) { s.Complete = false }), ReadyUnknown, "the scan is incomplete"},
		{"bucket ACL unreadable", base(func(s *scan.Summary) { s.Context.ACL = acl.Unread[[]acl.Grant]("AccessDenied") }), ReadyUnknown, "the bucket ACL is unknown (AccessDenied)"},
		{"owner unknown", base(func(s *scan.Summary) { s.BucketOwner, s.Context.Owner = "", "" }), ReadyUnknown, "without the bucket owner"},
	} {
		got := Judge(tc.sum, flags)
		if got.Verdict != tc.verdict || !strings.Contains(strings.Join(got.Reasons, "; "), tc.reason) {
			t.Errorf("%s: %+v; want %s with %q", tc.name, got, tc.verdict, tc.reason)
		}
	}
}
