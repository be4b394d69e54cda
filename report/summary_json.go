package report

import (
	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/readiness"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
)

// SummaryRecord is the JSON form of a scan summary.
type SummaryRecord struct {
	Bucket        string           `json:"bucket"`
	Prefix        string           `json:"prefix"`
	Complete      bool             `json:"complete"`
	Objects       int64            `json:"objects"`
	DeleteMarkers int64            `json:"delete_markers"`
	Unchecked     int64            `json:"unchecked"`
	ByStatus      map[string]int64 `json:"by_status"`
	// ByFinding counts what the ACLs say; ByEffective what grants access
	// now, given the bucket's settings.
	ByFinding   map[string]int64 `json:"by_finding"`
	ByEffective map[string]int64 `json:"by_effective"`
	// ByAccepted counts the effective findings accepted-exposure rules
	// accept (part of by_effective; they do not fail --fail-on); Accept
	// says what became of the rules (null without a rules file).
	ByAccepted map[string]int64 `json:"by_accepted"`
	// Trusted counts the objects shared only with the zone of trust.
	Trusted int64         `json:"trusted"`
	Accept  *AcceptRecord `json:"accept,omitempty"`
	// ByNew counts the effective findings a baseline did not have and no
	// rule accepts (what --fail-on-new fails on); Baseline names the
	// baseline and the objects whose findings are gone since (closed).
	ByNew    map[string]int64 `json:"by_new,omitempty"`
	Baseline *BaselineRecord  `json:"baseline,omitempty"`
	// Unjudged lists finding kinds that could not be judged (bucket owner unknown).
	Unjudged     []string `json:"unjudged"`
	BucketOwner  string   `json:"bucket_owner"`
	OwnerProblem string   `json:"owner_problem,omitempty"`
	// Context and Readiness are a bucket's: absent from the total of a
	// run over many buckets (each bucket has its own).
	Context *ContextRecord `json:"context,omitempty"`
	// NotScanned: the bucket's ACLs are disabled and its objects were not
	// fetched (see notes).
	NotScanned bool `json:"not_scanned"`
	// ACLsNotFetched: the bucket's ACLs are disabled; its objects were
	// judged through its policy and access points, their ACLs not read.
	ACLsNotFetched bool             `json:"acls_not_fetched,omitempty"`
	Verified       VerifiedRecord   `json:"verified"`
	Readiness      *ReadinessRecord `json:"readiness,omitempty"`
	Notes          []string         `json:"notes"`
	Strategy       string           `json:"strategy"`
	Concurrency    int              `json:"concurrency"`
	DurationMS     float64          `json:"duration_ms"`
	Requests       int64            `json:"requests"`
	Retries        int64            `json:"retries"`
	Throttles      int64            `json:"throttles"`
	Resumed        bool             `json:"resumed,omitempty"`
	// Region and Error are a bucket's in a run over many; Buckets are
	// those buckets, in the total's record.
	Region  string          `json:"region,omitempty"`
	Error   string          `json:"error,omitempty"`
	Buckets []SummaryRecord `json:"buckets,omitzero"`
	// Accounts are a run over accounts' rows: every listed account, what
	// became of it and its totals.
	Accounts []AccountRecord `json:"accounts,omitzero"`
}

// AccountRecord is one account of a run over accounts.
type AccountRecord struct {
	ID              string           `json:"id"`
	Name            string           `json:"name,omitempty"`
	OUPath          string           `json:"ou_path,omitempty"`
	State           string           `json:"state"`
	Reason          string           `json:"reason,omitempty"`
	Buckets         int              `json:"buckets"`
	AssumeRoleCalls int              `json:"assume_role_calls"`
	Complete        bool             `json:"complete"`
	Objects         int64            `json:"objects"`
	ByEffective     map[string]int64 `json:"by_effective"`
}

// NewAccountRecord is an account's row as the summary JSON (and the
// accounts state machine's accounts.json) write it.
func NewAccountRecord(a scan.AccountSummary) AccountRecord {
	ar := AccountRecord{ID: a.ID, Name: a.Name, OUPath: a.OUPath, State: a.State, Reason: a.Reason, Buckets: a.Buckets,
		AssumeRoleCalls: a.AssumeRoleCalls, ByEffective: map[string]int64{}}
	if t := a.Total; t != nil {
		ar.Complete, ar.Objects = t.Complete, t.Objects
		for _, k := range acl.AllKinds() {
			ar.ByEffective[k.String()] = t.FoundEffective(k)
		}
	}
	return ar
}

// AccountSummary is the row read back, without its totals (a merge adds
// them up again from the buckets).
func (ar *AccountRecord) AccountSummary() scan.AccountSummary {
	return scan.AccountSummary{ID: ar.ID, Name: ar.Name, OUPath: ar.OUPath, State: ar.State, Reason: ar.Reason,
		Buckets: ar.Buckets, AssumeRoleCalls: ar.AssumeRoleCalls}
}

