package scan

import (
	"context"
	"fmt"
	"testing"

	"github.com/aclscan/aclscan/internal/testkit/fakes3"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/internal/fixtures"
)

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := fixtures.ACLDocument(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestClassifyACLDocuments runs real ACL documents (RGW captures and AWS's
// documented examples) through the SDK's parser, the engine and the
// classifier, served by a fake S3 since one server cannot hold both
// vendors' owner IDs.
func TestClassifyACLDocuments(t *testing.T) {
	t.Parallel()
	const awsOwner = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"
	cases := []struct {
		doc         string
		status      int
		bucketOwner string
		wantStatus  Status
		wantKinds   []acl.Kind
		wantGrants  int
		wantOwner   string
	}{
		{"rgw-private.xml", 200, "usera", StatusOK, nil, 1, "usera"},
		{"rgw-public-read.xml", 200, "usera", StatusOK, []acl.Kind{acl.Public}, 2, "usera"},
		{"rgw-authenticated-read.xml", 200, "usera", StatusOK, []acl.Kind{acl.Authenticated}, 2, "usera"},
		{"rgw-grant-read-userb.xml", 200, "usera", StatusOK, []acl.Kind{acl.CrossAccount}, 2, "usera"},
		// Seen from user B's bucket, A's object is foreign and A's own grant cross-account.
		{"rgw-private.xml", 200, "userb", StatusOK, []acl.Kind{acl.CrossAccount, acl.ForeignOwner}, 1, "usera"},
		// The fake lists every key as owned by "owner": the listing's owner
		// names who owns an object whose ACL is unreadable.
		{"rgw-access-denied.xml", 403, "usera", StatusDenied, []acl.Kind{acl.Unreadable, acl.ForeignOwner}, 0, "owner"},
		{"rgw-access-denied.xml", 403, "owner", StatusDenied, []acl.Kind{acl.Unreadable}, 0, "owner"},
		{"aws-getobjectacl-example.xml", 200, awsOwner, StatusOK, nil, 1, awsOwner},
		{"aws-mixed-grants.xml", 200, awsOwner, StatusOK, []acl.Kind{acl.Public, acl.CrossAccount}, 5, awsOwner},
		// Unknown bucket owner: owner-dependent kinds are not judged.
		{"aws-mixed-grants.xml", 200, "", StatusOK, []acl.Kind{acl.Public}, 5, awsOwner},
	}
	for _, tc := range cases {
		for _, sdk := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/%s/sdk=%v", tc.doc, tc.bucketOwner, sdk), func(t *testing.T) {
				fake := newFakeS3()
				fake.sdkACL = sdk
				bucketACL := `<AccessControlPolicy><Owner><ID>` + tc.bucketOwner + `</ID></Owner><AccessControlList/></AccessControlPolicy>`
				fake.BucketACL = fakes3.Answer{Status: 200, Body: bucketACL}
				if tc.bucketOwner == "" {
					fake.BucketACL = fakes3.Answer{Status: 403, Body: fakes3.ErrorXML("AccessDenied")}
				}
				fake.Put("the/key", tc.status, readTestdata(t, tc.doc))
				var sink collect
				sum, err := Run(context.Background(), fake.client(t), Config{Bucket: "b"}, &sink, nil)
				if err != nil {
					t.Fatal(err)
				}
				r, ok := sink.byKey["the/key\x00"]
				if !ok || len(sink.byKey) != 1 {
					t.Fatalf("want one result for the/key, got %v", sink.order)
				}
				if r.Status != tc.wantStatus {
					t.Errorf("status = %s, want %s (err %q)", r.Status, tc.wantStatus, r.Err)
				}
				var want acl.Findings
				for _, k := range tc.wantKinds {
					want = want.With(k)
				}
				if r.Findings != want {
					t.Errorf("findings = %v, want %v; grants %+v", r.Findings.Names(), want.Names(), r.Grants)
				}
				if len(r.Grants) != tc.wantGrants {
					t.Errorf("got %d grants, want %d: %+v", len(r.Grants), tc.wantGrants, r.Grants)
				}
				if r.OwnerID != tc.wantOwner {
					t.Errorf("owner = %q, want %q", r.OwnerID, tc.wantOwner)
				}
				if (tc.bucketOwner == "") != (sum.OwnerProblem != "") {
					t.Errorf("owner problem = %q with bucket owner %q", sum.OwnerProblem, tc.bucketOwner)
				}
			})
		}
	}
}

// TestGrantFieldsFromXML checks each grantee shape lands in the right
// field, through the lean path and the SDK's.
func TestGrantFieldsFromXML(t *testing.T) {
	t.Parallel()
	for _, sdk := range []bool{false, true} {
		t.Run(fmt.Sprintf("sdk=%v", sdk), func(t *testing.T) { checkGrantFields(t, sdk) })
	}
}

func checkGrantFields(t *testing.T, sdk bool) {
	fake := newFakeS3()
	fake.sdkACL = sdk
	fake.BucketACL = fakes3.Answer{Status: 200, Body: readTestdata(t, "rgw-bucket-acl.xml")}
	fake.Put("k", 200, readTestdata(t, "aws-mixed-grants.xml"))
	var sink collect
	if _, err := Run(context.Background(), fake.client(t), Config{Bucket: "b"}, &sink, nil); err != nil {
		t.Fatal(err)
	}
	got := sink.byKey["k\x00"].Grants
	want := []acl.Grant{
		{Type: "CanonicalUser", ID: "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a", Permission: "FULL_CONTROL"},
		{Type: "CanonicalUser", ID: "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be", Permission: "READ_ACP"},
		{Type: "Group", URI: acl.LogDeliveryURI, Permission: "WRITE"},
		{Type: "AmazonCustomerByEmail", Email: "xyz@amazon.com", Permission: "WRITE_ACP"},
		{Type: "Group", URI: acl.AllUsersURI, Permission: "READ"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d grants, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("grant %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
