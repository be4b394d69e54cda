package acl

import (
	"reflect"
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
	want := []string{"public", "authenticated", "cross-account", "foreign-owner", "unreadable"}
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
