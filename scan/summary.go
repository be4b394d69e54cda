package scan

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aclscan/aclscan/accept"
	"github.com/aclscan/aclscan/acl"
)

// Progress is read by shells while a scan runs (from any goroutine).
type Progress struct {
	Listed  atomic.Int64
	Checked atomic.Int64
	Errors  atomic.Int64
	// Waiting is true while the scan pauses for an unavailable endpoint.
	Waiting atomic.Bool
	// ListingDone is set once the source has produced every object of a
	// one-bucket scan: Listed is then the total.
	ListingDone atomic.Bool
	// BucketsDone and BucketsTotal count the buckets of RunBuckets.
	BucketsDone, BucketsTotal atomic.Int64
}

// Summary is the account of a finished (or stopped) scan.
type Summary struct {
	Bucket   string
	Prefix   string
	Strategy Strategy
	// Concurrency is the number of workers (Pool), 1 (Serial) or 0 (All).
	Concurrency int
	// BucketOwner is the owner's canonical ID, "" when it could not be
	// learned; OwnerSource says where it came from.
	BucketOwner string
	OwnerSource string
	// OwnerProblem says why the owner is unknown; owner-dependent finding
	// kinds (acl.OwnerDependent) were then not judged.
	OwnerProblem string
	// Context is the bucket's context the objects were judged with.
	Context acl.BucketContext
	// NotScanned is true when the bucket's objects were left alone
	// because its ACLs are disabled (see Config.ScanDisabledACLs).
	NotScanned bool
	// ACLsNotFetched is true when the bucket's ACLs are disabled and its
	// objects were listed and judged through the bucket policy and access
	// points alone, without reading their ACLs.
	ACLsNotFetched bool
	Objects        int64
	DeleteMarkers  int64
	ByStatus       [numStatuses]int64
	// ByKind counts objects by what their ACLs say, ByEffective by what
	// grants access now.
	ByKind      [acl.NumKinds]int64
	ByEffective [acl.NumKinds]int64
	// ByAccepted counts, by kind, the objects whose finding a rule
	// accepts, and ByAcceptedEffective those that grant access now:
	// intended exposure, apart from the rest (Unaccepted).
	ByAccepted          [acl.NumKinds]int64
	ByAcceptedEffective [acl.NumKinds]int64
	// Trusted counts the objects shared only with the zone of trust (not
	// cross-account).
	Trusted int64
	// ByNewEffective counts, by kind, the results whose effective finding
	// the baseline did not have and no rule accepts (what --fail-on-new
	// fails on).
	ByNewEffective [acl.NumKinds]int64
	// AcceptedBucket are the kinds rules accept on the whole bucket (for
	// bucket-level doors, which have no key).
	AcceptedBucket acl.Findings
	// Shared counts objects whose ACL grants access to anyone other than
	// the bucket owner now (effective public, authenticated or
	// cross-account through the ACL, not the policy): what disabling ACLs
	// takes away.
	Shared int64
	// Served, NotServed and VerifyFailed count the anonymous requests of
	// Config.VerifyPublic by outcome; Changed, Unchanged and
	// RecheckFailed the live reads of Config.Recheck.
	Served, NotServed, VerifyFailed   int64
	Changed, Unchanged, RecheckFailed int64
	// Source and ReportDate are the scan's Config.SourceName and
	// ReportDate.
	Source, ReportDate string
	Requests           int64
	// Retries and Throttles count GetObjectAcl retries and answers asking
	// to slow down (when the client counts them).
	Retries   int64
	Throttles int64
	Duration  time.Duration
	// Unchecked counts listed objects left without a result because the
	// scan stopped (interrupted, or the report could not be written).
	Unchecked int64
	// Complete is true when every object was listed and every listed
	// object has a result.
	Complete bool
	// Resumed is true when the scan continued from a checkpoint; the
	// counts then include what was reported before it.
	Resumed bool
	// Region and Failure are set in runs over many buckets (RunBuckets):
	// the bucket's region, and why this bucket could not be scanned
	// (nil when it was).
	Region  string
	Failure *Error
	// Buckets are the per-bucket summaries of a Total.
	Buckets []*Summary
	// AcceptRules is what became of the accepted-exposure rules (set by
	// the shell once the run is over; nil without rules).
	AcceptRules *AcceptRules
	// Baseline is what the comparison with a baseline found beyond the
	// records (set by the shell once the run is over; nil without one).
	Baseline *BaselineOutcome
	// Accounts are a run over accounts' rows, one per listed account
	// (nil otherwise); Buckets then holds every account's buckets.
	Accounts []AccountSummary
}

