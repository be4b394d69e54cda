package readiness

import (
	"fmt"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
)

// SettingPolicy is where a shell's user asks for the draft policy (the
// command line's --readiness-policy), which the verdict's reasons point at.
const SettingPolicy s3access.Setting = "readiness-policy"

// Verdicts of Judge.
const (
	Ready        = "ready"
	NotReady     = "not-ready"
	ReadyUnknown = "unknown"
	// AlreadyDisabled: the bucket's ACLs are disabled already.
	AlreadyDisabled = "disabled"
)

// Verdict is whether a bucket can switch to Object Ownership
// BucketOwnerEnforced (ACLs disabled) without failing or taking access
// away, by AWS's rules, with the reasons.
type Verdict struct {
	Verdict string
	Reasons []string
}

// Judge judges the bucket's readiness to disable ACLs from its
// context and the scan's counts, naming settings as spell says (nil:
// plain words). The switch fails while the bucket ACL
// grants anyone but the owner (InvalidBucketAclWithObjectOwnership,
// log delivery included); objects whose ACLs grant others lose that
// access, and objects other accounts own become the bucket owner's.
func Judge(s *scan.Summary, spell s3access.Spelling) Verdict {
	if spell == nil {
		spell = s3access.PlainSpelling
	}
	c := &s.Context
	if c.ACLsDisabled() {
		return Verdict{Verdict: AlreadyDisabled, Reasons: []string{"ACLs are already disabled (BucketOwnerEnforced)"}}
	}
	var blockers, unknowns []string
	switch {
	case !c.ACL.Known:
		problem := c.ACL.Problem
		if problem == "" {
			problem = "not read"
		}
		unknowns = append(unknowns, "the bucket ACL is unknown ("+problem+")")
	case c.Owner == "":
		unknowns = append(unknowns, "the bucket owner is unknown, so the bucket ACL's grants cannot be told apart")
	default:
		if others := acl.Describe(c.ACL.Value, c.Owner); others != "" {
			blockers = append(blockers, fmt.Sprintf("the bucket ACL grants access outside the owner (%s): the switch fails with InvalidBucketAclWithObjectOwnership until these move to the bucket policy and the bucket ACL is reset to private", others))
		}
	}
	if n := s.Shared; n > 0 {
		blockers = append(blockers, fmt.Sprintf("%d objects have ACLs that grant access to others, who lose it (move it to the bucket policy: %s drafts one)", n, spell(SettingPolicy, "")))
	}
	if n := s.ByKind[acl.ForeignOwner]; n > 0 {
		blockers = append(blockers, fmt.Sprintf("%d objects are owned by other accounts; they become the bucket owner's, and their writers keep only what the bucket policy grants", n))
	}
	if n := s.Count(scan.StatusDenied); n > 0 {
		unknowns = append(unknowns, fmt.Sprintf("%d objects' ACLs could not be read (owned by other accounts?)", n))
	}
	if n := s.Count(scan.StatusError); n > 0 {
		unknowns = append(unknowns, fmt.Sprintf("%d objects could not be checked", n))
	}
	if !s.Complete {
		unknowns = append(unknowns, "the scan is incomplete")
	}
	if s.BucketOwner == "" && s.Objects > 0 {
		unknowns = append(unknowns, "cross-account grants and foreign owners could not be judged without the bucket owner")
	}
	switch {
	case len(blockers) > 0:
		return Verdict{Verdict: NotReady, Reasons: append(blockers, unknowns...)}
	case len(unknowns) > 0:
		return Verdict{Verdict: ReadyUnknown, Reasons: unknowns}
	}
	return Verdict{Verdict: Ready, Reasons: []string{"the bucket ACL grants only the owner, and no object's ACL grants anyone else"}}
}
