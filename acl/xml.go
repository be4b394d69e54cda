package acl

import (
	"encoding/xml"
	"fmt"
)

// xmlPolicy mirrors S3's AccessControlPolicy document.
type xmlPolicy struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Owner   struct {
		ID string `xml:"ID"`
	} `xml:"Owner"`
	Grants []struct {
		Grantee struct {
			// xsi:type; matched by local name, whatever the prefix.
			Type  string `xml:"type,attr"`
			ID    string `xml:"ID"`
			URI   string `xml:"URI"`
			Email string `xml:"EmailAddress"`
		} `xml:"Grantee"`
		Permission string `xml:"Permission"`
	} `xml:"AccessControlList>Grant"`
}

// ParsePolicy parses a GetObjectAcl (or GetBucketAcl) response body.
func ParsePolicy(doc []byte) (Policy, error) {
	var x xmlPolicy
	if err := xml.Unmarshal(doc, &x); err != nil {
		return Policy{}, fmt.Errorf("not an AccessControlPolicy document: %w", err)
	}
	p := Policy{Owner: x.Owner.ID}
	if len(x.Grants) > 0 {
		p.Grants = make([]Grant, len(x.Grants))
		for i, g := range x.Grants {
			p.Grants[i] = Grant{Type: g.Grantee.Type, ID: g.Grantee.ID, URI: g.Grantee.URI, Email: g.Grantee.Email, Permission: g.Permission}
		}
	}
	return p, nil
}
