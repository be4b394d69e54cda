package fix

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/aclscan/aclscan/accept"
	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/scan"
)

// Planner makes a fix plan: from a live scan of a target or from a
// report's records, with each bucket's context (its owner decides what
// is cross-account), the bucket ACLs when asked, and the changes an
// earlier run logged but did not settle. It reads; nothing is changed
// until Apply. A shell (the CLI, a function remediating events) prints
// or applies what it planned.
type Planner struct {
	api         scan.API
	mode        Mode
	bucketOwner string
	contexts    map[string]*acl.BucketContext
	entries     []Entry
	notes       []string
	// policyKept counts, per bucket and statement, the objects the bucket
	// policy keeps exposed in the kinds fixed: fix rewrites ACLs only.
	policyKept map[string]map[string]int
	// pending are the undo log's changes an earlier run logged but did
	// not account for, by ACL; reported marks those a report names
	// (inside this run's targets).
	pending  map[string]*Record
	reported map[string]bool
	// accept are the accepted-exposure rules; acceptedKept counts, by
	// rule, the objects whose accepted findings the plan leaves alone.
	accept       *accept.Rules
	acceptedKept map[string]int
}

// PlannerOptions configure a Planner.
type PlannerOptions struct {
	Mode Mode
	// BucketOwner is the canonical ID to take as the bucket's owner when
	// its ACL does not say (a server that hides it).
	BucketOwner string
	// Journal, when applying, is the undo log whose unsettled changes
	// must be settled by this run (AddUnsettled).
	Journal *Journal
	// Accept are the accepted-exposure rules: findings they accept are
	// left as they are (a report's records are matched against them too,
	// beside what the report says it accepted).
	Accept *accept.Rules
}

// NewPlanner starts a plan read through api.
func NewPlanner(api scan.API, opts PlannerOptions) *Planner {
	p := &Planner{api: api, mode: opts.Mode, bucketOwner: opts.BucketOwner, contexts: map[string]*acl.BucketContext{},
		pending: map[string]*Record{}, reported: map[string]bool{}, accept: opts.Accept, acceptedKept: map[string]int{}}
	if j := opts.Journal; j != nil {
		for _, rec := range j.Befores() {
			if _, done := j.Earlier(RecordID(rec)); done == nil {
				p.pending[RecordID(rec)] = rec
			}
		}
	}
	return p
}

// RefusedError is a plan refused before anything changed: an undo log
// whose pending change lies outside the run's targets or would do more
// than remove grants.
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return e.Msg }

// Entries are the plan's changes, in key order.
func (p *Planner) Entries() []Entry {
	sort.Slice(p.entries, func(i, j int) bool { return p.entries[i].ID() < p.entries[j].ID() })
	return p.entries
}

// Notes say what the plan cannot do or leaves exposed, one line each.
func (p *Planner) Notes() []string {
	notes := append(slices.Clip(p.notes), p.policyNotes()...)
	for _, rule := range slices.Sorted(maps.Keys(p.acceptedKept)) {
		what := "their accepted findings are left as they are"
		if p.mode.Canned != "" {
			what = "they are left out (a canned ACL would replace the accepted grants too)"
		}
		notes = append(notes, fmt.Sprintf("%d objects have findings the accepted-exposures rule %s accepts: %s", p.acceptedKept[rule], rule, what))
	}
	return notes
}

// Reported reports whether a report read by FromReport named the record's
// object.
func (p *Planner) Reported(rec *Record) bool { return p.reported[RecordID(rec)] }

// Printable names an entry; a key with control characters is quoted,
// so it cannot rewrite a terminal.
func (e *Entry) Printable() string {
	if e.Key == "" {
		return "the ACL of bucket s3://" + e.Bucket
	}
	w := e.Where()
	for _, r := range w {
		if !unicode.IsPrint(r) {
			return strconv.Quote(w)
		}
	}
	return w
}

// keptByPolicy notes the objects that stay exposed after the plan because
// a bucket policy statement, not their ACL, opens them.
func (p *Planner) keptByPolicy(bucket string, sources []acl.Source) {
	for _, s := range sources {
		k, ok := acl.ParseKind(s.Finding)
		if !ok || !s.Effective || s.Door != acl.DoorBucketPolicy || !p.mode.Kinds.Has(k) {
			continue
		}
		if p.policyKept == nil {
			p.policyKept = map[string]map[string]int{}
		}
		if p.policyKept[bucket] == nil {
			p.policyKept[bucket] = map[string]int{}
		}
		p.policyKept[bucket][s.Finding+" by statement "+s.Ref]++
	}
}

