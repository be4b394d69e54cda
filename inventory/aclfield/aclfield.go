// Package aclfield reads and writes the ObjectAccessControlList field of
// S3 Inventory reports: base64 of a JSON document (status AVAILABLE with
// grants, or UNAVAILABLE). It is apart from package inventory so that
// code judging inventory rows handed in by others (the Lambda function's
// Distributed Map batches) does not link the report readers (Parquet).
package aclfield

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aclscan/aclscan/acl"
)

// aclField is the JSON inside an ObjectAccessControlList value.
type aclField struct {
	Version string `json:"version"`
	Status  string `json:"status"`
	Grants  []struct {
		URI         string `json:"uri"`
		CanonicalID string `json:"canonicalId"`
		Type        string `json:"type"`
		Permission  string `json:"permission"`
	} `json:"grants"`
}

// ErrUnavailable is an object whose ACL the report says is UNAVAILABLE.
var ErrUnavailable = errors.New("the inventory report says the ACL is UNAVAILABLE")

// Decode decodes an ObjectAccessControlList value: base64 of a JSON
// document whose status is AVAILABLE (with grants) or UNAVAILABLE.
func Decode(value string) ([]acl.Grant, error) {
	raw, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return nil, fmt.Errorf("ObjectAccessControlList is not base64: %v", err)
	}
	var f aclField
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("ObjectAccessControlList is not the documented JSON: %v", err)
	}
	switch f.Status {
	case "UNAVAILABLE":
		return nil, ErrUnavailable
	case "AVAILABLE":
	default:
		return nil, fmt.Errorf("ObjectAccessControlList has status %q, not AVAILABLE or UNAVAILABLE", f.Status)
	}
	grants := make([]acl.Grant, len(f.Grants))
	for i, g := range f.Grants {
		grants[i] = acl.Grant{Type: g.Type, ID: g.CanonicalID, URI: g.URI, Permission: g.Permission}
	}
	return grants, nil
}

// Encode is Decode's inverse (for the report generator and tests):
// status AVAILABLE unless grants is nil and unavailable is set.
func Encode(grants []acl.Grant, unavailable bool) string {
	f := aclField{Version: "2022-11-10", Status: "AVAILABLE"}
	if unavailable {
		f.Status = "UNAVAILABLE"
	}
	for _, g := range grants {
		f.Grants = append(f.Grants, struct {
			URI         string `json:"uri"`
			CanonicalID string `json:"canonicalId"`
			Type        string `json:"type"`
			Permission  string `json:"permission"`
		}{URI: g.URI, CanonicalID: g.ID, Type: g.Type, Permission: g.Permission})
	}
	b, _ := json.Marshal(compactField(f))
	return base64.StdEncoding.EncodeToString(b)
}

// compactField leaves out empty grantee fields, as AWS's documents do.
func compactField(f aclField) map[string]any {
	grants := make([]map[string]string, 0, len(f.Grants))
	for _, g := range f.Grants {
		m := map[string]string{"type": g.Type, "permission": g.Permission}
		if g.URI != "" {
			m["uri"] = g.URI
		}
		if g.CanonicalID != "" {
			m["canonicalId"] = g.CanonicalID
		}
		grants = append(grants, m)
	}
	out := map[string]any{"version": f.Version, "status": f.Status}
	if f.Status == "AVAILABLE" {
		out["grants"] = grants
	}
	return out
}

// MissingFieldsError is a report (or a row of one) without the fields
// aclscan judges.
type MissingFieldsError struct{ Fields []string }

func (e *MissingFieldsError) Error() string {
	return fmt.Sprintf("the inventory report has no %s field: add ObjectOwner and ObjectAccessControlList to the inventory configuration's optional fields "+
		"(console: Additional metadata fields -> Object owner, Object ACL; API: OptionalFields of PutBucketInventoryConfiguration); the next report carries them",
		strings.Join(e.Fields, " or "))
}
