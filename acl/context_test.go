package acl

import (
	"reflect"
	"testing"
)

func TestJudgeEffective(t *testing.T) {
	ignore := Read(PublicAccessBlock{IgnorePublicACLs: true})
	blockOnly := Read(PublicAccessBlock{BlockPublicACLs: true, BlockPublicPolicy: true, RestrictPublicBuckets: true})
	all := Findings(0).With(Public).With(Authenticated).With(CrossAccount).With(ForeignOwner).With(Unreadable)
	cases := []struct {
		name          string
		ctx           BucketContext
		findings      Findings
		wantEffective []string
		wantBlockedBy []string
	}{
		{"nothing known blocks nothing", BucketContext{}, all,
			[]string{"public", "authenticated", "cross-account", "foreign-owner", "unreadable"}, nil},
		{"unreadable settings block nothing", BucketContext{
			BucketBlock: Unread[PublicAccessBlock]("AccessDenied"), AccountBlock: Unread[PublicAccessBlock]("AccessDenied"),
			Ownership: Unread[string]("AccessDenied"),
		}, all, []string{"public", "authenticated", "cross-account", "foreign-owner", "unreadable"}, nil},
		{"BlockPublicAcls alone does not ignore existing grants", BucketContext{BucketBlock: blockOnly}, Findings(0).With(Public),
			[]string{"public"}, nil},
		{"bucket IgnorePublicAcls", BucketContext{BucketBlock: ignore}, all,
			[]string{"cross-account", "foreign-owner", "unreadable"}, []string{"bucket:IgnorePublicAcls"}},
		{"account IgnorePublicAcls", BucketContext{AccountBlock: ignore}, Findings(0).With(Authenticated),
			[]string{}, []string{"account:IgnorePublicAcls"}},
		{"both levels are named", BucketContext{AccountBlock: ignore, BucketBlock: ignore}, Findings(0).With(Public),
			[]string{}, []string{"account:IgnorePublicAcls", "bucket:IgnorePublicAcls"}},
		{"IgnorePublicAcls leaves a cross-account grant alone", BucketContext{BucketBlock: ignore}, Findings(0).With(CrossAccount),
			[]string{"cross-account"}, nil},
		{"BucketOwnerEnforced drops every ACL finding", BucketContext{Ownership: Read(OwnerEnforced)}, all,
			[]string{"unreadable"}, []string{"bucket:BucketOwnerEnforced"}},
		{"enforced and ignore on a public object", BucketContext{Ownership: Read(OwnerEnforced), AccountBlock: ignore}, Findings(0).With(Public),
			[]string{}, []string{"account:IgnorePublicAcls", "bucket:BucketOwnerEnforced"}},
		{"enforced and ignore on a cross-account object", BucketContext{Ownership: Read(OwnerEnforced), AccountBlock: ignore}, Findings(0).With(CrossAccount),
			[]string{}, []string{"bucket:BucketOwnerEnforced"}},
		{"preferred ownership keeps ACLs", BucketContext{Ownership: Read(OwnerPreferred)}, Findings(0).With(CrossAccount),
			[]string{"cross-account"}, nil},
		{"no findings, nothing blocked", BucketContext{BucketBlock: ignore}, 0, []string{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := NewJudge(&tc.ctx)
			eff, by := j.Effective(tc.findings)
			if got := eff.Names(); !reflect.DeepEqual(got, tc.wantEffective) {
				t.Errorf("effective = %v, want %v", got, tc.wantEffective)
			}
			if !reflect.DeepEqual(by, tc.wantBlockedBy) {
				t.Errorf("blocked by = %q, want %q", by, tc.wantBlockedBy)
			}
		})
	}
}

func TestJudgeEffectiveAllocatesNothing(t *testing.T) {
	ctx := BucketContext{Ownership: Read(OwnerEnforced), AccountBlock: Read(PublicAccessBlock{IgnorePublicACLs: true})}
	j := NewJudge(&ctx)
	f := Findings(0).With(Public).With(CrossAccount)
	if n := testing.AllocsPerRun(100, func() { _, _ = j.Effective(f) }); n != 0 {
		t.Errorf("Effective allocates %v times per call, want 0 (it runs once per object)", n)
	}
}
