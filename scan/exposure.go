package scan

import (
	"fmt"
	"strings"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/s3access"
)

// BucketFindings returns the findings of the bucket's own ACL and those
// that grant access now (log delivery is not a finding).
func (s *Summary) BucketFindings() (findings, effective acl.Findings) {
	if !s.Context.ACL.Known {
		return 0, 0
	}
	j := acl.NewJudge(&s.Context)
	// The bucket's owner owns its ACL: only grants make findings.
	findings = j.Findings(s.Context.Owner, s.Context.ACL.Value)
	effective, _ = j.Effective(findings)
	return findings, effective
}

// BucketDoors returns the bucket policy's statements that open the
// bucket itself (listing, writing or deleting objects, changing their
// ACLs or the bucket's access) to anyone or another account, the kinds
// they make and those that grant access now (see acl.Judge.BucketDoors).
// A total adds up its buckets'.
func (s *Summary) BucketDoors() (doors []acl.Source, found, effective acl.Findings) {
	if s.Buckets != nil {
		for _, b := range s.Buckets {
			if b != nil {
				d, f, e := b.BucketDoors()
				doors, found, effective = append(doors, d...), found|f, effective|e
			}
		}
		return doors, found, effective
	}
	return s.Judge().BucketDoors()
}

// UnacceptedBucketDoors is BucketDoors' effective kinds less those the
// accepted-exposure rules accept on each whole bucket.
func (s *Summary) UnacceptedBucketDoors() acl.Findings {
	if s.Buckets != nil {
		var effective acl.Findings
		for _, b := range s.Buckets {
			if b != nil {
				effective |= b.UnacceptedBucketDoors()
			}
		}
		return effective
	}
	_, _, effective := s.Judge().BucketDoors()
	return effective &^ s.AcceptedBucket
}

// Judge is the judge of the summary's bucket context.
func (s *Summary) Judge() *acl.Judge {
	c := s.Context
	if c.Bucket == "" {
		c.Bucket = s.Bucket
	}
	return acl.NewJudge(&c)
}

// policyNotes say what the bucket policy opens at the bucket level, what
// of it could not be judged, and where S3's own verdict differs.
func (s *Summary) policyNotes() []string {
	var notes []string
	j := s.Judge()
	for _, problem := range j.PolicyProblems() {
		notes = append(notes, "the bucket policy is not judged in full: "+problem+" (the objects it may reach are reported policy-unjudged)")
	}
	doors, _, _ := j.BucketDoors()
	for _, d := range doors {
		who := "anyone"
		switch d.Finding {
		case acl.CrossAccount.String():
			who = d.Principal
		case acl.Conditional.String():
			who = "anyone matching " + d.Condition
		case acl.PolicyUnjudged.String():
			who = "someone (not judged: " + d.Note + ")"
		}
		state := "now"
		if !d.Effective {
			state = "latent: " + d.Note
		}
		notes = append(notes, fmt.Sprintf("the bucket policy lets %s %s (statement %s; %s)", who, strings.Join(d.Actions, " "), d.Ref, state))
	}
	c := &s.Context
	if j.PolicyNamesAccounts() && c.Account == "" && !c.UsersAreAccounts {
		why := c.AccountBlock.Problem
		if why == "" {
			why = "not read"
		}
		notes = append(notes, "the bucket owner's account ID is unknown ("+why+"): every account the bucket policy names is reported cross-account, the owner's own included (give the account ID)")
	}
	if public, judged := j.PolicyPublic(); judged && c.PolicyPublic.Known && public != c.PolicyPublic.Value {
		notes = append(notes, fmt.Sprintf("S3's own verdict (GetBucketPolicyStatus IsPublic %v) differs from aclscan's reading of the policy (public %v): trust the objects' sources, and check the policy by hand", c.PolicyPublic.Value, public))
	}
	return notes
}

// Settings the engine's notes point at, which each shell spells its own
// way (a flag, an environment variable; see s3access.Spelling).
const (
	SettingScanDisabledACLs s3access.Setting = "scan-disabled-acls"
	SettingVerifyPublic     s3access.Setting = "verify-public"
)

