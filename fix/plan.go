// Package fix closes what a scan found, safely: a plan (which grants go,
// what each ACL becomes), a journal that holds every ACL before it is
// changed (written and synced before the change: the undo log), the
// changes, and their undo. Nothing changes without Apply.
package fix

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aclscan/aclscan/acl"
)

// Canned ACLs a fix may write instead of removing grants.
const (
	CannedPrivate                = "private"
	CannedBucketOwnerFullControl = "bucket-owner-full-control"
)

// Mode says what a fix closes and how.
type Mode struct {
	// Kinds are the findings to close: public, authenticated,
	// cross-account. Their grants are removed, every other grant kept.
	Kinds acl.Findings
	// Canned, when set, replaces the whole ACL instead (private or
	// bucket-owner-full-control).
	Canned string
}

// Closable are the finding kinds a fix can close: those made by grants.
const Closable acl.Findings = 1<<acl.Public | 1<<acl.Authenticated | 1<<acl.CrossAccount

// Entry is one ACL of a plan: the object (Key "" for the bucket's own
// ACL), its ACL as the plan was made from it, and the ACL the fix writes.
type Entry struct {
	Bucket    string `json:"bucket"`
	Key       string `json:"key"`
	VersionID string `json:"version_id,omitempty"`
	Owner     string `json:"owner_id"`
	// BucketOwner and Canned are what the plan was made with (a forced
	// fix makes it again from the ACL as it is then).
	BucketOwner string      `json:"bucket_owner,omitempty"`
	Canned      string      `json:"canned,omitempty"`
	Before      []acl.Grant `json:"before"`
	After       []acl.Grant `json:"after"`
	Removed     []acl.Grant `json:"removed"`
	Findings    []string    `json:"findings"`
	// Public is set when the object was public before: --verify-public
	// asks for it anonymously after the fix.
	Public bool `json:"public,omitempty"`
}

// ID names the ACL an entry changes.
func (e *Entry) ID() string { return e.Bucket + "\x00" + e.Key + "\x00" + e.VersionID }

// Where is the entry's s3:// URL, for messages.
func (e *Entry) Where() string {
	w := "s3://" + e.Bucket + "/" + e.Key
	if e.VersionID != "" {
		w += " (version " + e.VersionID + ")"
	}
	return w
}

// Plan returns the entry that closes an ACL's findings of mode.Kinds, and
// false when the ACL has none of them. bucketOwner decides which grants
// are cross-account.
func Plan(bucketOwner, owner string, grants []acl.Grant, mode Mode) (Entry, bool) {
	var found acl.Findings
	for _, g := range grants {
		found |= closes(bucketOwner, owner, g, mode)
	}
	if found == 0 {
		return Entry{}, false
	}
	e := Entry{Owner: owner, BucketOwner: bucketOwner, Canned: mode.Canned, Before: slices.Clone(grants), Findings: found.Names(), Public: found.Has(acl.Public)}
	switch mode.Canned {
	case CannedPrivate:
		e.After = []acl.Grant{fullControl(owner)}
		if bucketOwner != "" && bucketOwner != owner {
			// Another account owns the object: the bucket owner keeps
			// what it had (its access is what lets it manage the object),
			// or the fix would lock the caller out.
			for _, g := range grants {
				if g.Type == acl.TypeCanonicalUser && g.ID == bucketOwner && !slices.Contains(e.After, g) {
					e.After = append(e.After, g)
				}
			}
		}
	case CannedBucketOwnerFullControl:
		e.After = []acl.Grant{fullControl(owner)}
		if bucketOwner != "" && bucketOwner != owner {
			e.After = append(e.After, fullControl(bucketOwner))
		}
	default:
		e.After = []acl.Grant{}
		for _, g := range grants {
			if closes(bucketOwner, owner, g, mode) == 0 {
				e.After = append(e.After, g)
			}
		}
	}
	for _, g := range grants {
		if !slices.Contains(e.After, g) {
			e.Removed = append(e.Removed, g)
		}
	}
	return e, true
}

// closes returns the findings of mode a grant makes, none for the object
// owner's own grant (an object another account owns stays its own).
func closes(bucketOwner, owner string, g acl.Grant, mode Mode) acl.Findings {
	if g.Type == acl.TypeCanonicalUser && g.ID != "" && g.ID == owner {
		return 0
	}
	return acl.Classify(bucketOwner, owner, []acl.Grant{g}) & mode.Kinds & Closable
}

func fullControl(id string) acl.Grant {
	return acl.Grant{Type: acl.TypeCanonicalUser, ID: id, Permission: "FULL_CONTROL"}
}

// CheckAfter refuses an ACL a fix would write that grants anything the
// ACL it was read from does not: a fix only removes grants, and may add
// the object owner's or the bucket owner's FULL_CONTROL (the canned ACLs
// write them). It is checked before every write, whatever the plan or
// the undo log says.
func CheckAfter(owner, bucketOwner string, read, after []acl.Grant) error {
	have := make(map[acl.Grant]bool, len(read))
	for _, g := range read {
		have[normalize(g)] = true
	}
	var added []acl.Grant
	for _, g := range after {
		if have[normalize(g)] {
			continue
		}
		if g.Type == acl.TypeCanonicalUser && g.Permission == "FULL_CONTROL" && g.ID != "" && (g.ID == owner || g.ID == bucketOwner) {
			continue
		}
		added = append(added, g)
	}
	if len(added) > 0 {
		return fmt.Errorf("it would write %s, which the ACL it was read from does not hold (a fix only removes grants)", acl.Describe(added, ""))
	}
	return nil
}

// SameACL compares two ACLs as S3 does: the owner (when both name one)
// and the grants, in any order.
func SameACL(ownerA string, a []acl.Grant, ownerB string, b []acl.Grant) bool {
	if ownerA != "" && ownerB != "" && ownerA != ownerB {
		return false
	}
	if len(a) != len(b) {
		return false
	}
	count := make(map[acl.Grant]int, len(a))
	for _, g := range a {
		count[normalize(g)]++
	}
	for _, g := range b {
		g = normalize(g)
		if count[g] == 0 {
			return false
		}
		count[g]--
	}
	return true
}

// normalize leaves out what servers add on the way back (an email grant
// comes back as the canonical user it names; display names are not kept).
func normalize(g acl.Grant) acl.Grant {
	g.Email = ""
	return g
}

// ParseMode reads --findings and --canned.
func ParseMode(kinds []acl.Kind, canned string) (Mode, error) {
	var m Mode
	for _, k := range kinds {
		if !Closable.Has(k) {
			return m, fmt.Errorf("%s cannot be closed by changing the object's ACL (only public, authenticated and cross-account grants can)", k)
		}
		m.Kinds = m.Kinds.With(k)
	}
	switch canned {
	case "", CannedPrivate, CannedBucketOwnerFullControl:
		m.Canned = canned
	default:
		return m, fmt.Errorf("unknown canned ACL %q (want private or bucket-owner-full-control)", canned)
	}
	return m, nil
}

// ParseKindList is ParseMode of a comma list of finding kind names
// ("public,authenticated"), removing grants (no canned ACL).
func ParseKindList(list string) (Mode, error) {
	var kinds []acl.Kind
	for _, name := range strings.Split(list, ",") {
		k, ok := acl.ParseKind(strings.TrimSpace(name))
		if !ok {
			return Mode{}, fmt.Errorf("unknown finding kind %q (public, authenticated or cross-account)", strings.TrimSpace(name))
		}
		kinds = append(kinds, k)
	}
	return ParseMode(kinds, "")
}