// policyNotes say what the plan leaves exposed through bucket policies.
func (p *Planner) policyNotes() []string {
	var notes []string
	for _, bucket := range slices.Sorted(maps.Keys(p.policyKept)) {
		for _, what := range slices.Sorted(maps.Keys(p.policyKept[bucket])) {
			notes = append(notes, fmt.Sprintf("s3://%s: %d objects stay %s of the bucket policy after this fix: fix rewrites ACLs, not policies; change the statement to close them",
				bucket, p.policyKept[bucket][what], what))
		}
	}
	return notes
}

// bucketContext reads a bucket's context once; a failure is a
// *scan.Error (the shell explains it in its own words).
func (p *Planner) bucketContext(ctx context.Context, bucket string) (*acl.BucketContext, error) {
	if c := p.contexts[bucket]; c != nil {
		return c, nil
	}
	bc, err := p.api.BucketContext(ctx, bucket)
	if err != nil {
		return nil, &scan.Error{Op: fmt.Sprintf("read the ACL of bucket %q", bucket), Err: err}
	}
	if bc.Owner == "" {
		bc.Owner = p.bucketOwner
	}
	if bc.ACLReadsEffective && bc.IgnoresPublicACLs() {
		p.notes = append(p.notes, fmt.Sprintf("s3://%s: IgnorePublicAcls is on and this is AWS: GetObjectAcl leaves out the public grants S3 ignores, so an ACL written back from it deletes them too, and the undo log cannot hold them", bucket))
	}
	if bc.ACLsDisabled() {
		p.notes = append(p.notes, fmt.Sprintf("s3://%s: ACLs are disabled (BucketOwnerEnforced): S3 refuses ACL changes (AccessControlListNotSupported); the dormant ACLs can only be fixed after re-enabling ACLs", bucket))
	}
	p.contexts[bucket] = &bc
	return &bc, nil
}

func (p *Planner) add(bucket string, bc *acl.BucketContext, key, versionID, owner string, grants []acl.Grant, accepted acl.Findings, rule string) {
	mode := p.mode
	if accepted&mode.Kinds != 0 {
		p.acceptedKept[rule]++
		if mode.Canned != "" {
			return
		}
		mode.Kinds &^= accepted
	}
	e, ok := Plan(bc.Owner, owner, grants, mode)
	if !ok {
		return
	}
	e.Bucket, e.Key, e.VersionID = bucket, key, versionID
	p.entries = append(p.entries, e)
}

// FromScan scans the target live and plans every ACL with findings. A
// bucket that cannot be read, or a scan that stops, is a *scan.Error.
func (p *Planner) FromScan(ctx context.Context, cfg scan.Config) error {
	bc, err := p.bucketContext(ctx, cfg.Bucket)
	if err != nil {
		return err
	}
	cfg.Context = bc
	// The sink is called from one goroutine (the engine's contract).
	sum, err := scan.Run(ctx, p.api, cfg, scan.SinkFunc(func(r *scan.Result) error {
		if r.Status == scan.StatusOK && r.Findings&p.mode.Kinds != 0 {
			rule := ""
			if r.Acceptance != nil {
				rule = r.Acceptance.Rule
			}
			p.add(r.Bucket, bc, r.Key, r.VersionID, r.OwnerID, r.Grants, r.Accepted, rule)
		}
		if r.Effective&p.mode.Kinds != 0 {
			p.keptByPolicy(r.Bucket, report.ResultSources(r))
		}
		return nil
	}), nil)
	if err != nil {
		return fmt.Errorf("scan for the plan: %w", err)
	}
	if n := sum.Count(scan.StatusDenied); n > 0 {
		p.notes = append(p.notes, fmt.Sprintf("%d objects' ACLs could not be read (owned by other accounts?): they are not in the plan", n))
	}
	return nil
}

// FromReport plans from a JSONL report's records. A bucket that cannot
// be read is a *scan.Error; anything else is the report's fault.
func (p *Planner) FromReport(ctx context.Context, r io.Reader) error {
	return report.ReadJSONL(r, func(rec report.Record) error {
		p.keptByPolicy(rec.Bucket, rec.Sources)
		version := ""
		if rec.VersionID != nil {
			version = *rec.VersionID
		}
		if len(p.pending) > 0 {
			if id := rec.Bucket + "\x00" + rec.Key + "\x00" + version; p.pending[id] != nil {
				p.reported[id] = true
			}
		}
		if rec.Status != "ok" || len(rec.Findings) == 0 {
			return nil
		}
		bc, err := p.bucketContext(ctx, rec.Bucket)
		if err != nil {
			return err
		}
		accepted, rule := p.recordAccepted(&rec)
		p.add(rec.Bucket, bc, rec.Key, version, rec.OwnerID, rec.Grants, accepted, rule)
		return nil
	})
}