// Notes are the lines a user needs to read the findings right: what the
// bucket's settings hide from this scan or make latent, settings that
// could not be read, and exposure that is not in any ACL. Settings are
// named as spell says (nil: plain words).
func (s *Summary) Notes(spell s3access.Spelling) []string {
	if spell == nil {
		spell = s3access.PlainSpelling
	}
	c := &s.Context
	var notes []string
	if s.NotScanned {
		notes = append(notes, "ACLs are disabled (Object Ownership BucketOwnerEnforced): S3 ignores every ACL and answers every ACL read with full control for the bucket owner, so the objects were not fetched; their old ACLs are dormant and come back if ACLs are re-enabled: an S3 Inventory report with the ObjectOwner and ObjectAccessControlList fields shows them ("+spell(SettingScanDisabledACLs, "")+" fetches the objects anyway)")
	} else if s.ACLsNotFetched {
		notes = append(notes, "ACLs are disabled (Object Ownership BucketOwnerEnforced): the objects were listed and judged through the bucket policy and access points; their ACLs were not fetched, S3 ignores them and answers every ACL read with full control for the bucket owner (an S3 Inventory report with ObjectAccessControlList shows the dormant ones; "+spell(SettingScanDisabledACLs, "")+" fetches them anyway)")
	} else if c.ACLsDisabled() && c.ACLReadsEffective {
		notes = append(notes, "ACLs are disabled (Object Ownership BucketOwnerEnforced): S3 answers every ACL read with full control for the bucket owner, so these findings say nothing of the dormant ACLs (an S3 Inventory report with ObjectAccessControlList shows them)")
	}
	if c.IgnoresPublicACLs() {
		levels := ignoringLevels(c)
		if c.ACLReadsEffective {
			notes = append(notes, fmt.Sprintf("IgnorePublicAcls is on (%s): S3's ACL reads leave out the public grants it ignores, so latent public grants may exist that a live scan cannot see; they would make objects public again if the setting were turned off", levels))
		} else {
			notes = append(notes, fmt.Sprintf("IgnorePublicAcls is on (%s): public grants are reported as latent (in findings, not in effective): this server answers with the stored ACL", levels))
		}
	}
	notes = append(notes, s.policyNotes()...)
	if _, effective := s.BucketFindings(); effective != 0 {
		notes = append(notes, fmt.Sprintf("the bucket's own ACL grants access outside the account now (%s): %s", strings.Join(effective.Names(), ", "), acl.Describe(s.Context.ACL.Value, s.Context.Owner)))
	}
	const blocksNothing = "judged as blocking nothing"
	for _, unread := range []struct {
		what, problem, meaning string
		known                  bool
	}{
		{"the bucket ACL", c.ACL.Problem, "its own grants are not judged", c.ACL.Known},
		{"Object Ownership", c.Ownership.Problem, "ACLs are taken to apply", c.Ownership.Known},
		{"the bucket's Block Public Access", c.BucketBlock.Problem, blocksNothing, c.BucketBlock.Known},
		{"the account's Block Public Access", c.AccountBlock.Problem, blocksNothing, c.AccountBlock.Known},
		{"the bucket policy status", c.PolicyPublic.Problem, "S3's own verdict on the policy was not compared with aclscan's", c.PolicyPublic.Known},
		{"the bucket's access points", c.AccessPoints.Problem, "access through them is not judged (the bucket policy and ACLs are)", c.AccessPoints.Known},
	} {
		if !unread.known && unread.problem != "" {
			notes = append(notes, fmt.Sprintf("%s is unknown (%s): %s", unread.what, unread.problem, unread.meaning))
		}
	}
	if s.VerifyFailed > 0 {
		notes = append(notes, fmt.Sprintf("%d anonymous requests of %s failed after retries: those objects are not verified", s.VerifyFailed, spell(SettingVerifyPublic, "")))
	}
	return notes
}

func ignoringLevels(c *acl.BucketContext) string {
	var levels []string
	if c.AccountBlock.Known && c.AccountBlock.Value.IgnorePublicACLs {
		levels = append(levels, "account")
	}
	if c.BucketBlock.Known && c.BucketBlock.Value.IgnorePublicACLs {
		levels = append(levels, "bucket")
	}
	return strings.Join(levels, " and ")
}
