package acl

import (
	"reflect"
	"strings"
	"testing"
)

const doorsPolicy = `{"Version":"2012-10-17","Statement":[
	{"Sid":"PublicPrefix","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/public/*"},
	{"Sid":"NoReadLocked","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/locked/*"},
	{"Sid":"OfficeOnly","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/office/*",
	 "Condition":{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}},
	{"Sid":"Partner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/drop/*"}]}`

func TestObjectThroughEveryDoor(t *testing.T) {
	allRead := Grant{Type: TypeGroup, URI: AllUsersURI, Permission: "READ"}
	allFull := Grant{Type: TypeGroup, URI: AllUsersURI, Permission: "FULL_CONTROL"}
	ownerFC := Grant{Type: TypeCanonicalUser, ID: "owner", Permission: "FULL_CONTROL"}
	withPolicy := BucketContext{Bucket: "b", Owner: "owner", Account: "111122223333", Policy: Read(doorsPolicy)}
	restricted := withPolicy
	restricted.BucketBlock = Read(PublicAccessBlock{RestrictPublicBuckets: true})
	ignoring := withPolicy
	ignoring.AccountBlock = Read(PublicAccessBlock{IgnorePublicACLs: true})
	enforced := withPolicy
	enforced.Ownership = Read(OwnerEnforced)
	cases := []struct {
		name             string
		ctx              BucketContext
		key, owner       string
		grants           []Grant
		findings, effect []string
		blockedBy        []string
		viaACL           []string
		sourceRefs       []string // door:ref of the effective sources
		latentSourceRefs []string
	}{
		{name: "no policy: the ACL alone", ctx: BucketContext{Owner: "owner", Policy: Read("")}, key: "x", owner: "owner",
			grants: []Grant{ownerFC, allRead}, findings: []string{"public"}, effect: []string{"public"}, viaACL: []string{"public"},
			sourceRefs: []string{"acl:AllUsers:READ"}},
		{name: "a policy makes a private object public", ctx: withPolicy, key: "public/a.txt", owner: "owner",
			grants: []Grant{ownerFC}, findings: []string{"public"}, effect: []string{"public"}, viaACL: []string{},
			sourceRefs: []string{"bucket-policy:PublicPrefix"}},
		{name: "a Deny beats a public-read ACL", ctx: withPolicy, key: "locked/a", owner: "owner",
			grants: []Grant{ownerFC, allRead}, findings: []string{"public"}, effect: []string{}, blockedBy: []string{"policy:NoReadLocked"},
			viaACL: []string{}, latentSourceRefs: []string{"acl:AllUsers:READ"}},
		{name: "a Deny of reading leaves FULL_CONTROL's other actions open", ctx: withPolicy, key: "locked/a", owner: "owner",
			grants: []Grant{ownerFC, allFull}, findings: []string{"public"}, effect: []string{"public"}, viaACL: []string{"public"},
			sourceRefs: []string{"acl:AllUsers:FULL_CONTROL"}},
		{name: "a Deny outside an address range leaves the ACL's grant conditional", ctx: withPolicy, key: "office/plan", owner: "owner",
			grants: []Grant{ownerFC, allRead}, findings: []string{"public", "conditional"}, effect: []string{"conditional"},
			blockedBy: []string{"policy:OfficeOnly"}, viaACL: []string{}, latentSourceRefs: []string{"acl:AllUsers:READ"}},
		{name: "IgnorePublicAcls blocks the ACL, not the policy", ctx: ignoring, key: "public/a", owner: "owner",
			grants: []Grant{ownerFC, allRead}, findings: []string{"public"}, effect: []string{"public"}, viaACL: []string{},
			sourceRefs: []string{"bucket-policy:PublicPrefix"}, latentSourceRefs: []string{"acl:AllUsers:READ"}},
		{name: "RestrictPublicBuckets makes a public policy's grants latent", ctx: restricted, key: "public/a", owner: "owner",
			grants: []Grant{ownerFC}, findings: []string{"public"}, effect: []string{}, blockedBy: []string{"bucket:RestrictPublicBuckets"},
			viaACL: []string{}, latentSourceRefs: []string{"bucket-policy:PublicPrefix"}},
		{name: "the policy's Allow does not reach another account's object", ctx: withPolicy, key: "public/a", owner: "stranger",
			grants:   []Grant{{Type: TypeCanonicalUser, ID: "stranger", Permission: "FULL_CONTROL"}},
			findings: []string{"cross-account", "foreign-owner"}, effect: []string{"cross-account", "foreign-owner"}, viaACL: []string{"cross-account", "foreign-owner"},
			sourceRefs: []string{"acl:stranger:FULL_CONTROL"}},
		{name: "with ACLs disabled the bucket owner owns all: the Allow reaches it", ctx: enforced, key: "public/a", owner: "stranger",
			grants:   []Grant{{Type: TypeCanonicalUser, ID: "stranger", Permission: "FULL_CONTROL"}},
			findings: []string{"public", "cross-account", "foreign-owner"}, effect: []string{"public"}, blockedBy: []string{"bucket:BucketOwnerEnforced"},
			viaACL: []string{}, sourceRefs: []string{"bucket-policy:PublicPrefix"}, latentSourceRefs: []string{"acl:stranger:FULL_CONTROL"}},
		{name: "another account may write through the policy", ctx: withPolicy, key: "drop/in.csv", owner: "owner",
			grants: []Grant{ownerFC}, findings: []string{"cross-account"}, effect: []string{"cross-account"}, viaACL: []string{},
			sourceRefs: []string{"bucket-policy:Partner"}},
		{name: "a policy that could not be read leaves the object unjudged", ctx: BucketContext{Owner: "owner", Policy: Unread[string]("GetBucketPolicy was denied")},
			key: "x", owner: "owner", grants: []Grant{ownerFC}, findings: []string{"policy-unjudged"}, effect: []string{"policy-unjudged"}, viaACL: []string{},
			sourceRefs: []string{"bucket-policy:"}},
		{name: "a policy that is not JSON leaves the object unjudged", ctx: BucketContext{Owner: "owner", Policy: Read("<ListBucketResult/>")},
			key: "x", owner: "owner", grants: []Grant{ownerFC}, findings: []string{"policy-unjudged"}, effect: []string{"policy-unjudged"}, viaACL: []string{},
			sourceRefs: []string{"bucket-policy:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := NewJudge(&tc.ctx)
			v := j.Object(tc.key, tc.owner, tc.grants, 0, Current)
			if got := v.Findings.Names(); !reflect.DeepEqual(got, tc.findings) {
				t.Errorf("findings %v, want %v", got, tc.findings)
			}
			if got := v.Effective.Names(); !reflect.DeepEqual(got, tc.effect) {
				t.Errorf("effective %v, want %v", got, tc.effect)
			}
			if !reflect.DeepEqual(v.BlockedBy, tc.blockedBy) {
				t.Errorf("blocked by %q, want %q", v.BlockedBy, tc.blockedBy)
			}
			if got := v.ViaACL.Names(); !reflect.DeepEqual(got, tc.viaACL) {
				t.Errorf("via ACL %v, want %v", got, tc.viaACL)
			}
			var effective, latent []string
			for _, s := range v.Doors.Sources(tc.owner, tc.grants) {
				ref := s.Door + ":" + s.Ref
				if s.Effective {
					effective = append(effective, ref)
				} else {
					latent = append(latent, ref)
				}
				if s.Door == DoorBucketPolicy && s.Finding == "policy-unjudged" && s.Note == "" {
					t.Errorf("an unjudged source says not why: %+v", s)
				}
			}
			if strings.Join(effective, " ") != strings.Join(tc.sourceRefs, " ") {
				t.Errorf("effective sources %v, want %v", effective, tc.sourceRefs)
			}
			if strings.Join(latent, " ") != strings.Join(tc.latentSourceRefs, " ") {
				t.Errorf("latent sources %v, want %v", latent, tc.latentSourceRefs)
			}
		})
	}
}