// ContextRecord is the bucket's context as read: each setting's value,
// or null and the reason it could not be read.
type ContextRecord struct {
	ObjectOwnership          *string                `json:"object_ownership"`
	ObjectOwnershipProblem   string                 `json:"object_ownership_problem,omitempty"`
	BucketPublicAccessBlock  *acl.PublicAccessBlock `json:"bucket_public_access_block"`
	BucketBlockProblem       string                 `json:"bucket_public_access_block_problem,omitempty"`
	AccountPublicAccessBlock *acl.PublicAccessBlock `json:"account_public_access_block"`
	AccountBlockProblem      string                 `json:"account_public_access_block_problem,omitempty"`
	PolicyPublic             *bool                  `json:"policy_public"`
	PolicyStatusProblem      string                 `json:"policy_public_problem,omitempty"`
	BucketGrants             []acl.Grant            `json:"bucket_grants"`
	BucketACLProblem         string                 `json:"bucket_acl_problem,omitempty"`
	BucketFindings           []string               `json:"bucket_findings"`
	BucketEffective          []string               `json:"bucket_effective"`
	// ACLReadsEffective: this server's ACL reads leave out what S3 ignores (AWS).
	ACLReadsEffective bool `json:"acl_reads_effective"`
	// BucketPolicy says whether the bucket has a policy ("none",
	// "present") or null when it could not be read (BucketPolicyProblem
	// says why); BucketPolicyPublic is aclscan's verdict on it by AWS's
	// meaning of public (null when not judged).
	BucketPolicy        *string `json:"bucket_policy"`
	BucketPolicyProblem string  `json:"bucket_policy_problem,omitempty"`
	BucketPolicyPublic  *bool   `json:"bucket_policy_public"`
	// BucketDoors are the policy's statements that open the bucket itself
	// (list, write, delete, change ACLs or access) to others.
	BucketDoors          []acl.Source `json:"bucket_doors"`
	BucketDoorsEffective []string     `json:"bucket_doors_effective"`
	// AccessPoints names the bucket's access points (null when they
	// could not be read: AccessPointsProblem says why).
	AccessPoints        []string `json:"access_points"`
	AccessPointsProblem string   `json:"access_points_problem,omitempty"`
}

// VerifiedRecord counts --verify-public's anonymous requests by outcome.
type VerifiedRecord struct {
	Served    int64 `json:"served"`
	NotServed int64 `json:"not_served"`
	Failed    int64 `json:"failed"`
}

// ReadinessRecord is the verdict on disabling ACLs.
type ReadinessRecord struct {
	Verdict string   `json:"verdict"`
	Reasons []string `json:"reasons"`
}

// NewSummaryRecord converts a summary to its JSON form; a bucket's
// failure is explained with the shell's spelling (nil: plain words).
func NewSummaryRecord(sum *scan.Summary, spell s3access.Spelling) SummaryRecord {
	rec := SummaryRecord{
		Bucket:         sum.Bucket,
		Prefix:         sum.Prefix,
		Complete:       sum.Complete,
		Objects:        sum.Objects,
		DeleteMarkers:  sum.DeleteMarkers,
		Unchecked:      sum.Unchecked,
		ByStatus:       map[string]int64{},
		ByFinding:      map[string]int64{},
		ByEffective:    map[string]int64{},
		ByAccepted:     map[string]int64{},
		Trusted:        sum.Trusted,
		Unjudged:       []string{},
		BucketOwner:    sum.BucketOwner,
		OwnerProblem:   sum.OwnerProblem,
		NotScanned:     sum.NotScanned,
		ACLsNotFetched: sum.ACLsNotFetched,
		Verified:       VerifiedRecord{Served: sum.Served, NotServed: sum.NotServed, Failed: sum.VerifyFailed},
		Notes:          sum.Notes(spell),
		Strategy:       sum.Strategy.String(),
		Concurrency:    sum.Concurrency,
		DurationMS:     float64(sum.Duration.Microseconds()) / 1000,
		Requests:       sum.Requests,
		Retries:        sum.Retries,
		Throttles:      sum.Throttles,
		Resumed:        sum.Resumed,
	}
	if rec.Notes == nil {
		rec.Notes = []string{}
	}
	if sum.Failure != nil {
		rec.Error = sum.Failure.Explain(spell)
	}
	if b := sum.Baseline; b != nil {
		rec.ByNew = map[string]int64{}
		for _, k := range acl.AllKinds() {
			rec.ByNew[k.String()] = sum.ByNewEffective[k]
		}
		rec.Baseline = &BaselineRecord{Name: b.Name, Closed: b.Closed, ClosedObjects: make([]ClosedRecord, len(b.Listed))}
		for i, c := range b.Listed {
			rec.Baseline.ClosedObjects[i] = ClosedRecord{Bucket: c.Bucket, Key: c.Key, Findings: c.Findings}
			if c.VersionID != "" {
				v := c.VersionID
				rec.Baseline.ClosedObjects[i].VersionID = &v
			}
		}
	}
	if a := sum.AcceptRules; a != nil {
		rec.Accept = &AcceptRecord{File: a.File, Rules: a.Live, Expired: a.Expired, Unmatched: a.Unmatched}
	}
	rec.Region = sum.Region
	for _, a := range sum.Accounts {
		rec.Accounts = append(rec.Accounts, NewAccountRecord(a))
	}
	if sum.Buckets != nil {
		// A total: the context, readiness and notes are each bucket's.
		rec.Buckets = make([]SummaryRecord, 0, len(sum.Buckets))
		rec.Notes = []string{}
		for _, b := range sum.Buckets {
			if b != nil {
				rec.Buckets = append(rec.Buckets, NewSummaryRecord(b, spell))
			}
		}
	} else {
		verdict := readiness.Judge(sum, spell)
		rec.Readiness = &ReadinessRecord{Verdict: verdict.Verdict, Reasons: verdict.Reasons}
		settings := newContextRecord(sum)
		rec.Context = &settings
	}
	for _, st := range scan.AllStatuses() {
		rec.ByStatus[st.String()] = sum.Count(st)
	}
	for _, k := range acl.AllKinds() {
		if sum.Judged(k) {
			rec.ByFinding[k.String()] = sum.Found(k)
			rec.ByEffective[k.String()] = sum.FoundEffective(k)
			rec.ByAccepted[k.String()] = sum.ByAcceptedEffective[k]
		} else {
			rec.Unjudged = append(rec.Unjudged, k.String())
		}
	}
	return rec
}

