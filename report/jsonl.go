package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aclscan/aclscan/accept"
	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/scan"
)

// Record is the JSON form of one result: the output contract. Fields that
// do not apply are null, never absent, so consumers see one schema.
type Record struct {
	Bucket    string      `json:"bucket"`
	Key       string      `json:"key"`
	VersionID *string     `json:"version_id"`
	IsLatest  *bool       `json:"is_latest"`
	OwnerID   string      `json:"owner_id"`
	Status    string      `json:"status"`
	Error     *string     `json:"error"`
	Grants    []acl.Grant `json:"grants"`
	// Findings are what the ACL says; Effective those that grant access
	// now, given the bucket's settings; BlockedBy names the settings that
	// make the others latent.
	Findings  []string `json:"findings"`
	Effective []string `json:"effective"`
	BlockedBy []string `json:"blocked_by"`
	// VerifiedPublic is --verify-public's answer: whether S3 served the
	// object to an anonymous request (null when not asked).
	VerifiedPublic *bool `json:"verified_public"`
	// Sources name each door through which the object is exposed, or
	// would be: an ACL grant or a bucket policy statement, with what it
	// lets whom do and whether it grants that now.
	Sources []acl.Source `json:"sources"`
	// Source is where the ACL came from: "live" (GetObjectAcl) or
	// "inventory"; ReportDate, for a report, when it was taken; and
	// ChangedSinceReport, with a recheck, whether the live ACL differs.
	Source             string  `json:"source"`
	ReportDate         *string `json:"report_date"`
	ChangedSinceReport *bool   `json:"changed_since_report"`
	// Accepted are the findings an accepted-exposures rule accepts
	// (intended exposure), AcceptedRule and AcceptedReason the first such
	// rule's id and reason (null when none).
	Accepted       []string `json:"accepted"`
	AcceptedRule   *string  `json:"accepted_rule"`
	AcceptedReason *string  `json:"accepted_reason"`
	// Baseline is "new" when a finding is not in the baseline report,
	// "known" when all are (null without a baseline, or without
	// findings); NewFindings are the new ones.
	Baseline    *string  `json:"baseline"`
	NewFindings []string `json:"new_findings"`
	// Trusted are the accounts of the zone of trust the object is shared
	// with; when they are all, it is not cross-account.
	Trusted []string `json:"trusted"`
	// Event is the announced change that made a watch judge the object
	// (null in a scan).
	Event *EventRecord `json:"event"`
	// AccountID is the account of the bucket in a run over accounts
	// (null in a run of one account); AccountName and OUPath are what
	// the accounts file or Organizations say of it (null when nothing).
	AccountID   *string `json:"account_id"`
	AccountName *string `json:"account_name"`
	OUPath      *string `json:"ou_path"`
}

// EventRecord is what a record says of the event behind it.
type EventRecord struct {
	Source string `json:"source" parquet:"source,dict"`
	Name   string `json:"name" parquet:"name,dict"`
	ID     string `json:"id" parquet:"id"`
	Time   string `json:"time" parquet:"time"`
}

// ResultSources explains a result door by door: the engine's verdict,
// or what a report read back said ([] when nothing opens the object).
func ResultSources(r *scan.Result) []acl.Source {
	sources := r.Sources
	if sources == nil {
		sources = r.Doors.Sources(r.OwnerID, r.Grants)
	}
	if sources == nil {
		return noSources
	}
	if len(r.Trusted) > 0 && !r.Findings.Has(acl.CrossAccount) {
		sources = trustedSources(sources)
	}
	return sources
}

// trustedSources marks the cross-account sources of an object shared only
// with trusted accounts as not effective, on a copy (sources may be
// shared).
func trustedSources(sources []acl.Source) []acl.Source {
	out := make([]acl.Source, len(sources))
	copy(out, sources)
	for i := range out {
		if out[i].Finding == acl.CrossAccount.String() && out[i].Effective {
			out[i].Effective, out[i].Note = false, acl.TrustedNote
		}
	}
	return out
}

var noSources = []acl.Source{}

// The baseline field's values (shared: records point at them).
var (
	baselineNew   = "new"
	baselineKnown = "known"
)

