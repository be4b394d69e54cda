//go:build integration

package scan

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// doorsPolicy mixes the ways a bucket policy opens and shuts objects:
// prefixes, a Deny on a sub-prefix, a mid-key wildcard, conditions on the
// source address and VPC endpoint, another user and the owner as
// principals, and a Deny over public-read ACLs. The VPC endpoint's Deny
// says IfExists: AWS applies StringNotEquals on an absent key (the IAM
// reference: a negated operator on a missing key is true) and so does
// aclscan, but radosgw 16 does not (docs/doors.md), so the oracle case
// uses the form both agree on; the unit tests hold AWS's rule.
const doorsPolicy = `{"Version":"2012-10-17","Statement":[
 {"Sid":"PublicPrefix","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::%[1]s/public/*"},
 {"Sid":"SecretShut","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::%[1]s/public/secret/*"},
 {"Sid":"Pdfs","Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:Get*","Resource":"arn:aws:s3:::%[1]s/*.pdf"},
 {"Sid":"Office","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::%[1]s/office/*",
  "Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}},
 {"Sid":"VpceOpen","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::%[1]s/vpce/*"},
 {"Sid":"VpceOnly","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::%[1]s/vpce/*",
  "Condition":{"StringNotEqualsIfExists":{"aws:SourceVpce":"vpce-1a2b3c4d"}}},
 {"Sid":"Partner","Effect":"Allow","Principal":{"AWS":["arn:aws:iam:::user/%[2]s"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::%[1]s/partner/*"},
 {"Sid":"Owner","Effect":"Allow","Principal":{"AWS":["arn:aws:iam:::user/%[3]s"]},"Action":"s3:*","Resource":"arn:aws:s3:::%[1]s/own/*"},
 {"Sid":"AclShut","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::%[1]s/acl-denied/*"}
]}`

