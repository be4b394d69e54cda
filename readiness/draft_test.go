package readiness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/scan"
)

func grant(kind, who, permission string) acl.Grant {
	if kind == acl.TypeGroup {
		return acl.Grant{Type: kind, URI: who, Permission: permission}
	}
	return acl.Grant{Type: kind, ID: who, Permission: permission}
}

func result(key string, effective acl.Findings, grants ...acl.Grant) *scan.Result {
	return &scan.Result{Key: key, OwnerID: "owner", Grants: append([]acl.Grant{grant(acl.TypeCanonicalUser, "owner", "FULL_CONTROL")}, grants...),
		Findings: effective, Effective: effective, ViaACL: effective}
}

// A public finding the bucket policy makes, not the ACL, is not the
// draft's to keep: disabling ACLs leaves the policy as it is.
func TestDraftLeavesPolicyFindingsAlone(t *testing.T) {
	d := NewDraft("b")
	r := result("k", public, grant(acl.TypeGroup, acl.AllUsersURI, "READ"))
	r.ViaACL = 0 // the ACL's public grant is ignored; the policy opens it
	if err := d.Write(r); err != nil {
		t.Fatal(err)
	}
	res, err := d.Policy(nil, "owner")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Empty() {
		t.Errorf("statements %+v, want none: the ACL grants nothing now", res.Policy.Statement)
	}
}

var (
	public = acl.Findings(0).With(acl.Public)
	cross  = acl.Findings(0).With(acl.CrossAccount)
)

