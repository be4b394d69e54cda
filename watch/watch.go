package watch

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/aclscan/aclscan/accept"
	"github.com/aclscan/aclscan/batch"
	"github.com/aclscan/aclscan/fix"
	"github.com/aclscan/aclscan/scan"
)

// Watcher judges announced objects as they are now. Safe for use by many
// goroutines; Judge's sink is called from one goroutine per call.
type Watcher struct {
	API scan.API
	// Contexts caches each bucket's context (read through API when nil).
	Contexts *batch.Contexts
	// Allowed says which buckets may be judged (nil: all): an event
	// naming another is counted and left alone.
	Allowed func(bucket string) bool
	Accept  *accept.Rules
	Trusted accept.Trust
	// Remediate, when set, closes what it names on the objects found
	// exposed, through the fix path.
	Remediate *Remediation

	once sync.Once
	mu   sync.Mutex
	// last is what each object's last record said, so that an event
	// delivered again for an unchanged ACL writes nothing new.
	last map[objectID]string
}

type objectID struct{ bucket, key, version string }

// maxRemembered bounds what the watcher remembers of objects it judged:
// past it the memory starts over (an object may then be written again).
const maxRemembered = 100_000

// Outcome counts what became of one delivery's events.
type Outcome struct {
	// Judged objects were read and written; Unchanged were read and found
	// as their last record said (written nothing); Ignored were events of
	// no interest (removals, restores) or of buckets not allowed.
	Judged, Unchanged, Ignored int
	// Remediated ACLs were changed by Remediate; RemediationFailed were
	// not (skipped, because they changed meanwhile, or failed).
	Remediated, RemediationFailed int
}

// Add adds another outcome's counts (deliveries judged apart, answered
// together).
func (o *Outcome) Add(p Outcome) {
	o.Judged += p.Judged
	o.Unchanged += p.Unchanged
	o.Ignored += p.Ignored
	o.Remediated += p.Remediated
	o.RemediationFailed += p.RemediationFailed
}

// Remediation closes, through the fix path, the findings of Mode's kinds
// (not those an accepted-exposure rule accepts) on objects a watch finds
// exposed: each ACL saved to an undo log before it changes, the owners'
// FULL_CONTROL never touched, the ACL read again and skipped if it
// changed since it was judged. A delivery sent again finds the object
// clean and changes nothing.
type Remediation struct {
	Mode fix.Mode
	API  fix.API
	// Journal opens the undo log of one delivery's changes: a new one
	// each time, since the same object may need closing again later.
	Journal func() (*fix.Journal, error)
	// Done is told of a delivery's closed undo log (the Lambda uploads it).
	Done func(j *fix.Journal) error
}

