package acl

import (
	"fmt"

	"github.com/aclscan/aclscan/internal/xmlscan"
)

// ParsePolicy parses a GetObjectAcl (or GetBucketAcl) response body: an
// AccessControlPolicy document. It runs once per object, so it reads the
// document with xmlscan rather than encoding/xml (whose cost per object is
// measured in docs/benchmarks/README.md); the fuzz tests hold it to
// encoding/xml's results.
func ParsePolicy(doc []byte) (Policy, error) {
	policy, err := parsePolicy(xmlscan.New(doc))
	if err != nil {
		return Policy{}, fmt.Errorf("not an AccessControlPolicy document: %w", err)
	}
	return policy, nil
}

const root = "AccessControlPolicy"

func parsePolicy(s *xmlscan.Scanner) (Policy, error) {
	var policy Policy
	var grant *Grant
	var typeAttr bool // the grantee's type came as the xsi:type attribute
	for {
		kind, err := s.Next()
		if err != nil {
			return policy, err
		}
		switch kind {
		case xmlscan.Done:
			for i := range policy.Grants {
				policy.Grants[i].InferType()
			}
			return policy, nil
		case xmlscan.Start:
			switch {
			case s.Depth() == 1 && s.Name() != root:
				return policy, fmt.Errorf("root element is <%s>", s.Name())
			case s.At(root, "AccessControlList", "Grant"):
				policy.Grants = append(policy.Grants, Grant{})
				grant = &policy.Grants[len(policy.Grants)-1]
			case grant != nil && s.At(root, "AccessControlList", "Grant", "Grantee"):
				if grant.Type, err = xmlscan.Attr(s.Attrs(), "type"); err != nil {
					return policy, err
				}
				typeAttr = grant.Type != ""
			}
		case xmlscan.End:
			switch {
			case s.At(root, "Owner", "ID"):
				policy.Owner = string(s.Text())
			case grant == nil:
			case s.At(root, "AccessControlList", "Grant", "Permission"):
				grant.Permission = string(s.Text())
			case s.At(root, "AccessControlList", "Grant", "Grantee", "ID"):
				grant.ID = string(s.Text())
			case s.At(root, "AccessControlList", "Grant", "Grantee", "URI"):
				grant.URI = string(s.Text())
			case s.At(root, "AccessControlList", "Grant", "Grantee", "EmailAddress"):
				grant.Email = string(s.Text())
			case s.At(root, "AccessControlList", "Grant", "Grantee", "Type"):
				// AWS's documented sample's spelling; the attribute wins.
				if !typeAttr {
					grant.Type = string(s.Text())
				}
			}
		}
	}
}
