package fix

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/s3access"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// API is what applying and undoing needs of the S3 client
// (*s3access.Client has it).
type API interface {
	GetObjectACL(ctx context.Context, bucket, key, versionID string) (acl.Policy, error)
	PutObjectACL(ctx context.Context, bucket, key, versionID string, p acl.Policy) error
	BucketContext(ctx context.Context, bucket string) (acl.BucketContext, error)
	PutBucketACL(ctx context.Context, bucket string, p acl.Policy) error
	ServedAnonymously(ctx context.Context, bucket, key, versionID string) (bool, error)
}

// Options tune Apply and Undo.
type Options struct {
	// Workers bounds the changes in flight (0 = 16).
	Workers int
	// PutsPerSecond bounds the ACL writes (0 = 3,500, S3's PUT rate per
	// prefix).
	PutsPerSecond float64
	// Force changes (or restores) an ACL that changed since the plan (or
	// since the fix); by default it is skipped.
	Force bool
	// VerifyPublic asks anonymously, after the change, for every object
	// that was public: Result.StillServed says whether it still is.
	VerifyPublic bool
	// Apply makes Undo write; without it Undo only says what it would
	// restore (Apply always writes: its plan is the dry run).
	Apply bool
}

// Result is what happened to one entry.
type Result struct {
	Entry   *Entry
	Outcome string
	Reason  string
	// Earlier: accounted for by an earlier run (found in the journal).
	Earlier bool
	// Verified and StillServed: the anonymous request of VerifyPublic.
	Verified, StillServed bool
	// Raced is set when the ACL read back right after the write is not
	// the one written: another writer changed it (S3 has no conditional
	// ACL write); Now is what it is.
	Raced bool
	Now   []acl.Grant
	// Reopens are the finding kinds an undo gives back (grants the
	// restored ACL has that the ACL now has not): public, cross-account...
	Reopens acl.Findings
}

// Apply changes every entry's ACL, at most once, each logged (synced)
// in the journal before its change and accounted for exactly once:
// changed, skipped or failed. An entry the journal already accounts for
// is reported as it was; one whose ACL was logged but whose outcome was
// not (a crash between the two) is settled by reading the ACL again.
// report is called from several goroutines, once per entry.
func Apply(ctx context.Context, api API, j *Journal, entries []Entry, opts Options, report func(Result)) error {
	limit := rate.NewLimiter(rate.Limit(orDefault(opts.PutsPerSecond, 3500)), 1)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(int(orDefault(float64(opts.Workers), 16)))
	for i := range entries {
		e := &entries[i]
		g.Go(func() error {
			res, err := applyOne(ctx, api, j, e, opts, limit)
			if err != nil {
				return err // the journal failed: stop before changing more
			}
			if res.Outcome != "" && !res.Earlier {
				if err := j.Done(e, res.Outcome, res.Reason); err != nil {
					return err
				}
			}
			report(res)
			return nil
		})
	}
	return g.Wait()
}

func orDefault(v, def float64) float64 {
	if v <= 0 {
		return def
	}
	return v
}