// Judge reads and judges the objects the events announce, writing a
// record per object whose judgement changed. An error means some objects
// could not be judged (S3 failing): the delivery should be tried again.
func (w *Watcher) Judge(ctx context.Context, events []Event, sink scan.Sink) (Outcome, error) {
	w.init()
	var out Outcome
	byBucket := map[string][]Event{}
	var order []string
	for _, e := range events {
		if !e.Judged() || (w.Allowed != nil && !w.Allowed(e.Bucket)) {
			out.Ignored++
			continue
		}
		if byBucket[e.Bucket] == nil {
			order = append(order, e.Bucket)
		}
		byBucket[e.Bucket] = append(byBucket[e.Bucket], e)
	}
	var errs []error
	var fixes []fix.Entry
	for _, bucket := range order {
		if err := w.judgeBucket(ctx, bucket, byBucket[bucket], sink, &out, &fixes); err != nil {
			errs = append(errs, fmt.Errorf("bucket %q: %w", bucket, err))
		}
	}
	if len(fixes) > 0 {
		if err := w.remediate(ctx, fixes, &out); err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// remediate applies a delivery's fixes with their own undo log.
func (w *Watcher) remediate(ctx context.Context, entries []fix.Entry, out *Outcome) error {
	r := w.Remediate
	j, err := r.Journal()
	if err != nil {
		return fmt.Errorf("open the undo log: %w", err)
	}
	var mu sync.Mutex
	err = fix.Apply(ctx, r.API, j, entries, fix.Options{Workers: 4}, func(res fix.Result) {
		mu.Lock()
		defer mu.Unlock()
		if res.Outcome == fix.Changed {
			out.Remediated++
		} else {
			out.RemediationFailed++
		}
	})
	if cerr := j.Close(); err == nil {
		err = cerr
	}
	if r.Done != nil {
		if derr := r.Done(j); err == nil {
			err = derr
		}
	}
	if err != nil {
		return fmt.Errorf("remediate: %w", err)
	}
	return nil
}

func (w *Watcher) judgeBucket(ctx context.Context, bucket string, events []Event, sink scan.Sink, out *Outcome, fixes *[]fix.Entry) error {
	bc, err := w.Contexts.Get(ctx, bucket)
	if err != nil {
		return err
	}
	causes := map[objectID]*scan.Cause{}
	var objects []scan.Object
	var retry []Event // keys EventBridge may have encoded, tried decoded if missing
	for _, e := range events {
		id := objectID{bucket, e.Key, e.VersionID}
		if causes[id] != nil {
			continue // the same object twice in one delivery: judged once
		}
		causes[id] = &scan.Cause{Source: e.Source, Name: e.Name, ID: e.ID, Time: e.Time}
		objects = append(objects, scan.Object{Key: e.Key, VersionID: e.VersionID, IsLatest: e.VersionID == ""})
		if e.KeyMaybeEncoded {
			if decoded, err := url.QueryUnescape(e.Key); err == nil && decoded != e.Key {
				retry = append(retry, e)
			}
		}
	}
	maybe := map[objectID]bool{}
	for _, e := range retry {
		maybe[objectID{bucket, e.Key, e.VersionID}] = true
	}
	missing := map[objectID]bool{}
	failed := 0
	record := scan.SinkFunc(func(r *scan.Result) error {
		if r.Status == scan.StatusError {
			failed++ // written, and the delivery comes again
		}
		id := objectID{bucket, r.Key, r.VersionID}
		r.Cause = causes[id]
		if r.Status == scan.StatusMissing && maybe[id] {
			missing[id] = true // judged again under its decoded key
			return nil
		}
		if w.unchanged(id, r) {
			out.Unchanged++
			return nil
		}
		out.Judged++
		if rm := w.Remediate; rm != nil && r.Status == scan.StatusOK && r.Effective&^r.Accepted&rm.Mode.Kinds != 0 {
			mode := rm.Mode
			mode.Kinds &^= r.Accepted
			if e, ok := fix.Plan(bc.Owner, r.OwnerID, r.Grants, mode); ok {
				e.Bucket, e.Key, e.VersionID = bucket, r.Key, r.VersionID
				*fixes = append(*fixes, e)
				// Fixed, the object's next record must be written again.
				w.forget(id)
			}
		}
		return sink.Write(r)
	})
	req := batch.Request{Items: batch.Items{Kind: batch.Listed, Bucket: bucket, Objects: objects}, Context: bc, Accept: w.Accept, Trusted: w.Trusted}
	if _, err := batch.Judge(ctx, w.API, req, record); err != nil {
		return err
	}
	var again []scan.Object
	for _, e := range retry {
		if missing[objectID{bucket, e.Key, e.VersionID}] {
			decoded, _ := url.QueryUnescape(e.Key)
			causes[objectID{bucket, decoded, e.VersionID}] = causes[objectID{bucket, e.Key, e.VersionID}]
			again = append(again, scan.Object{Key: decoded, VersionID: e.VersionID, IsLatest: e.VersionID == ""})
		}
	}
	if len(again) > 0 {
		retry = nil
		req.Items.Objects = again
		if _, err = batch.Judge(ctx, w.API, req, record); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d objects could not be read (status error in their records)", failed)
	}
	return nil
}

// unchanged reports whether r says what the object's last record said,
// and remembers r.
func (w *Watcher) unchanged(id objectID, r *scan.Result) bool {
	fp := fingerprint(r)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last[id] == fp {
		return true
	}
	if len(w.last) >= maxRemembered {
		clear(w.last)
	}
	w.last[id] = fp
	return false
}

// Forget makes the watcher write the object's next record whatever its
// last said (its alert could not be sent: the delivery comes again).
func (w *Watcher) Forget(bucket, key, versionID string) { w.forget(objectID{bucket, key, versionID}) }

// forget drops what the watcher remembers of an object.
func (w *Watcher) forget(id objectID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.last, id)
}

// fingerprint is what a record says of an object's exposure: a repeated
// event for an object whose ACL and verdict did not change has the same.
func fingerprint(r *scan.Result) string {
	grants := make([]string, len(r.Grants))
	for i, g := range r.Grants {
		grants[i] = g.Type + ":" + g.ID + g.URI + g.Email + ":" + g.Permission
	}
	slices.Sort(grants)
	return fmt.Sprintf("%s|%s|%s|%d|%d|%d|%s", r.Status, r.OwnerID, strings.Join(grants, ","), r.Findings, r.Effective, r.Accepted, strings.Join(r.BlockedBy, ","))
}

func (w *Watcher) init() {
	w.once.Do(func() {
		w.last = map[objectID]string{}
		if w.Contexts == nil {
			w.Contexts = &batch.Contexts{Read: w.API.BucketContext}
		}
	})
}

// SettingChanged drops the cached context of the bucket a settings
// change names (every bucket's, for an account-level change), so that the
// next events are judged with the settings as they are now. It reports
// whether the change can have opened objects no object event announces:
// the bucket (or, account-level, every bucket) then wants a scan.
func (w *Watcher) SettingChanged(c SettingChange) bool {
	if !c.DecidesAccess() {
		return false
	}
	w.init()
	w.Contexts.Forget(c.Bucket)
	return true
}