func newContextRecord(sum *scan.Summary) ContextRecord {
	c := &sum.Context
	rec := ContextRecord{ACLReadsEffective: c.ACLReadsEffective, BucketGrants: []acl.Grant{}}
	if c.Ownership.Known {
		rec.ObjectOwnership = &c.Ownership.Value
	}
	rec.ObjectOwnershipProblem = c.Ownership.Problem
	if c.BucketBlock.Known {
		rec.BucketPublicAccessBlock = &c.BucketBlock.Value
	}
	rec.BucketBlockProblem = c.BucketBlock.Problem
	if c.AccountBlock.Known {
		rec.AccountPublicAccessBlock = &c.AccountBlock.Value
	}
	rec.AccountBlockProblem = c.AccountBlock.Problem
	if c.PolicyPublic.Known {
		rec.PolicyPublic = &c.PolicyPublic.Value
	}
	rec.PolicyStatusProblem = c.PolicyPublic.Problem
	if c.ACL.Known && c.ACL.Value != nil {
		rec.BucketGrants = c.ACL.Value
	}
	rec.BucketACLProblem = c.ACL.Problem
	findings, effective := sum.BucketFindings()
	rec.BucketFindings, rec.BucketEffective = findings.Names(), effective.Names()
	if c.Policy.Known {
		state := "none"
		if c.Policy.Value != "" {
			state = "present"
		}
		rec.BucketPolicy = &state
	}
	rec.BucketPolicyProblem = c.Policy.Problem
	if public, judged := sum.Judge().PolicyPublic(); judged {
		rec.BucketPolicyPublic = &public
	}
	if c.AccessPoints.Known {
		rec.AccessPoints = []string{}
		for _, ap := range c.AccessPoints.Value {
			rec.AccessPoints = append(rec.AccessPoints, ap.Name)
		}
	}
	rec.AccessPointsProblem = c.AccessPoints.Problem
	doors, _, doorsEffective := sum.BucketDoors()
	rec.BucketDoors, rec.BucketDoorsEffective = doors, doorsEffective.Names()
	if rec.BucketDoors == nil {
		rec.BucketDoors = []acl.Source{}
	}
	return rec
}

// AcceptRecord is what became of the accepted-exposure rules in a run.
type AcceptRecord struct {
	File      string   `json:"file"`
	Rules     int      `json:"rules"`
	Expired   []string `json:"expired"`
	Unmatched []string `json:"unmatched"`
}

// BaselineRecord is a run compared with a baseline report.
type BaselineRecord struct {
	Name string `json:"name"`
	// Closed counts the baseline's objects in the run's scope whose
	// findings are gone; ClosedObjects lists the first of them.
	Closed        int            `json:"closed"`
	ClosedObjects []ClosedRecord `json:"closed_objects"`
}

// ClosedRecord is an object whose findings are gone since the baseline.
type ClosedRecord struct {
	Bucket    string   `json:"bucket"`
	Key       string   `json:"key"`
	VersionID *string  `json:"version_id"`
	Findings  []string `json:"findings"`
}
