package acl

import (
	"os"
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
			checkVerdict(t, v, tc.findings, tc.effect, tc.blockedBy)
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

// Access points: a request through one needs its policy and the bucket's
// side (the bucket policy's delegation, or the ACL) to allow it.
func TestAccessPointDoors(t *testing.T) {
	const account = "111122223333"
	ownerFC := Grant{Type: TypeCanonicalUser, ID: "owner", Permission: "FULL_CONTROL"}
	apARN := func(name string) string { return "arn:aws:s3:us-east-1:" + account + ":accesspoint/" + name }
	apPolicy := func(name, prefix string) string {
		return `{"Version":"2012-10-17","Statement":[{"Sid":"Open","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"` + apARN(name) + `/object/` + prefix + `*"}]}`
	}
	delegate := Read(`{"Version":"2012-10-17","Statement":[{"Sid":"Delegate","Effect":"Allow","Principal":{"AWS":"*"},"Action":"*",
		"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"StringEquals":{"s3:DataAccessPointAccount":"` + account + `"}}}]}`)
	web := AccessPoint{Name: "web", ARN: apARN("web"), NetworkOrigin: "Internet", Block: Read(PublicAccessBlock{}), Policy: Read(apPolicy("web", "public/"))}
	inside := AccessPoint{Name: "inside", ARN: apARN("inside"), NetworkOrigin: "VPC", VpcID: "vpc-1", Block: Read(PublicAccessBlock{}), Policy: Read(apPolicy("inside", ""))}
	restricted := web
	restricted.Block = Read(PublicAccessBlock{RestrictPublicBuckets: true})
	unreadable := web
	unreadable.Policy = Unread[string]("S3 Control GetAccessPointPolicy was denied")
	base := BucketContext{Bucket: "b", Owner: "owner", Account: account}
	for _, tc := range []struct {
		name           string
		policy         Reading[string]
		aps            []AccessPoint
		key            string
		grants         []Grant
		found, effect  []string
		blockedBy      []string
		sourceDoorRefs []string
	}{
		{"delegated: public through the access point, nothing directly", delegate, []AccessPoint{web}, "public/x", []Grant{ownerFC},
			[]string{"public"}, []string{"public"}, nil, []string{"access-point:web:Open"}},
		{"outside the access point's resources: nothing", delegate, []AccessPoint{web}, "private/x", []Grant{ownerFC},
			[]string{}, []string{}, nil, nil},
		{"no delegation and a private ACL: the bucket does not allow it", Read(""), []AccessPoint{web}, "public/x", []Grant{ownerFC},
			[]string{}, []string{}, nil, nil},
		{"no delegation, a public-read ACL: the ACL is the bucket's side", Read(""), []AccessPoint{web}, "public/x",
			[]Grant{ownerFC, {Type: TypeGroup, URI: AllUsersURI, Permission: "READ"}},
			[]string{"public"}, []string{"public"}, nil, []string{"acl:AllUsers:READ", "access-point:web:Open"}},
		{"a VPC access point: conditional", delegate, []AccessPoint{inside}, "any", []Grant{ownerFC},
			[]string{"conditional"}, []string{"conditional"}, nil, []string{"access-point:inside:Open"}},
		{"the access point's RestrictPublicBuckets: latent", delegate, []AccessPoint{restricted}, "public/x", []Grant{ownerFC},
			[]string{"public"}, []string{}, []string{"access-point:web:RestrictPublicBuckets"}, nil},
		{"an access point policy that could not be read: unjudged", delegate, []AccessPoint{unreadable}, "public/x", []Grant{ownerFC},
			[]string{"policy-unjudged"}, []string{"policy-unjudged"}, nil, []string{"access-point:web:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := base
			ctx.Policy, ctx.AccessPoints = tc.policy, Read(tc.aps)
			v := NewJudge(&ctx).Object(tc.key, "owner", tc.grants, 0, Current)
			checkVerdict(t, v, tc.found, tc.effect, tc.blockedBy)
			var refs []string
			for _, s := range v.Doors.Sources("owner", tc.grants) {
				if s.Effective {
					refs = append(refs, s.Door+":"+s.Ref)
				}
			}
			if !reflect.DeepEqual(refs, tc.sourceDoorRefs) {
				t.Errorf("effective sources %v, want %v", refs, tc.sourceDoorRefs)
			}
		})
	}
	// Access points that could not be read are said once, not per object.
	ctx := base
	ctx.Policy, ctx.AccessPoints = Read(""), Unread[[]AccessPoint]("not read: the S3 endpoint is not AWS")
	j := NewJudge(&ctx)
	if v := j.Object("x", "owner", []Grant{ownerFC}, 0, Current); v.Findings != 0 || j.AccessPointsProblem() == "" {
		t.Errorf("unread access points: findings %v, problem %q", v.Findings.Names(), j.AccessPointsProblem())
	}
}

// BenchmarkJudgeObject is the judge's per-object cost: the ACL alone, and
// the ACL with a 20-statement bucket policy (docs/benchmarks/policy.md).
func BenchmarkJudgeObject(b *testing.B) {
	// The policy of policy's BenchmarkObject.
	policyDoc, err := os.ReadFile("../policy/testdata/bench-20-statements.json")
	if err != nil {
		b.Fatal(err)
	}
	doc := string(policyDoc)
	grants := []Grant{{Type: TypeCanonicalUser, ID: "owner", Permission: "FULL_CONTROL"}, {Type: TypeGroup, URI: AllUsersURI, Permission: "READ"}}
	keys := []string{"public0/a/b/c.txt", "public0/secret/x.key", "share2/data.bin", "logs/2026/12/07/x.csv", "office3/plan.doc", "deep/path/with/many/segments/file.json"}
	for _, tc := range []struct {
		name   string
		policy Reading[string]
	}{{"acl-only", Read("")}, {"policy-20-statements", Read(doc)}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := BucketContext{Bucket: "b", Owner: "owner", Account: "111122223333", Policy: tc.policy}
			j := NewJudge(&ctx)
			for _, k := range keys {
				j.Object(k, "owner", grants, 0, Current)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j.Object(keys[i%len(keys)], "owner", grants, 0, Current)
			}
		})
	}
}

// checkVerdict compares a verdict's findings, effective findings and
// blockers with the expected ones.
func checkVerdict(t *testing.T, v Verdict, findings, effective, blockedBy []string) {
	t.Helper()
	if got := v.Findings.Names(); !reflect.DeepEqual(got, findings) {
		t.Errorf("findings %v, want %v", got, findings)
	}
	if got := v.Effective.Names(); !reflect.DeepEqual(got, effective) {
		t.Errorf("effective %v, want %v", got, effective)
	}
	if !reflect.DeepEqual(v.BlockedBy, blockedBy) {
		t.Errorf("blocked by %q, want %q", v.BlockedBy, blockedBy)
	}
}