// The server is the oracle: for every object, an anonymous GET and a GET
// by another user say who can really read it, and aclscan's effective
// findings must agree, object by object.
func TestIntegrationPolicyDoorsAgreeWithTheServer(t *testing.T) {
	t.Parallel()
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	bucket := locals3.NewBucket(t, env, "doors")
	if _, err := a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &bucket,
		Policy: aws.String(fmt.Sprintf(doorsPolicy, bucket, env.B.ID, env.A.ID))}); err != nil {
		t.Fatalf("put bucket policy: %v", err)
	}
	type object struct {
		key   string
		acl   types.ObjectCannedACL
		grant string // x-amz-grant-read
	}
	objects := []object{
		{key: "public/a.txt"}, {key: "public/with space.txt"}, {key: "public/100%.txt"}, {key: "public/a+b.txt"},
		{key: "public/secret/x.txt"}, {key: "docs/2026/report.pdf"}, {key: "docs/report.pdf.txt"},
		{key: "office/plan.txt"}, {key: "vpce/data.bin"}, {key: "partner/data.csv"}, {key: "own/mine.txt"},
		{key: "acl-denied/pub.txt", acl: types.ObjectCannedACLPublicRead},
		{key: "acl-public/pub.txt", acl: types.ObjectCannedACLPublicRead},
		{key: "acl-userb/shared.txt", grant: "id=" + env.B.ID},
		{key: "plain/private.txt"},
	}
	for _, o := range objects {
		in := &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(o.key), Body: strings.NewReader("x")}
		if o.acl != "" {
			in.ACL = o.acl
		}
		if o.grant != "" {
			in.GrantRead = aws.String(o.grant)
		}
		if _, err := a.PutObject(ctx, in); err != nil {
			t.Fatalf("put %s: %v", o.key, err)
		}
	}

	sum, sink := scanAll(t, newClient(t, env, s3access.Options{}), Config{Bucket: bucket, VerifyPublic: true})
	if sum.Objects != int64(len(objects)) {
		t.Fatalf("%d objects scanned, want %d", sum.Objects, len(objects))
	}
	b := env.Client(env.B)
	for _, o := range objects {
		r, ok := sink.byKey[o.key+"\x00"]
		if !ok {
			t.Errorf("%s: no result", o.key)
			continue
		}
		anonymous := servedAnonymously(t, env.HTTPURL, bucket, o.key)
		_, err := b.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String(o.key)})
		byB := err == nil
		if err != nil && !s3access.IsAccessDenied(err) {
			t.Fatalf("GET %s as user B: %v", o.key, err)
		}
		sources := r.Doors.Sources(r.OwnerID, r.Grants)
		saysAnyone, saysB := readers(sources, env.B.ID)
		if saysAnyone != anonymous {
			t.Errorf("%s: aclscan says anyone reads it %v, the server served an anonymous GET %v (findings %v, effective %v, sources %+v)",
				o.key, saysAnyone, anonymous, r.Findings.Names(), r.Effective.Names(), sources)
		}
		if saysAnyone || saysB != byB {
			if (saysAnyone || saysB) != byB {
				t.Errorf("%s: aclscan says user B reads it %v, the server served B %v (sources %+v)", o.key, saysAnyone || saysB, byB, sources)
			}
		}
		if anonymous != (r.Verified == Served) {
			t.Errorf("%s: --verify-public says %v, the server served anyone %v", o.key, r.Verified, anonymous)
		}
	}

	// What each door is reported as, beyond who reads.
	for key, want := range map[string]struct {
		effective []string
		blockedBy []string
		ref       string
	}{
		"public/a.txt":         {[]string{"public"}, nil, "PublicPrefix"},
		"office/plan.txt":      {[]string{"conditional"}, nil, "Office"},
		"vpce/data.bin":        {[]string{"conditional"}, []string{"policy:VpceOnly"}, "VpceOpen"},
		"partner/data.csv":     {[]string{"cross-account"}, nil, "Partner"},
		"acl-denied/pub.txt":   {[]string{}, []string{"policy:AclShut"}, "AllUsers:READ"},
		"own/mine.txt":         {[]string{}, nil, ""},
		"docs/2026/report.pdf": {[]string{"public"}, nil, "Pdfs"},
	} {
		r := sink.byKey[key+"\x00"]
		if got := r.Effective.Names(); !slices.Equal(got, want.effective) {
			t.Errorf("%s: effective %v, want %v", key, got, want.effective)
		}
		if !slices.Equal(r.BlockedBy, want.blockedBy) {
			t.Errorf("%s: blocked by %v, want %v", key, r.BlockedBy, want.blockedBy)
		}
		if want.ref != "" && !slices.ContainsFunc(r.Doors.Sources(r.OwnerID, r.Grants), func(s acl.Source) bool { return s.Ref == want.ref }) {
			t.Errorf("%s: no source names %s: %+v", key, want.ref, r.Doors.Sources(r.OwnerID, r.Grants))
		}
	}
	if sum.FoundEffective(acl.Public) != 6 {
		t.Errorf("%d objects effectively public, want 6 (four under public/, the pdf, the public-read ACL)", sum.FoundEffective(acl.Public))
	}
	if !sum.Context.Policy.Known || sum.Context.Policy.Value == "" {
		t.Errorf("the bucket policy was not read: %+v", sum.Context.Policy)
	}
}

// readers says, from an object's sources, whether anyone may read it
// (s3:GetObject) now, and whether the user with this canonical ID may.
func readers(sources []acl.Source, user string) (anyone, named bool) {
	for _, s := range sources {
		if !s.Effective || !slices.Contains(s.Actions, "s3:GetObject") {
			continue
		}
		switch s.Finding {
		case acl.Public.String():
			anyone = true
		case acl.Authenticated.String():
			named = true
		case acl.CrossAccount.String():
			named = named || s.Principal == user || strings.HasSuffix(s.Principal, ":user/"+user)
		}
	}
	return anyone, named
}

// servedAnonymously asks the server, with no credentials, for the object.
func servedAnonymously(t *testing.T, endpoint, bucket, key string) bool {
	t.Helper()
	u := endpoint + "/" + bucket + "/" + (&url.URL{Path: key}).EscapedPath()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("anonymous GET %s: %v", u, err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true
	case http.StatusForbidden:
		return false
	}
	t.Fatalf("anonymous GET %s: HTTP %d", u, resp.StatusCode)
	return false
}
