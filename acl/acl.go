// Package acl holds the grant model of an S3 access control list and the
// rules that classify it into findings. Everything here is a pure function
// of its inputs, so it can be table-tested and fuzzed without a server.
package acl

import "strings"

// Grantee types as S3 spells them in the xsi:type attribute.
const (
	TypeCanonicalUser = "CanonicalUser"
	TypeGroup         = "Group"
	TypeEmail         = "AmazonCustomerByEmail"
)

// Well-known group URIs.
const (
	AllUsersURI           = "http://acs.amazonaws.com/groups/global/AllUsers"
	AuthenticatedUsersURI = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
	LogDeliveryURI        = "http://acs.amazonaws.com/groups/s3/LogDelivery"
)

// Grant is one grant of an ACL: a grantee and the permission it holds.
type Grant struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	URI        string `json:"uri"`
	Email      string `json:"email"`
	Permission string `json:"permission"`
}

// InferType names the grantee type of a grant that came without one, from
// the one identifier it carries. AWS's own GetObjectAcl sample gives the
// type as a <Type> element instead of the xsi:type attribute, which the
// SDK does not read. A grant with no identifier, or with several, keeps
// no type: it is not provably anyone, and is reported as shared.
func (g *Grant) InferType() {
	if g.Type != "" {
		return
	}
	switch {
	case g.ID != "" && g.URI == "" && g.Email == "":
		g.Type = TypeCanonicalUser
	case g.URI != "" && g.ID == "" && g.Email == "":
		g.Type = TypeGroup
	case g.Email != "" && g.ID == "" && g.URI == "":
		g.Type = TypeEmail
	}
}

// Kind is a finding kind. The names are part of aclscan's output contract.
type Kind uint8

const (
	// Public: a grant to the AllUsers group (anyone on the internet).
	Public Kind = iota
	// Authenticated: a grant to the AuthenticatedUsers group (any AWS account).
	Authenticated
	// CrossAccount: a grant to a canonical user or email other than the
	// bucket owner, or to a grantee type or group aclscan does not know.
	CrossAccount
	// ForeignOwner: the object is owned by another account than the bucket's.
	ForeignOwner
	// Unreadable: the ACL could not be read (GetObjectAcl answered AccessDenied).
	Unreadable
	// Conditional: anyone may act on the object, but only under a
	// condition AWS counts as limiting (a fixed source address range,
	// VPC, VPC endpoint, organisation, account...): not public by AWS's
	// meaning, shown with its condition.
	Conditional
	// PolicyUnjudged: a door to the object could not be judged (the
	// bucket policy could not be read, or a statement that reaches the
	// object uses what aclscan cannot evaluate); the record says why.
	PolicyUnjudged
	// NumKinds is the number of finding kinds.
	NumKinds
)

var kindNames = [NumKinds]string{"public", "authenticated", "cross-account", "foreign-owner", "unreadable", "conditional", "policy-unjudged"}

// AllKinds lists every finding kind in output order.
func AllKinds() []Kind {
	return []Kind{Public, Authenticated, CrossAccount, ForeignOwner, Unreadable, Conditional, PolicyUnjudged}
}

func (k Kind) String() string {
	if k < NumKinds {
		return kindNames[k]
	}
	return "unknown"
}

// ParseKind returns the kind with the given contract name.
func ParseKind(name string) (Kind, bool) {
	for k, n := range kindNames {
		if n == name {
			return Kind(k), true
		}
	}
	return 0, false
}

// Findings is a set of kinds. A bit set keeps classification free of
// allocations on the per-object path.
type Findings uint8

// Has reports whether k is in the set.
func (f Findings) Has(k Kind) bool { return f&(1<<k) != 0 }

// With returns the set plus k.
func (f Findings) With(k Kind) Findings { return f | 1<<k }

// Any reports whether the set and other share a kind.
func (f Findings) Any(other Findings) bool { return f&other != 0 }