// recordAccepted is what a report's record says was accepted, with what
// this run's rules accept: rules written since the report count too.
func (p *Planner) recordAccepted(rec *report.Record) (acl.Findings, string) {
	var accepted acl.Findings
	rule := ""
	for _, name := range rec.Accepted {
		if k, ok := acl.ParseKind(name); ok {
			accepted = accepted.With(k)
		}
	}
	if rec.AcceptedRule != nil {
		rule = *rec.AcceptedRule
	}
	if p.accept != nil {
		var found acl.Findings
		for _, name := range rec.Findings {
			if k, ok := acl.ParseKind(name); ok {
				found = found.With(k)
			}
		}
		more, by := p.accept.Match(rec.Bucket, rec.Key, found, func() []string { return accept.CrossAccountPrincipals(rec.Sources) })
		if more&^accepted != 0 && by != nil && rule == "" {
			rule = by.Rule
		}
		accepted |= more
	}
	return accepted, rule
}

// AddBucketACLs plans a reset, to the owner alone, of every bucket ACL
// that grants anyone else: what keeps a bucket from disabling ACLs.
func (p *Planner) AddBucketACLs() {
	for _, b := range slices.Sorted(maps.Keys(p.contexts)) {
		bc := p.contexts[b]
		if !bc.ACL.Known || bc.Owner == "" {
			p.notes = append(p.notes, fmt.Sprintf("s3://%s: the bucket ACL or its owner is unknown (%s): not in the plan", b, bc.ACL.Problem))
			continue
		}
		owner := acl.Grant{Type: acl.TypeCanonicalUser, ID: bc.Owner, Permission: "FULL_CONTROL"}
		e := Entry{Bucket: b, Owner: bc.Owner, BucketOwner: bc.Owner, Canned: CannedPrivate, Before: bc.ACL.Value, After: []acl.Grant{owner}}
		for _, g := range bc.ACL.Value {
			if g != owner {
				e.Removed = append(e.Removed, g)
				if g.Type == acl.TypeGroup && strings.HasSuffix(g.URI, "/LogDelivery") {
					p.notes = append(p.notes, fmt.Sprintf("s3://%s: the bucket ACL's LogDelivery grant goes too: grant logging.s3.amazonaws.com in the bucket policy first, or server access logs stop", b))
				}
			}
		}
		if len(e.Removed) > 0 {
			e.Findings = acl.Classify(bc.Owner, bc.Owner, e.Removed).Names()
			p.entries = append(p.entries, e)
		}
	}
}

// AddUnsettled adds the ACLs an earlier run logged in j but did not
// account for (it stopped between the two): they are settled whether or
// not a new scan still finds them. Each must lie inside this run's
// targets and only remove grants from the ACL it saved (but the owners'
// FULL_CONTROL, with the bucket owner read now, not taken from the log):
// anything else is a *RefusedError naming the log line, before anything
// changes.
func (p *Planner) AddUnsettled(ctx context.Context, j *Journal, inScope func(*Record) bool) error {
	planned := map[string]bool{}
	for i := range p.entries {
		planned[p.entries[i].ID()] = true
	}
	for _, rec := range j.Befores() {
		id := RecordID(rec)
		if p.pending[id] == nil {
			continue
		}
		e := Entry{Bucket: rec.Bucket, Key: rec.Key, VersionID: rec.VersionID, Owner: rec.Owner, Before: rec.Grants, After: rec.After}
		if !inScope(rec) {
			return &RefusedError{fmt.Sprintf("undo log %s line %d: a pending change of %s is outside this run's targets: run the fix of its own target with this log to settle it, or use another undo log; nothing changed",
				j.Path(), rec.Line, e.Printable())}
		}
		bc, err := p.bucketContext(ctx, rec.Bucket)
		if err != nil {
			return err
		}
		if err := CheckAfter(rec.Owner, bc.Owner, rec.Grants, rec.After); err != nil {
			return &RefusedError{fmt.Sprintf("undo log %s line %d: its change of %s is refused: %v (was the log edited?); nothing changed",
				j.Path(), rec.Line, e.Printable(), err)}
		}
		e.BucketOwner = bc.Owner
		if !planned[id] {
			p.entries = append(p.entries, e)
		}
	}
	return nil
}

// WritePlan writes the plan's entries as JSON lines, in key order.
func (p *Planner) WritePlan(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, e := range p.Entries() {
		if err := enc.Encode(&e); err != nil {
			return err
		}
	}
	return nil
}