// noReasons is the blocked_by of a record with nothing blocked: [] rather
// than null, one schema.
var noReasons = []string{}

// NewRecord converts a result to its contract form. The record shares
// r's strings and grants: copy the grants to keep it beyond Sink.Write.
func NewRecord(r *scan.Result) Record {
	rec := Record{
		Bucket:    r.Bucket,
		Key:       r.Key,
		OwnerID:   r.OwnerID,
		Status:    r.Status.String(),
		Grants:    r.Grants,
		Findings:  r.Findings.Names(),
		Effective: r.Effective.Names(),
		BlockedBy: r.BlockedBy,
		Sources:   ResultSources(r),
	}
	if rec.BlockedBy == nil {
		rec.BlockedBy = noReasons
	}
	rec.Accepted = noReasons
	if r.Accepted != 0 {
		rec.Accepted = r.Accepted.Names()
	}
	if a := r.Acceptance; a != nil {
		rec.AcceptedRule, rec.AcceptedReason = &a.Rule, &a.Reason
	}
	rec.Trusted = r.Trusted
	if a := r.Account; a != nil {
		rec.AccountID = &a.ID
		if a.Name != "" {
			rec.AccountName = &a.Name
		}
		if a.OUPath != "" {
			rec.OUPath = &a.OUPath
		}
	}
	if rec.Trusted == nil {
		rec.Trusted = noReasons
	}
	if c := r.Cause; c != nil {
		rec.Event = &EventRecord{Source: c.Source, Name: c.Name, ID: c.ID}
		if !c.Time.IsZero() {
			rec.Event.Time = c.Time.UTC().Format(time.RFC3339Nano)
		}
	}
	rec.NewFindings = noReasons
	if r.Compared {
		rec.Baseline = &baselineKnown
		if r.New != 0 {
			rec.Baseline, rec.NewFindings = &baselineNew, r.New.Names()
		}
	}
	if r.Verified != scan.NotVerified {
		served := r.Verified == scan.Served
		rec.VerifiedPublic = &served
	}
	rec.Source = r.Source
	if rec.Source == "" {
		rec.Source = "live"
	}
	if r.ReportDate != "" {
		date := r.ReportDate
		rec.ReportDate = &date
	}
	if r.Rechecked != scan.NotRechecked {
		changed := r.Rechecked == scan.Changed
		rec.ChangedSinceReport = &changed
	}
	if rec.Grants == nil {
		rec.Grants = []acl.Grant{} // [] rather than null: one schema
	}
	if r.Versioned || r.VersionID != "" {
		// A watch's event can name a version outside a scan of versions:
		// the version is said, whether it is the latest is not known.
		versionID := r.VersionID
		rec.VersionID = &versionID
	}
	if r.Versioned {
		isLatest := r.IsLatest
		rec.IsLatest = &isLatest
	}
	if r.Err != "" {
		msg := r.Err
		rec.Error = &msg
	}
	return rec
}

type jsonlWriter struct {
	buf *bufio.Writer
	enc *json.Encoder
}

func newJSONL(w io.Writer) *jsonlWriter {
	buf := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	return &jsonlWriter{buf: buf, enc: enc}
}

func (j *jsonlWriter) Write(r *scan.Result) error {
	rec := NewRecord(r)
	return j.enc.Encode(&rec)
}

func (j *jsonlWriter) Close(*scan.Summary) error { return j.buf.Flush() }

func (j *jsonlWriter) Flush() error { return j.buf.Flush() }

