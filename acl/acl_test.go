package acl

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
)

func TestClassify(t *testing.T) {
	owner := func(id, perm string) Grant { return Grant{Type: TypeCanonicalUser, ID: id, Permission: perm} }
	group := func(uri, perm string) Grant { return Grant{Type: TypeGroup, URI: uri, Permission: perm} }
	cases := []struct {
		name        string
		bucketOwner string
		objectOwner string
		grants      []Grant
		want        []string
	}{
		{"private", "a", "a", []Grant{owner("a", "FULL_CONTROL")}, []string{}},
		{"no grants at all", "a", "a", nil, []string{}},
		{"public read", "a", "a", []Grant{group(AllUsersURI, "READ"), owner("a", "FULL_CONTROL")}, []string{"public"}},
		{"public write only", "a", "a", []Grant{group(AllUsersURI, "WRITE_ACP")}, []string{"public"}},
		{"authenticated read", "a", "a", []Grant{group(AuthenticatedUsersURI, "READ")}, []string{"authenticated"}},
		{"https and case in group URI", "a", "a", []Grant{group("HTTPS://acs.amazonaws.com/groups/global/allusers", "READ")}, []string{"public"}},
		{"log delivery is not a finding", "a", "a", []Grant{group(LogDeliveryURI, "WRITE")}, []string{}},
		{"unknown group is reported", "a", "a", []Grant{group("http://acs.amazonaws.com/groups/global/NewGroup", "READ")}, []string{"cross-account"}},
		{"unknown group, owner unknown", "", "", []Grant{group("http://example.com/groups/x", "READ")}, []string{"cross-account"}},
		{"grant to another account", "a", "a", []Grant{owner("a", "FULL_CONTROL"), owner("b", "READ")}, []string{"cross-account"}},
		{"email grantee", "a", "a", []Grant{{Type: TypeEmail, Email: "x@example.com", Permission: "READ"}}, []string{"cross-account"}},
		{"foreign owner with its own grant", "a", "b", []Grant{owner("b", "FULL_CONTROL")}, []string{"cross-account", "foreign-owner"}},
		{"owner unknown: only group kinds judged", "", "b", []Grant{owner("b", "READ"), group(AllUsersURI, "READ")}, []string{"public"}},
		{"object owner unknown", "a", "", []Grant{owner("a", "READ")}, []string{}},
		{"everything", "a", "c", []Grant{group(AllUsersURI, "READ"), group(AuthenticatedUsersURI, "WRITE"), owner("b", "READ")}, []string{"public", "authenticated", "cross-account", "foreign-owner"}},
		{"unknown grantee type is reported", "a", "a", []Grant{{Type: "Martian", ID: "z", Permission: "READ"}}, []string{"cross-account"}},
		{"grantee without a type is reported", "", "", []Grant{{ID: "z", Permission: "READ"}}, []string{"cross-account"}},
		// MinIO's fixed ACL: no owner, one canonical user with no ID. An
		// empty ID names no account: not provably another one.
		{"canonical user without an ID", "a", "", []Grant{owner("", "FULL_CONTROL")}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Classify(tc.bucketOwner, tc.objectOwner, tc.grants).Names()
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Classify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestKindNamesRoundTrip(t *testing.T) {
	want := []string{"public", "authenticated", "cross-account", "foreign-owner", "unreadable", "conditional", "policy-unjudged"}
	for i, k := range AllKinds() {
		if k.String() != want[i] {
			t.Errorf("kind %d is %q, want %q", i, k, want[i])
		}
		back, ok := ParseKind(want[i])
		if !ok || back != k {
			t.Errorf("ParseKind(%q) = %v, %v", want[i], back, ok)
		}
	}
	if _, ok := ParseKind("Public"); ok {
		t.Error("ParseKind accepted a wrongly cased name")
	}
}

func TestFindingsSet(t *testing.T) {
	f := Findings(0).With(Unreadable).With(Public)
	if !f.Has(Public) || !f.Has(Unreadable) || f.Has(CrossAccount) {
		t.Fatalf("set %v has the wrong members", f.Names())
	}
	if !reflect.DeepEqual(f.Kinds(), []Kind{Public, Unreadable}) {
		t.Errorf("Kinds() = %v", f.Kinds())
	}
	if f.Any(OwnerDependent) || !f.With(ForeignOwner).Any(OwnerDependent) {
		t.Error("Any does not match OwnerDependent correctly")
	}
}

// FuzzClassify checks the classifier's rules as properties, for any
// owners and grants: each finding comes from a grant (or the owners) that
// justifies it, no grant other than the owner's own or LogDelivery's goes
// unreported, order does not matter, and a grant added never takes a
// finding away.
func FuzzClassify(f *testing.F) {
	f.Add("owner", "owner", []byte("G\x00http://acs.amazonaws.com/groups/global/AllUsers\x00READ"))
	f.Add("owner", "other", []byte("C\x00owner\x00FULL_CONTROL\x01C\x00other\x00READ"))
	f.Add("", "x", []byte("E\x00a@example.com\x00READ\x01G\x00HTTPS://ACS.amazonaws.com/groups/global/authenticatedusers\x00WRITE"))
	f.Add("o", "o", []byte("X\x00whatever\x00READ\x01G\x00http://acs.amazonaws.com/groups/s3/LogDelivery\x00WRITE"))
	f.Fuzz(func(t *testing.T, bucketOwner, objectOwner string, encoded []byte) {
		grants := decodeGrants(encoded)
		got := Classify(bucketOwner, objectOwner, grants)

		var want Findings
		for _, g := range grants {
			switch {
			case g.Type == TypeGroup && isGroup(g.URI, AllUsersURI):
				want = want.With(Public)
			case g.Type == TypeGroup && isGroup(g.URI, AuthenticatedUsersURI):
				want = want.With(Authenticated)
			case g.Type == TypeGroup && isGroup(g.URI, LogDeliveryURI):
			case g.Type == TypeCanonicalUser && (bucketOwner == "" || g.ID == bucketOwner || g.ID == ""):
			case g.Type == TypeEmail && bucketOwner == "":
			default:
				want = want.With(CrossAccount)
			}
		}
		if bucketOwner != "" && objectOwner != "" && objectOwner != bucketOwner {
			want = want.With(ForeignOwner)
		}
		if got != want {
			t.Fatalf("Classify(%q, %q, %+v) = %v, want %v", bucketOwner, objectOwner, grants, got.Names(), want.Names())
		}
		if got.Has(Unreadable) {
			t.Fatal("Unreadable comes from a denied fetch, never from grants")
		}
		reversed := slices.Clone(grants)
		slices.Reverse(reversed)
		if Classify(bucketOwner, objectOwner, reversed) != got {
			t.Fatal("grant order changed the findings")
		}
		for i := range grants {
			if fewer := Classify(bucketOwner, objectOwner, grants[:i]); fewer&^got != 0 {
				t.Fatalf("the first %d grants give %v, more than all of them (%v)", i, fewer.Names(), got.Names())
			}
		}
	})
}

// decodeGrants reads grants as fields separated by 0x00 (type letter,
// value, permission) and grants separated by 0x01.
func decodeGrants(b []byte) []Grant {
	var grants []Grant
	for _, part := range bytes.Split(b, []byte{1}) {
		fields := bytes.SplitN(part, []byte{0}, 3)
		if len(fields) < 3 {
			continue
		}
		g := Grant{Permission: string(fields[2])}
		value := string(fields[1])
		switch string(fields[0]) {
		case "G":
			g.Type, g.URI = TypeGroup, value
		case "C":
			g.Type, g.ID = TypeCanonicalUser, value
		case "E":
			g.Type, g.Email = TypeEmail, value
		default:
			g.Type, g.ID = string(fields[0]), value
		}
		grants = append(grants, g)
	}
	return grants
}

func TestDescribe(t *testing.T) {
	grants := []Grant{
		{Type: TypeCanonicalUser, ID: "owner", Permission: "FULL_CONTROL"},
		{Type: TypeGroup, URI: AllUsersURI, Permission: "READ"},
		{Type: TypeEmail, Email: "a@example.com", Permission: "READ_ACP"},
		{Type: TypeCanonicalUser, Permission: "WRITE_ACP"},
	}
	cases := []struct{ except, want string }{
		{"", "owner:FULL_CONTROL AllUsers:READ a@example.com:READ_ACP (no id):WRITE_ACP"},
		{"owner", "AllUsers:READ a@example.com:READ_ACP (no id):WRITE_ACP"},
	}
	for _, tc := range cases {
		if got := Describe(grants, tc.except); got != tc.want {
			t.Errorf("Describe(except %q) = %q, want %q", tc.except, got, tc.want)
		}
	}
}

// A grant without a type is typed by its one identifier; one with none or
// several stays untyped and, so, reported as shared.
func TestInferType(t *testing.T) {
	for _, tc := range []struct {
		in       Grant
		wantType string
		want     Findings
	}{
		{Grant{ID: "owner"}, TypeCanonicalUser, 0},
		{Grant{ID: "other"}, TypeCanonicalUser, Findings(0).With(CrossAccount)},
		{Grant{URI: AllUsersURI}, TypeGroup, Findings(0).With(Public)},
		{Grant{Email: "a@example.com"}, TypeEmail, Findings(0).With(CrossAccount)},
		{Grant{ID: "owner", URI: AllUsersURI}, "", Findings(0).With(CrossAccount)},
		{Grant{}, "", Findings(0).With(CrossAccount)},
		// A type given is kept, whatever the identifiers.
		{Grant{Type: TypeGroup, ID: "owner", URI: AuthenticatedUsersURI}, TypeGroup, Findings(0).With(Authenticated)},
	} {
		g := tc.in
		g.Permission = "READ"
		g.InferType()
		if g.Type != tc.wantType {
			t.Errorf("%+v: type %q, want %q", tc.in, g.Type, tc.wantType)
		}
		if f := Classify("owner", "owner", []Grant{g}); f != tc.want {
			t.Errorf("%+v: findings %v, want %v", tc.in, f.Names(), tc.want.Names())
		}
	}
}