// Kinds lists the kinds in the set in output order.
func (f Findings) Kinds() []Kind {
	var out []Kind
	for k := Kind(0); k < NumKinds; k++ {
		if f.Has(k) {
			out = append(out, k)
		}
	}
	return out
}

// Names lists the contract names of the kinds in the set.
func (f Findings) Names() []string {
	out := make([]string, 0, NumKinds)
	for k := Kind(0); k < NumKinds; k++ {
		if f.Has(k) {
			out = append(out, kindNames[k])
		}
	}
	return out
}

// OwnerDependent are the kinds that can only be judged when the bucket
// owner's canonical ID is known.
const OwnerDependent Findings = 1<<CrossAccount | 1<<ForeignOwner

// FromGrants are the kinds read from an ACL's grants: an object whose ACL
// could not be read says nothing of them.
const FromGrants Findings = 1<<Public | 1<<Authenticated | 1<<CrossAccount

// Classify returns the findings of an object's ACL. bucketOwner is the
// canonical ID of the bucket owner ("" when unknown: owner-dependent kinds
// are then not judged); objectOwner is the object owner's canonical ID
// ("" when unknown).
func Classify(bucketOwner, objectOwner string, grants []Grant) Findings {
	var f Findings
	for i := range grants {
		if k, ok := grantKind(bucketOwner, &grants[i]); ok {
			f = f.With(k)
		}
	}
	if bucketOwner != "" && objectOwner != "" && objectOwner != bucketOwner {
		f = f.With(ForeignOwner)
	}
	return f
}

// grantKind is the finding one grant makes, if any.
func grantKind(bucketOwner string, g *Grant) (Kind, bool) {
	switch g.Type {
	case TypeGroup:
		switch {
		case isGroup(g.URI, AllUsersURI):
			return Public, true
		case isGroup(g.URI, AuthenticatedUsersURI):
			return Authenticated, true
		case isGroup(g.URI, LogDeliveryURI):
			// S3's own log delivery service, not an account.
			return 0, false
		}
		// A group S3 may add, or a document aclscan cannot read as
		// intended: not provably the owner, so reported.
		return CrossAccount, true
	case TypeCanonicalUser:
		// An empty ID names no account (MinIO's fixed ACL shows its
		// grants so): it cannot be shown to be another account, and the
		// grant stays visible in the report.
		return CrossAccount, bucketOwner != "" && g.ID != "" && g.ID != bucketOwner
	case TypeEmail:
		// S3 stores email grants as canonical users; one still shown by
		// email cannot be proven to be the owner, so it is reported.
		return CrossAccount, bucketOwner != ""
	}
	// A grantee type aclscan does not know holds a permission: silence
	// would hide it, so it counts as shared.
	return CrossAccount, true
}

// isGroup matches a group URI, tolerating https and letter case, which S3
// accepts on input and which hand-written ACL documents sometimes use.
func isGroup(uri, want string) bool {
	if uri == want {
		return true
	}
	const scheme = "http://"
	for _, prefix := range []string{"http://", "https://"} {
		if len(uri) > len(prefix) && strings.EqualFold(uri[:len(prefix)], prefix) {
			return strings.EqualFold(uri[len(prefix):], want[len(scheme):])
		}
	}
	return false
}

// Policy is an object's ACL: its owner and grants.
type Policy struct {
	Owner  string
	Grants []Grant
}

// Describe renders grants compactly for people, AllUsers:READ
// userb:FULL_CONTROL, leaving out the canonical user except (none when
// except is "").
func Describe(grants []Grant, except string) string {
	parts := make([]string, 0, len(grants))
	for _, g := range grants {
		if except != "" && g.Type == TypeCanonicalUser && g.ID == except {
			continue
		}
		who := g.ID
		switch {
		case g.URI != "":
			who = g.URI[strings.LastIndexByte(g.URI, '/')+1:]
		case g.Email != "":
			who = g.Email
		case who == "":
			who = "(no id)"
		}
		parts = append(parts, who+":"+g.Permission)
	}
	return strings.Join(parts, " ")
}