// BaselineOutcome is a run compared with a baseline: the objects whose
// findings are gone since (the first MaxClosedListed of them listed).
type BaselineOutcome struct {
	Name   string
	Closed int
	Listed []ClosedObject
}

// MaxClosedListed bounds the closed objects a summary lists.
const MaxClosedListed = 1000

// ClosedObject is an object of the baseline whose findings are gone.
type ClosedObject struct {
	Bucket, Key, VersionID string
	Findings               []string
}

// AcceptOutcome is what became of the rules in a run, for its summary
// (nil without rules): call it once the run is over.
func AcceptOutcome(rules *accept.Rules) *AcceptRules {
	if rules == nil {
		return nil
	}
	out := &AcceptRules{File: rules.Path, Live: rules.Len(), Expired: []string{}, Unmatched: []string{}}
	for _, r := range rules.Expired {
		out.Expired = append(out.Expired, fmt.Sprintf("%s (expired %s)", r.Name(), r.Expires))
	}
	for _, r := range rules.Unmatched() {
		out.Unmatched = append(out.Unmatched, r.Name())
	}
	return out
}

// AcceptRules is what became of a run's accepted-exposure rules.
type AcceptRules struct {
	File string
	// Live is the number of rules that applied; Expired and Unmatched
	// name the rules whose date had passed and those that accepted
	// nothing.
	Live               int
	Expired, Unmatched []string
}

// Count returns the number of results with status s.
func (s *Summary) Count(st Status) int64 { return s.ByStatus[st] }

// Found returns the number of results with finding kind k.
func (s *Summary) Found(k acl.Kind) int64 { return s.ByKind[k] }

// Findings returns the set of kinds found at least once.
func (s *Summary) Findings() acl.Findings {
	var f acl.Findings
	for _, k := range acl.AllKinds() {
		if s.ByKind[k] > 0 {
			f = f.With(k)
		}
	}
	return f
}

// Judged reports whether finding kind k could be judged in this scan:
// owner-dependent kinds need the bucket owner, and kinds read from grants
// need at least one ACL read (when there were objects at all).
func (s *Summary) Judged(k acl.Kind) bool {
	if len(s.Buckets) > 0 {
		for _, b := range s.Buckets {
			if b != nil && b.Judged(k) {
				return true
			}
		}
		return false
	}
	if acl.OwnerDependent.Has(k) && s.BucketOwner == "" {
		return false
	}
	return !acl.FromGrants.Has(k) || s.Objects == 0 || s.ByStatus[StatusOK] > 0
}

// RequestsPerSecond is the request rate over the whole scan.
func (s *Summary) RequestsPerSecond() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.Requests) / s.Duration.Seconds()
}

// Add counts a result that did not come from Run: a shell reading a
// report back (aclscan report --diff).
func (s *Summary) Add(r *Result) { s.add(r) }

