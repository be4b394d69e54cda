package inventory

import (
	"sync"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/inventory/aclfield"
)

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
	grants, err := aclfield.Decode(string(value))
	c.mu.Lock()
	if len(c.byVal) < maxCachedACLs {
		c.byVal[string(value)] = decoded{grants, err}
	}
	c.mu.Unlock()
	return grants, err
}
