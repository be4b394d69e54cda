package inventory

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

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

// DecodeACL decodes an ObjectAccessControlList value: base64 of a JSON
// document whose status is AVAILABLE (with grants) or UNAVAILABLE.
func DecodeACL(value string) ([]acl.Grant, error) {
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

// EncodeACL is DecodeACL's inverse (for the report generator and tests):
// status AVAILABLE unless grants is nil and unavailable is set.
func EncodeACL(grants []acl.Grant, unavailable bool) string {
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

// decoded is one decoded ACL value.
type decoded struct {
	grants []acl.Grant
	err    error
}

// aclCache decodes each distinct ACL value once: a real bucket's rows
// share a handful of ACLs. The grants it returns are shared: read only.
type aclCache struct {
	mu    sync.RWMutex
	byVal map[string]decoded
}

// maxCachedACLs bounds the cache; past it values are decoded each time.
const maxCachedACLs = 4096

func newACLCache() *aclCache { return &aclCache{byVal: make(map[string]decoded)} }

func (c *aclCache) decode(value []byte) ([]acl.Grant, error) {
	c.mu.RLock()
	d, ok := c.byVal[string(value)] // no allocation for the lookup
	c.mu.RUnlock()
	if ok {
		return d.grants, d.err
	}
	grants, err := DecodeACL(string(value))
	c.mu.Lock()
	if len(c.byVal) < maxCachedACLs {
		c.byVal[string(value)] = decoded{grants, err}
	}
	c.mu.Unlock()
	return grants, err
}