func (s *Summary) add(r *Result) {
	s.Objects++
	if r.Trusted != nil && !r.Findings.Has(acl.CrossAccount) {
		s.Trusted++
	}
	s.ByStatus[r.Status]++
	if r.Findings != 0 {
		for k := acl.Kind(0); k < acl.NumKinds; k++ {
			if r.Findings.Has(k) {
				s.ByKind[k]++
			}
			if r.Effective.Has(k) {
				s.ByEffective[k]++
			}
			if r.Compared && r.New.Has(k) && r.Effective.Has(k) && !r.Accepted.Has(k) {
				s.ByNewEffective[k]++
			}
			if r.Accepted.Has(k) {
				s.ByAccepted[k]++
				if r.Effective.Has(k) {
					s.ByAcceptedEffective[k]++
				}
			}
		}
		if r.ViaACL.Any(sharedKinds) {
			s.Shared++
		}
	}
	switch r.Verified {
	case Served:
		s.Served++
	case NotServed:
		s.NotServed++
	}
	switch r.Rechecked {
	case Changed:
		s.Changed++
	case Unchanged:
		s.Unchanged++
	}
}

// sharedKinds are the findings of an ACL that grants access to others.
const sharedKinds acl.Findings = 1<<acl.Public | 1<<acl.Authenticated | 1<<acl.CrossAccount

// Effective returns the set of kinds that grant access now, found at
// least once.
func (s *Summary) Effective() acl.Findings {
	var f acl.Findings
	for _, k := range acl.AllKinds() {
		if s.ByEffective[k] > 0 {
			f = f.With(k)
		}
	}
	return f
}

// Unaccepted returns the number of results whose effective finding k no
// rule accepts: the exposure nobody said was intended.
func (s *Summary) Unaccepted(k acl.Kind) int64 { return s.ByEffective[k] - s.ByAcceptedEffective[k] }

// UnacceptedLatent is Found(k) less the accepted ones.
func (s *Summary) UnacceptedLatent(k acl.Kind) int64 { return s.ByKind[k] - s.ByAccepted[k] }

// FoundEffective returns the number of results whose kind k grants
// access now.
func (s *Summary) FoundEffective(k acl.Kind) int64 { return s.ByEffective[k] }

// Total adds up the summaries of a run over many buckets (nil ones,
// buckets not started, count as incomplete). Its Buckets are the
// summaries; it is complete when every bucket is.
func Total(sums []*Summary) *Summary {
	t := &Summary{Complete: true, Buckets: sums}
	for _, s := range sums {
		if s == nil {
			t.Complete = false
			continue
		}
		t.Strategy, t.Concurrency = s.Strategy, s.Concurrency
		t.Objects += s.Objects
		t.DeleteMarkers += s.DeleteMarkers
		t.Unchecked += s.Unchecked
		t.Shared += s.Shared
		t.Trusted += s.Trusted
		t.Served += s.Served
		t.NotServed += s.NotServed
		t.VerifyFailed += s.VerifyFailed
		t.Resumed = t.Resumed || s.Resumed
		for i := range s.ByStatus {
			t.ByStatus[i] += s.ByStatus[i]
		}
		for i := range s.ByKind {
			t.ByKind[i] += s.ByKind[i]
			t.ByEffective[i] += s.ByEffective[i]
			t.ByAccepted[i] += s.ByAccepted[i]
			t.ByAcceptedEffective[i] += s.ByAcceptedEffective[i]
			t.ByNewEffective[i] += s.ByNewEffective[i]
		}
		t.Complete = t.Complete && s.Complete && s.Failure == nil
	}
	return t
}

// Failed returns the buckets of a total that could not be scanned.
func (s *Summary) Failed() []*Summary {
	var out []*Summary
	for _, b := range s.Buckets {
		if b != nil && b.Failure != nil {
			out = append(out, b)
		}
	}
	return out
}

// AccountSummary is one account of a run over accounts: what became of
// it, and its buckets' total.
type AccountSummary struct {
	ID, Name string
	// OUPath is where Organizations places it (root and units' IDs).
	OUPath string
	// State is scanned, partial, denied or skipped; Reason says why.
	State, Reason string
	Buckets       int
	// AssumeRoleCalls counts the STS sessions it took.
	AssumeRoleCalls int
	// Total is its buckets' total (nil when none was scanned).
	Total *Summary
}