func applyOne(ctx context.Context, api API, j *Journal, e *Entry, opts Options, limit *rate.Limiter) (Result, error) {
	res := Result{Entry: e}
	owner, live, err := read(ctx, api, e)
	switch {
	case ctx.Err() != nil:
		return res, ctx.Err() // interrupted: not an outcome
	case s3access.IsNotFound(err):
		res.Outcome, res.Reason = Skipped, "the object is gone"
		return res, nil
	case err != nil:
		res.Outcome, res.Reason = Failed, "cannot read its ACL: "+explain(err, "s3:GetObjectAcl")
		return res, nil
	}
	after := e.After
	logged, done := j.Earlier(e.ID())
	switch {
	case logged != nil && SameACL(owner, live, logged.Owner, logged.After):
		// As an earlier run of this log left it.
		if done != nil {
			res.Outcome, res.Reason, res.Earlier = done.Outcome, done.Reason, true
			return res, nil
		}
		// Changed by an earlier run that stopped before logging that.
		res.Outcome, res.Reason = Changed, "by an earlier run (settled from the live ACL)"
		return res, nil
	case logged != nil && done == nil && SameACL(owner, live, logged.Owner, logged.Grants):
		after = logged.After // logged, not yet changed: change it now (checked below)
	case !SameACL(owner, live, e.Owner, e.Before) && !opts.Force:
		res.Outcome, res.Reason = Skipped, "its ACL changed since the plan (--force applies the fix to the ACL as it is now)"
		return res, nil
	default:
		// New work, or an ACL an earlier run fixed that is exposed again
		// (fixed again, with new lines in the log).
		if !SameACL(owner, live, e.Owner, e.Before) {
			// --force: the fix, made again from the ACL as it is now.
			var ok bool
			var redo Entry
			if redo, ok = Plan(e.BucketOwner, owner, live, Mode{Kinds: kindsOf(e), Canned: e.Canned}); !ok {
				res.Outcome, res.Reason = Skipped, "its ACL no longer has the findings"
				return res, nil
			}
			after = redo.After
		}
		if err := CheckAfter(owner, e.BucketOwner, live, after); err != nil {
			res.Outcome, res.Reason = Failed, "refused: "+err.Error()
			return res, nil
		}
		if err := j.Before(&Entry{Bucket: e.Bucket, Key: e.Key, VersionID: e.VersionID, BucketOwner: e.BucketOwner, After: after}, owner, live); err != nil {
			return res, err
		}
	}
	// Whatever the plan or the log says, nothing is written that the ACL
	// just read does not hold (but the owners' FULL_CONTROL).
	if err := CheckAfter(owner, e.BucketOwner, live, after); err != nil {
		res.Outcome, res.Reason = Failed, "refused: "+err.Error()
		return res, nil
	}
	if err := limit.Wait(ctx); err != nil {
		return res, err
	}
	if err := write(ctx, api, e, acl.Policy{Owner: owner, Grants: after}); err != nil {
		if ctx.Err() != nil {
			// Interrupted: the change may or may not have been made; the
			// journal holds the ACL before it, and the next run settles it.
			return res, ctx.Err()
		}
		res.Outcome, res.Reason = Failed, "cannot change its ACL: "+explain(err, "s3:PutObjectAcl")
		return res, nil
	}
	res.Outcome = Changed
	readBack(ctx, api, e, owner, after, &res)
	if opts.VerifyPublic && e.Public && e.Key != "" {
		served, err := api.ServedAnonymously(ctx, e.Bucket, e.Key, e.VersionID)
		res.Verified, res.StillServed = err == nil, served
	}
	return res, nil
}

// readBack reads the ACL again right after writing it: S3 has no
// conditional ACL write, so another writer between the read and the
// write (or right after) goes unseen unless looked for.
func readBack(ctx context.Context, api API, e *Entry, owner string, written []acl.Grant, res *Result) {
	nowOwner, now, err := read(ctx, api, e)
	if err != nil || SameACL(nowOwner, now, owner, written) {
		return
	}
	res.Raced, res.Now = true, now
	res.Reason = "its ACL changed again right after it was written (another writer?): now " + acl.Describe(now, "")
}

// kindsOf is the mode an entry was planned with, as far as its findings say.
func kindsOf(e *Entry) acl.Findings {
	var f acl.Findings
	for _, name := range e.Findings {
		if k, ok := acl.ParseKind(name); ok {
			f = f.With(k)
		}
	}
	return f
}

// read returns the ACL of an entry's object (or bucket, Key "").
func read(ctx context.Context, api API, e *Entry) (string, []acl.Grant, error) {
	if e.Key == "" {
		bc, err := api.BucketContext(ctx, e.Bucket)
		if err == nil && !bc.ACL.Known {
			err = errors.New(bc.ACL.Problem)
		}
		return bc.Owner, bc.ACL.Value, err
	}
	p, err := api.GetObjectACL(ctx, e.Bucket, e.Key, e.VersionID)
	return p.Owner, p.Grants, err
}