// ReadJSONL reads a JSON-lines report back, record by record, calling fn
// for each; an error names the line. A report is read in constant
// memory, whatever its size.
func ReadJSONL(r io.Reader, fn func(Record) error) error {
	dec := json.NewDecoder(bufio.NewReader(r))
	for line := 1; ; line++ {
		var rec Record
		if err := dec.Decode(&rec); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("read report record %d: %w", line, err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// ReadFile reads a report file back, JSON lines or Parquet (told by its
// first bytes), record by record.
func ReadFile(name string, fn func(Record) error) error {
	file, err := os.Open(name)
	if err != nil {
		return err
	}
	defer file.Close()
	head := make([]byte, 4)
	if n, _ := io.ReadFull(file, head); n == 4 && string(head) == "PAR1" {
		info, err := file.Stat()
		if err != nil {
			return err
		}
		return ReadParquet(file, info.Size(), fn)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return ReadJSONL(file, fn)
}

// Result is the record as the engine's result again (a report read back
// to be merged or written in another format). It shares rec's strings.
func (rec *Record) Result() (scan.Result, error) {
	r := scan.Result{Bucket: rec.Bucket, Key: rec.Key, OwnerID: rec.OwnerID, Grants: rec.Grants, BlockedBy: rec.BlockedBy, Source: rec.Source}
	status, ok := scan.ParseStatus(rec.Status)
	if !ok {
		return r, fmt.Errorf("record of %q: unknown status %q", rec.Key, rec.Status)
	}
	r.Status = status
	var err error
	if r.Findings, err = parseFindings(rec.Findings); err != nil {
		return r, fmt.Errorf("record of %q: %w", rec.Key, err)
	}
	if r.Effective, err = parseFindings(rec.Effective); err != nil {
		return r, fmt.Errorf("record of %q: %w", rec.Key, err)
	}
	if r.Accepted, err = parseFindings(rec.Accepted); err != nil {
		return r, fmt.Errorf("record of %q: %w", rec.Key, err)
	}
	if len(rec.Trusted) > 0 {
		r.Trusted = rec.Trusted
	}
	if rec.AccountID != nil {
		r.Account = &scan.Account{ID: *rec.AccountID}
		if rec.AccountName != nil {
			r.Account.Name = *rec.AccountName
		}
		if rec.OUPath != nil {
			r.Account.OUPath = *rec.OUPath
		}
	}
	if e := rec.Event; e != nil {
		r.Cause = &scan.Cause{Source: e.Source, Name: e.Name, ID: e.ID}
		r.Cause.Time, _ = time.Parse(time.RFC3339Nano, e.Time)
	}
	if rec.Baseline != nil {
		r.Compared = true
		if r.New, err = parseFindings(rec.NewFindings); err != nil {
			return r, fmt.Errorf("record of %q: %w", rec.Key, err)
		}
	}
	if rec.AcceptedRule != nil {
		r.Acceptance = &accept.Acceptance{Rule: *rec.AcceptedRule}
		if rec.AcceptedReason != nil {
			r.Acceptance.Reason = *rec.AcceptedReason
		}
	}
	if rec.VersionID != nil {
		r.Versioned, r.VersionID = true, *rec.VersionID
		r.IsLatest = rec.IsLatest != nil && *rec.IsLatest
	}
	if rec.Error != nil {
		r.Err = *rec.Error
	}
	if rec.VerifiedPublic != nil {
		r.Verified = scan.NotServed
		if *rec.VerifiedPublic {
			r.Verified = scan.Served
		}
	}
	if rec.ReportDate != nil {
		r.ReportDate = *rec.ReportDate
	}
	if rec.ChangedSinceReport != nil {
		r.Rechecked = scan.Unchanged
		if *rec.ChangedSinceReport {
			r.Rechecked = scan.Changed
		}
	}
	if len(r.BlockedBy) == 0 {
		r.BlockedBy = nil
	}
	r.Sources = rec.Sources
	if r.Sources == nil {
		r.Sources = noSources
	}
	r.ViaACL = r.Effective & acl.GrantKinds
	if rec.Sources != nil {
		// A report written with sources says which doors are the ACL's.
		r.ViaACL = 0
		for _, s := range rec.Sources {
			if k, ok := acl.ParseKind(s.Finding); ok && s.Door == acl.DoorACL && s.Effective {
				r.ViaACL = r.ViaACL.With(k)
			}
		}
	}
	return r, nil
}

func parseFindings(names []string) (acl.Findings, error) {
	var f acl.Findings
	for _, n := range names {
		k, ok := acl.ParseKind(n)
		if !ok {
			return 0, fmt.Errorf("unknown finding %q", n)
		}
		f = f.With(k)
	}
	return f, nil
}
