// Package batch judges objects that an outside engine hands in, a few
// hundred at a time: the items of a Step Functions Distributed Map batch
// (from a bucket listing or an S3 Inventory manifest) and the tasks of
// S3 Batch Operations. It also lays out where each batch's report goes
// and merges the reports of a run back into one.
//
// It knows nothing of Lambda: the function's shell decodes the event,
// hands the items here and returns what comes back.
package batch

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/inventory/aclfield"
	"github.com/aclscan/aclscan/scan"
)

// ItemKind is where a batch's items came from.
type ItemKind uint8

const (
	// Listed items come from the ListObjectsV2 reader: a key, no ACL. Each
	// costs a GetObjectAcl request.
	Listed ItemKind = iota + 1
	// Inventoried items are rows of a CSV S3 Inventory report, keyed by
	// its column names: the ACL is in the row, no request is needed.
	Inventoried
)

func (k ItemKind) String() string {
	switch k {
	case Listed:
		return "listing"
	case Inventoried:
		return "inventory"
	}
	return "unknown"
}

// Items is a batch decoded: its bucket, its objects and their kind.
type Items struct {
	Kind    ItemKind
	Bucket  string
	Objects []scan.Object
}

// item is one Distributed Map item, either kind. The inventory reader
// gives every value as a string.
type item struct {
	Key          *string `json:"Key"`
	Etag         string  `json:"Etag"`
	Bucket       string  `json:"Bucket"`
	VersionID    string  `json:"VersionId"`
	IsLatest     string  `json:"IsLatest"`
	DeleteMarker string  `json:"IsDeleteMarker"`
	Owner        *string `json:"ObjectOwner"`
	ACL          *string `json:"ObjectAccessControlList"`
}

// ParseItems decodes a batch's items. bucket is the batch's bucket when
// its items do not name one (the listing reader's items do not); an
// inventory row's own Bucket must agree with it. Every item must be of
// one kind.
func ParseItems(raw []json.RawMessage, bucket string) (Items, error) {
	out := Items{Bucket: bucket, Objects: make([]scan.Object, 0, len(raw))}
	if len(raw) == 0 {
		return out, errors.New("the batch has no items")
	}
	grants := map[string][]acl.Grant{} // a batch repeats few distinct ACLs
	for i, r := range raw {
		var it item
		if err := json.Unmarshal(r, &it); err != nil {
			return out, fmt.Errorf("item %d is not an object of the listing or inventory reader: %v", i+1, err)
		}
		if it.Key == nil {
			return out, fmt.Errorf("item %d has no Key: items must come from the ListObjectsV2 reader or an S3 Inventory manifest", i+1)
		}
		kind := Listed
		if it.Bucket != "" || it.Owner != nil || it.ACL != nil {
			kind = Inventoried
		}
		if out.Kind == 0 {
			out.Kind = kind
		} else if kind != out.Kind {
			return out, fmt.Errorf("item %d is from the %s reader, the ones before it from the %s reader: one batch, one kind", i+1, kind, out.Kind)
		}
		obj, err := it.object(kind, grants)
		if err != nil {
			return out, fmt.Errorf("item %d (%q): %w", i+1, *it.Key, err)
		}
		if kind == Inventoried {
			switch {
			case out.Bucket == "":
				out.Bucket = it.Bucket
			case it.Bucket != "" && it.Bucket != out.Bucket:
				return out, fmt.Errorf("item %d is in bucket %q, the batch's bucket is %q: one batch, one bucket", i+1, it.Bucket, out.Bucket)
			}
		}
		out.Objects = append(out.Objects, obj)
	}
	if out.Bucket == "" {
		return out, errors.New("the batch names no bucket: set \"bucket\" in the Map state's BatchInput (listing items carry no bucket)")
	}
	return out, nil
}

func (it *item) object(kind ItemKind, grants map[string][]acl.Grant) (scan.Object, error) {
	obj := scan.Object{Key: *it.Key, IsLatest: true}
	if kind == Listed {
		return obj, nil // the listing reader's keys are as S3 has them
	}
	obj.Key = inventoryKey(*it.Key)
	if it.VersionID != "" && it.VersionID != "null" {
		obj.VersionID = it.VersionID
		obj.IsLatest = strings.EqualFold(it.IsLatest, "true")
	}
	if strings.EqualFold(it.DeleteMarker, "true") {
		obj.DeleteMarker = true
		return obj, nil
	}
	if it.ACL == nil || it.Owner == nil {
		return obj, &aclfield.MissingFieldsError{Fields: missingFields(it)}
	}
	g, ok := grants[*it.ACL]
	if !ok {
		var err error
		g, err = aclfield.Decode(*it.ACL)
		if errors.Is(err, aclfield.ErrUnavailable) {
			obj.Unavailable = true
			return obj, nil
		}
		if err != nil {
			return obj, err
		}
		grants[*it.ACL] = g
	}
	obj.OwnerID = *it.Owner
	obj.Policy = acl.Policy{Owner: *it.Owner, Grants: g}
	obj.Known = true
	return obj, nil
}

func missingFields(it *item) []string {
	var m []string
	if it.Owner == nil {
		m = append(m, "ObjectOwner")
	}
	if it.ACL == nil {
		m = append(m, "ObjectAccessControlList")
	}
	return m
}

// inventoryKey is an inventory item's key as S3 has it. Inventory reports
// URL-encode keys, and no public example shows whether Step Functions'
// reader decodes them before handing rows over (docs/aws-fidelity.md), so
// both are accepted: a key that is valid URL encoding is decoded, as the
// report says it is; one that is not (a lone '%') cannot have come
// encoded and is taken as it is, rather than failing its whole batch.
func inventoryKey(field string) string {
	if key, err := url.QueryUnescape(field); err == nil {
		return key
	}
	return field
}
