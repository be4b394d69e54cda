package readiness

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/policy"
	"github.com/aclscan/aclscan/scan"
)

// maxChecked bounds the objects a draft remembers to check it against:
// past it, the check covers the objects with grants and says so.
const maxChecked = 1_000_000

// checked is one object the draft must keep as it is: who reads it
// through its ACL today, by the policy's principal ("*" or
// "CanonicalUser:ID"), and what they may do.
type checked struct {
	key     string
	readers map[string]policy.Actions
}

// remember records what the object's ACL lets others do today.
func (d *Draft) remember(r *scan.Result, readers map[string]policy.Actions) {
	if len(readers) == 0 && len(d.checked) >= maxChecked {
		d.unchecked++
		return
	}
	d.checked = append(d.checked, checked{key: r.Key, readers: readers})
}

// policyPrincipal is how the evaluator names the draft's principal.
func policyPrincipal(g acl.Grant) string {
	if g.Type == acl.TypeGroup {
		return "*"
	}
	return "CanonicalUser:" + g.ID
}

// Check is what evaluating the draft against the scanned objects showed.
type Check struct {
	// Objects were checked; Unchecked were left out (over the bound,
	// objects without grants only).
	Objects, Unchecked int
	// Differ lists the objects whose readers the draft changes, each with
	// what changes (at most 20; Different counts them all).
	Differ    []string
	Different int
	// Problem says why the draft could not be evaluated.
	Problem string
}

// String is the check in one line.
func (c Check) String() string {
	switch {
	case c.Problem != "":
		return "the draft could not be checked: " + c.Problem
	case c.Different == 0:
		line := fmt.Sprintf("the draft keeps every reader of %d objects and adds none", c.Objects)
		if c.Unchecked > 0 {
			line += fmt.Sprintf(" (%d more objects without grants were not kept to check)", c.Unchecked)
		}
		return line
	}
	line := fmt.Sprintf("the draft changes the readers of %d of %d objects: %s", c.Different, c.Objects, strings.Join(c.Differ, "; "))
	if c.Different > len(c.Differ) {
		line += fmt.Sprintf("; and %d more", c.Different-len(c.Differ))
	}
	return line
}

// Verify evaluates a drafted policy, with the evaluator aclscan judges
// bucket policies with, against every object the draft saw: each must
// keep exactly the readers its ACL gives today (the object actions the
// draft carries: reading the object and its ACL).
func (d *Draft) Verify(res *Result, owner string) Check {
	c := Check{Unchecked: d.unchecked}
	doc, err := policy.Parse(res.JSON)
	if err != nil {
		c.Problem = err.Error()
		return c
	}
	eval := policy.Compile(doc, policy.Env{Bucket: d.bucket, OwnerCanonical: owner, UsersAreAccounts: true, Fixed: policy.DirectRequests}, time.Now())
	const carried = policy.Read | policy.ReadACL
	for _, obj := range d.checked {
		c.Objects++
		a := eval.Object(obj.key, true)
		got := map[string]policy.Actions{}
		if acts := a.PublicActions & carried; acts != 0 {
			got["*"] = acts
		}
		for _, g := range a.Accounts {
			if acts := g.Effective & carried; acts != 0 {
				got[g.Principal] |= acts
			}
		}
		var changes []string
		for _, who := range sortedKeys(obj.readers, got) {
			want, have := obj.readers[who]&carried, got[who]
			if lost := want &^ have; lost != 0 {
				changes = append(changes, fmt.Sprintf("%s loses %s", who, lost))
			}
			if added := have &^ want; added != 0 {
				changes = append(changes, fmt.Sprintf("%s gains %s", who, added))
			}
		}
		if len(changes) > 0 {
			c.Different++
			if len(c.Differ) < 20 {
				c.Differ = append(c.Differ, fmt.Sprintf("%q: %s", obj.key, strings.Join(changes, ", ")))
			}
		}
	}
	return c
}

func sortedKeys(maps ...map[string]policy.Actions) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range maps {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}