// The per-object path allocates nothing once a bucket's combinations are
// known: it runs millions of times.
func TestObjectAllocatesNothing(t *testing.T) {
	ctx := BucketContext{Bucket: "b", Owner: "owner", Account: "111122223333", Policy: Read(doorsPolicy),
		AccountBlock: Read(PublicAccessBlock{IgnorePublicACLs: true})}
	j := NewJudge(&ctx)
	grants := []Grant{{Type: TypeCanonicalUser, ID: "owner", Permission: "FULL_CONTROL"}, {Type: TypeGroup, URI: AllUsersURI, Permission: "READ"}}
	keys := []string{"public/a", "locked/b", "office/c", "drop/d", "other/e"}
	for _, k := range keys {
		j.Object(k, "owner", grants, 0, Current)
	}
	i := 0
	if n := testing.AllocsPerRun(200, func() { j.Object(keys[i%len(keys)], "owner", grants, 0, Latest); i++ }); n != 0 {
		t.Errorf("Object allocates %v times per call, want 0", n)
	}
}

func TestBucketDoors(t *testing.T) {
	ctx := BucketContext{Bucket: "b", Owner: "owner", Account: "111122223333", Policy: Read(`{"Version":"2012-10-17","Statement":[
		{"Sid":"List","Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"},
		{"Sid":"Drop","Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/in/*"}]}`)}
	sources, found, effective := NewJudge(&ctx).BucketDoors()
	if found.Names()[0] != "public" || !effective.Has(Public) || !effective.Has(CrossAccount) || len(sources) != 2 {
		t.Fatalf("bucket doors %+v, found %v, effective %v", sources, found.Names(), effective.Names())
	}
	if sources[0].Ref != "List" || sources[0].Actions[0] != "s3:ListBucket" {
		t.Errorf("first door %+v, want List with s3:ListBucket", sources[0])
	}
	ctx.BucketBlock = Read(PublicAccessBlock{RestrictPublicBuckets: true})
	if _, _, effective := NewJudge(&ctx).BucketDoors(); effective != 0 {
		t.Errorf("under RestrictPublicBuckets the doors are latent, got %v", effective.Names())
	}
}