func TestDraftPolicy(t *testing.T) {
	d := NewDraft("bkt")
	partnerRead := grant(acl.TypeCanonicalUser, "partner", "READ")
	for _, r := range []*scan.Result{
		// Every object under feeds/ is shared with the partner: one prefix.
		result("feeds/a.json", cross, partnerRead),
		result("feeds/b.json", cross, partnerRead),
		result("feeds/daily/c.json", cross, partnerRead),
		// Under docs/ only one of two: that key alone.
		result("docs/shared.pdf", cross, partnerRead),
		result("docs/private.pdf", 0),
		// Public today.
		result("site/index.html", public, grant(acl.TypeGroup, acl.AllUsersURI, "READ")),
		// Public in its ACL, but ignored (IgnorePublicAcls): gives nothing today.
		{Key: "site/old.html", OwnerID: "owner", Grants: []acl.Grant{grant(acl.TypeGroup, acl.AllUsersURI, "READ")}, Findings: public},
		// Full control: read and read the ACL.
		result("x/full", cross, grant(acl.TypeCanonicalUser, "auditor", "FULL_CONTROL")),
		result("x/other", 0),
		// No policy equivalent.
		result("y/email", cross, acl.Grant{Type: acl.TypeEmail, Email: "a@example.com", Permission: "READ"}),
		// Not readable: nothing to carry over.
		{Key: "z/denied", Status: scan.StatusDenied, Findings: acl.Findings(0).With(acl.Unreadable), Effective: acl.Findings(0).With(acl.Unreadable)},
	} {
		if err := d.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	bucketACL := []acl.Grant{grant(acl.TypeCanonicalUser, "owner", "FULL_CONTROL"), grant(acl.TypeGroup, acl.LogDeliveryURI, "WRITE"), grant(acl.TypeCanonicalUser, "writer", "WRITE")}
	res, err := d.Policy(bucketACL, "owner")
	if err != nil {
		t.Fatal(err)
	}
	var back Policy
	if err := json.Unmarshal(res.JSON, &back); err != nil {
		t.Fatalf("the draft is not JSON: %v\n%s", err, res.JSON)
	}
	got := map[string][]string{}
	for _, st := range back.Statement {
		var principal bytes.Buffer
		_ = json.Compact(&principal, st.Principal)
		got[principal.String()+" "+strings.Join(st.Action, ",")] = st.Resource
	}
	want := map[string][]string{
		`{"Service":"logging.s3.amazonaws.com"} s3:PutObject`:     {"arn:aws:s3:::bkt/*"},
		`{"CanonicalUser":"writer"} s3:DeleteObject,s3:PutObject`: {"arn:aws:s3:::bkt/*"},
		`{"CanonicalUser":"partner"} s3:GetObject`:                {"arn:aws:s3:::bkt/docs/shared.pdf", "arn:aws:s3:::bkt/feeds/*"},
		`"*" s3:GetObject`: {"arn:aws:s3:::bkt/site/index.html"},
		`{"CanonicalUser":"auditor"} s3:GetObject,s3:GetObjectAcl`: {"arn:aws:s3:::bkt/x/full"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statements:\n got %v\nwant %v\n%s", got, want, res.JSON)
	}
	// The draft, evaluated like any bucket policy, keeps every reader:
	// the email grant it could not carry is warned about, not a reader.
	check := d.Verify(res, "owner")
	if check.Objects != 11 || check.Different != 0 || check.String() != "the draft keeps every reader of 11 objects and adds none" {
		t.Errorf("check: %+v", check)
	}
	// The check can fail: a draft that lost the partner's statement.
	var trimmed Policy
	_ = json.Unmarshal(res.JSON, &trimmed)
	kept := trimmed.Statement[:0]
	for _, st := range trimmed.Statement {
		if !strings.Contains(string(st.Principal), "partner") {
			kept = append(kept, st)
		}
	}
	trimmed.Statement = kept
	broken := *res
	broken.JSON, _ = json.Marshal(trimmed)
	if c := d.Verify(&broken, "owner"); c.Different != 4 || !strings.Contains(c.String(), `"docs/shared.pdf": CanonicalUser:partner loses s3:GetObject`) {
		t.Errorf("a draft without the partner: %s", c)
	}
	warnings := strings.Join(res.Warnings, "\n")
	for _, w := range []string{"LogDelivery", "readable by anyone", "1 object grants left out: grants by email"} {
		if !strings.Contains(warnings, w) {
			t.Errorf("warnings lack %q:\n%s", w, warnings)
		}
	}
}

func TestDraftWarnsOverTheSizeLimit(t *testing.T) {
	d := NewDraft("bkt")
	for i := range 1000 {
		// Every other key shared: no prefix covers them, each is listed.
		key := fmt.Sprintf("data/object-%04d", i)
		if i%2 == 0 {
			_ = d.Write(result(key, cross, grant(acl.TypeCanonicalUser, "partner", "READ")))
		} else {
			_ = d.Write(result(key, 0))
		}
	}
	res, err := d.Policy(nil, "owner")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.JSON) <= PolicySizeLimit || !strings.Contains(strings.Join(res.Warnings, "\n"), "over the 20 KB bucket policy limit") {
		t.Errorf("%d bytes, warnings %q", len(res.JSON), res.Warnings)
	}
}

func TestNothingToKeep(t *testing.T) {
	d := NewDraft("bkt")
	_ = d.Write(result("a", 0))
	res, err := d.Policy([]acl.Grant{grant(acl.TypeCanonicalUser, "owner", "FULL_CONTROL")}, "owner")
	if err != nil || !res.Empty() || len(res.Warnings) != 0 {
		t.Errorf("empty = %v, warnings %q, %v", res.Empty(), res.Warnings, err)
	}
}

// Keys holding the policy language's wildcard characters are written so
// that they match themselves alone.
func TestDraftKeysWithWildcardCharacters(t *testing.T) {
	d := NewDraft("bkt")
	partnerRead := grant(acl.TypeCanonicalUser, "partner", "READ")
	for _, r := range []*scan.Result{
		result("a*b", cross, partnerRead), result("aXb", 0), result("q?", cross, partnerRead), result("qq", 0), result("${x}", cross, partnerRead), result("y", 0),
	} {
		if err := d.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	res, err := d.Policy(nil, "owner")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res.JSON), `"arn:aws:s3:::bkt/a${*}b"`) || !strings.Contains(string(res.JSON), `"arn:aws:s3:::bkt/${$}{x}"`) {
		t.Errorf("keys not written literally:\n%s", res.JSON)
	}
	if c := d.Verify(res, "owner"); c.Different != 0 || c.Objects != 6 {
		t.Errorf("check: %s", c)
	}
}