func write(ctx context.Context, api API, e *Entry, p acl.Policy) error {
	if e.Key == "" {
		return api.PutBucketACL(ctx, e.Bucket, p)
	}
	return api.PutObjectACL(ctx, e.Bucket, e.Key, e.VersionID, p)
}

func explain(err error, permission string) string {
	if s3access.IsAccessDenied(err) {
		return "AccessDenied (needs " + permission + "; an object another account owns can only be changed by it)"
	}
	return s3access.Short(err)
}

// Undo restores every ACL the journal holds as it was before its change,
// unless it changed since the fix (then it is skipped, or with Force
// restored anyway). Restoring twice is harmless: an ACL already as it
// was is reported already-restored. Without opts.Apply nothing is
// written: each result says what would be restored (WouldRestore) and
// which findings that gives back (Reopens). keep selects the records to
// act on (nil: every one).
func Undo(ctx context.Context, api API, j *Journal, opts Options, keep func(*Record) bool, report func(Result)) error {
	limit := rate.NewLimiter(rate.Limit(orDefault(opts.PutsPerSecond, 3500)), 1)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(int(orDefault(float64(opts.Workers), 16)))
	var mu sync.Mutex
	for _, rec := range j.Befores() {
		if keep != nil && !keep(rec) {
			continue
		}
		g.Go(func() error {
			e := &Entry{Bucket: rec.Bucket, Key: rec.Key, VersionID: rec.VersionID, Owner: rec.Owner, Before: rec.Grants, After: rec.After}
			res := undoOne(ctx, api, e, opts, limit)
			mu.Lock()
			defer mu.Unlock()
			report(res)
			return ctx.Err()
		})
	}
	return g.Wait()
}

// WouldRestore is an undo's dry-run outcome: the ACL would be restored.
const WouldRestore = "would-restore"

func undoOne(ctx context.Context, api API, e *Entry, opts Options, limit *rate.Limiter) Result {
	res := Result{Entry: e}
	owner, live, err := read(ctx, api, e)
	switch {
	case s3access.IsNotFound(err):
		res.Outcome, res.Reason = Skipped, "the object is gone"
		return res
	case err != nil:
		res.Outcome, res.Reason = Failed, "cannot read its ACL: "+explain(err, "s3:GetObjectAcl")
		return res
	case SameACL(owner, live, e.Owner, e.Before):
		res.Outcome = AlreadyRestored
		return res
	case !SameACL(owner, live, e.Owner, e.After) && !opts.Force:
		res.Outcome, res.Reason = Skipped, "its ACL changed since the fix (--force restores it anyway)"
		return res
	}
	res.Reopens = reopens(owner, live, e.Before)
	if !opts.Apply {
		res.Outcome = WouldRestore
		return res
	}
	if err := limit.Wait(ctx); err != nil {
		res.Outcome, res.Reason = Failed, err.Error()
		return res
	}
	if err := write(ctx, api, e, acl.Policy{Owner: e.Owner, Grants: e.Before}); err != nil {
		res.Outcome, res.Reason = Failed, "cannot restore its ACL: "+explain(err, "s3:PutObjectAcl")
		return res
	}
	res.Outcome = Restored
	readBack(ctx, api, e, e.Owner, e.Before, &res)
	return res
}

// reopens are the finding kinds of the grants restoring gives back: those
// the restored ACL holds that the ACL now has not.
func reopens(owner string, now, restored []acl.Grant) acl.Findings {
	have := make(map[acl.Grant]bool, len(now))
	for _, g := range now {
		have[normalize(g)] = true
	}
	var back []acl.Grant
	for _, g := range restored {
		if !have[normalize(g)] {
			back = append(back, g)
		}
	}
	// Judged against the object's owner: a grant to anyone else is
	// another account's.
	return acl.Classify(owner, owner, back) & Closable
}

// Counts adds up results by outcome.
type Counts map[string]int64

func (c Counts) String() string {
	return fmt.Sprintf("%d changed, %d skipped, %d failed", c[Changed], c[Skipped], c[Failed])
}
