package scan

import (
	"context"
	"errors"
	"time"

	"github.com/aclscan/aclscan/accept"
	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/s3access"
)

// Status is the outcome of fetching one object's ACL.
type Status uint8

const (
	StatusOK      Status = iota // the ACL was read
	StatusDenied                // GetObjectAcl answered AccessDenied
	StatusMissing               // the object was deleted between list and fetch
	StatusError                 // the fetch failed after retries; Result.Err says why
	// StatusUnavailable: the source (an inventory report) says the ACL
	// exists but gives no copy of it.
	StatusUnavailable
	numStatuses
)

var statusNames = [numStatuses]string{"ok", "denied", "missing", "error", "unavailable"}

func (s Status) String() string { return statusNames[s] }

// AllStatuses lists the statuses in output order.
func AllStatuses() []Status {
	return []Status{StatusOK, StatusDenied, StatusMissing, StatusError, StatusUnavailable}
}

// Result is what the scan learned about one object (or one version).
// Every listed key produces exactly one Result, whatever happened to it.
type Result struct {
	Bucket string
	Key    string
	// Versioned is true in --all-versions scans; VersionID and IsLatest
	// are meaningful only then.
	Versioned bool
	VersionID string
	IsLatest  bool
	OwnerID   string
	Status    Status
	Err       string
	Grants    []acl.Grant
	// Findings are what the ACL says; Effective those that grant access
	// now, given the bucket's settings; BlockedBy names the settings that
	// make the others latent (shared: do not modify).
	Findings  acl.Findings
	Effective acl.Findings
	BlockedBy []string
	// Doors explains the findings door by door (Doors.Sources), when
	// the engine judged them; Sources holds the explanation of a result
	// read back from a report.
	Doors   acl.Doors
	Sources []acl.Source
	// ViaACL are the effective findings the ACL alone makes (what
	// disabling ACLs takes away).
	ViaACL acl.Findings
	// Verified is the answer of --verify-public's anonymous request.
	Verified Verification
	// Source names where the ACL came from ("live", "inventory") and
	// ReportDate, for a report, when it was taken.
	Source     string
	ReportDate string
	// Account is the account of the bucket in a run over accounts (nil
	// otherwise; shared by every result of the account: do not modify).
	Account *Account
	// Rechecked is what Config.Recheck found live.
	Rechecked Recheck
	// Accepted are the findings a rule of Config.Accept accepts (intended
	// exposure), and Acceptance the first rule that does (shared: do not
	// modify).
	Accepted   acl.Findings
	Acceptance *accept.Acceptance
	// Trusted are the principals of the zone of trust (Config.Trusted) the
	// object is shared with; when they are all it is shared with, it is
	// not cross-account.
	Trusted []string
	// Cause is the event that made a watch judge the object (nil in a
	// scan).
	Cause *Cause
	// Compared is true when the findings were compared with a baseline
	// (Config.Baseline); New are those it did not have.
	Compared bool
	New      acl.Findings

	// Where the source's entry is, to mark it reported.
	place place
	// err is the failure behind StatusError; sent is when the request
	// was first sent; definite marks a failure no retry changes (recorded
	// at once, not held).
	err      error
	sent     time.Time
	definite bool
	// deleteMarker is a source's delete marker on its way to be counted.
	deleteMarker bool
}

// object is the source's object a failed r was resolved for (its owner
// is still the source's).
func (r *Result) object() Object {
	return Object{Key: r.Key, VersionID: r.VersionID, OwnerID: r.OwnerID, IsLatest: r.IsLatest, place: r.place}
}

// Cause is an announced change of an object: where it came from (the
// source's name: aws:s3, ceph:s3, aws.s3), what happened, its id, when.
type Cause struct {
	Source, Name, ID string
	Time             time.Time
}

// Verification is what an anonymous request for an object showed.
type Verification uint8

const (
	NotVerified Verification = iota // not asked (or the request failed)
	Served                          // S3 served the object to anyone
	NotServed                       // S3 refused it
)

// Recheck is what a live GetObjectAcl showed of an ACL a report gave.
type Recheck uint8

const (
	NotRechecked Recheck = iota // not asked (or the request failed)
	Changed                     // the live ACL differs, or the object is gone
	Unchanged                   // the live ACL is the report's
)

// Risky reports whether the result deserves a look: a finding or a
// status other than ok.
func (r *Result) Risky() bool { return r.Findings != 0 || r.Status != StatusOK }

// Temporary reports whether a failed result's cause may pass by itself
// (throttling, a 5xx answer, no answer, a timeout): an engine that
// redrives work (S3 Batch Operations) should try the object again.
func (r *Result) Temporary() bool {
	if r.Status != StatusError || r.definite {
		return false
	}
	return s3access.IsThrottle(r.err) || s3access.IsUnavailable(r.err) || errors.Is(r.err, context.DeadlineExceeded)
}

// Sink receives results, from a single goroutine, as they arrive. It must
// not keep the *Result after Write returns.
type Sink interface {
	Write(r *Result) error
}

// SinkFunc is a function used as a Sink.
type SinkFunc func(r *Result) error

// Write calls f(r).
func (f SinkFunc) Write(r *Result) error { return f(r) }

// ParseStatus is Status.String's inverse (a report read back).
func ParseStatus(name string) (Status, bool) {
	for s, n := range statusNames {
		if n == name {
			return Status(s), true
		}
	}
	return 0, false
}

// Account names the account of a run over accounts' results: its ID,
// and what Organizations says of it (name, OU path).
type Account struct {
	ID, Name, OUPath string
}

// AccountID is the result's account ID, "" outside a run over accounts.
func (r *Result) AccountID() string {
	if r.Account == nil {
		return ""
	}
	return r.Account.ID
}
