// Package scan is aclscan's engine: one pipeline from a source of objects
// (a live listing, a batch of objects) through a resolver that gives each
// its ACL (GetObjectAcl, or what the source already holds) and the judge
// (package acl) to a sink, streaming, with bounded memory. Every object
// the source produces gets exactly one Result, whatever happens to it.
// It knows nothing of command lines, terminals or Lambda; those are shells
// built on top of it.
package scan

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/s3access"
)

// Error is a failure of a bucket-level step that stops the scan. Op says
// what was being done, in words a user recognises.
type Error struct {
	Op  string
	Err error
}

func (e *Error) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Explain is the error in one line that says what to do, pointing at
// settings the way spell (the shell's) says.
func (e *Error) Explain(spell s3access.Spelling) string { return s3access.Explain(e.Op, e.Err, spell) }

type scanner struct {
	api      API
	cfg      Config
	source   Source
	resolver Resolver
	listing  *listing // the source when it is the live listing, else nil
	judge    *acl.Judge
	progress *Progress
	// unchecked counts listed keys left without a result by an interruption.
	unchecked atomic.Int64
	// verifyFailures counts anonymous requests that failed (VerifyPublic),
	// recheckFailures live ACL reads that failed (Recheck).
	verifyFailures, recheckFailures atomic.Int64
	// restoredMarkers are the delete markers a resumed checkpoint counted;
	// sourceMarkers those a source other than the listing emitted (counted
	// in the goroutine that writes results).
	restoredMarkers, sourceMarkers int64
	lastCheckpoint                 time.Time
	// held are the error results of the current run of failures; see deliver.
	held            []Result
	runStart        time.Time // when the first held failure was delivered
	failureRunLimit int
}

// minFailureRun is the least number of failures in a row that stops a
// scan; see deliver.
const minFailureRun = 16

// requestCounter is implemented by clients that count their HTTP requests
// (s3access.Client).
type requestCounter interface{ Requests() int64 }

// retryCounter is implemented by clients that count retries and
// throttling answers (s3access.Client).
type retryCounter interface {
	Retries() int64
	Throttles() int64
}

// Run scans one bucket (or prefix) and writes a result for every object
// of the source (the live listing unless cfg.Source says otherwise) to
// sink. progress may be nil. The summary is returned even when the scan
// stops early; err then says why, and Summary.Complete is false.
func Run(ctx context.Context, api API, cfg Config, sink Sink, progress *Progress) (*Summary, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = new(Progress)
	}
	start := time.Now()
	var counts requestCounts
	if cfg.multi == nil {
		// A client shared by buckets scanned at once counts them all.
		counts = startCounting(api)
	}
	s := newScanner(api, cfg, progress, start)
	sum := &Summary{Bucket: cfg.Bucket, Prefix: cfg.Prefix, Strategy: cfg.Strategy, Concurrency: cfg.InFlight(),
		Source: cfg.SourceName, ReportDate: cfg.ReportDate, AcceptedBucket: cfg.Accept.WholeBucket(cfg.Bucket)}
	if cfg.Resume != nil {
		sum.restore(cfg.Resume)
		s.restoredMarkers = cfg.Resume.DeleteMarkers
		progress.Listed.Add(sum.Objects)
		progress.Checked.Add(sum.Objects)
	}
	if cfg.multi != nil {
		cfg.multi.started(cfg.Bucket, func() *State { return s.state(sum) })
	}

	// The bucket's context comes before its objects: it decides how they
	// are judged, and whether they are fetched at all. The first list
	// request goes out with it (one request at a time when serial).
	stopPrefetch := func() {}
	if s.listing != nil && cfg.Resume == nil && cfg.Context == nil && cfg.Strategy != Serial {
		stopPrefetch = s.listing.prefetch(ctx)
	}
	if err = s.readContext(ctx, sum); err == nil && !s.leaveAlone(sum) {
		if cfg.Strategy == Serial {
			err = s.runSerial(ctx, sink, sum)
		} else {
			err = s.runConcurrent(ctx, sink, sum)
		}
	}
	stopPrefetch()
	if err == nil && ctx.Err() == nil {
		// The run of failures at the end was short: one more try.
		err = s.retryHeld(ctx, sink, sum, true)
	} else {
		s.unchecked.Add(int64(len(s.held)))
	}
	if ctx.Err() != nil {
		// Whatever failed after the interruption failed because of it.
		err = fmt.Errorf("scan interrupted: %w", ctx.Err())
	}
	// The last checkpoint records everything the sink has, even when the
	// scan stopped early: that is what a resumed scan starts from.
	unlock := s.lockWriter()
	state := s.state(sum)
	sum.DeleteMarkers = state.DeleteMarkers
	if cfg.Checkpoint != nil {
		if cerr := s.saveCheckpoint(state); cerr != nil && err == nil {
			err = cerr
		}
	}
	if cfg.multi != nil {
		cfg.multi.finished(cfg.Bucket, state)
	}
	unlock()
	sum.Unchecked = s.unchecked.Load()
	sum.VerifyFailed += s.verifyFailures.Load()
	sum.RecheckFailed += s.recheckFailures.Load()
	sum.Duration = time.Since(start)
	counts.finish(sum)
	sum.Complete = err == nil
	return sum, err
}

func newScanner(api API, cfg Config, progress *Progress, start time.Time) *scanner {
	s := &scanner{api: api, cfg: cfg, source: cfg.Source, resolver: cfg.Resolver, progress: progress, lastCheckpoint: start}
	// Twice the requests in flight: an outage fails every one of them,
	// then every one sent after the first failure.
	s.failureRunLimit = minFailureRun
	if cfg.Strategy != Serial {
		s.failureRunLimit = max(minFailureRun, 2*cfg.Concurrency)
	}
	if s.resolver == nil {
		s.resolver = GetObjectACL(api)
	}
	if s.source == nil {
		initial := []RangeState{{}} // the whole keyspace under the prefix
		if cfg.Resume != nil {
			initial = cfg.Resume.Ranges
		}
		s.listing = &listing{
			api: api, bucket: cfg.Bucket, prefix: cfg.Prefix, versions: cfg.AllVersions,
			pageSize: cfg.PageSize, chains: cfg.ListConcurrency, ranges: newRangeSet(initial),
			awaitEndpoint: s.awaitEndpoint, splitter: cfg.splitter,
		}
		s.source = s.listing
	}
	return s
}

// requestCounts are the client's counters when the scan began.
type requestCounts struct {
	requests                       requestCounter
	retries                        retryCounter
	requestsBefore                 int64
	retriesBefore, throttlesBefore int64
}

func startCounting(api API) requestCounts {
	var c requestCounts
	if c.requests, _ = api.(requestCounter); c.requests != nil {
		c.requestsBefore = c.requests.Requests()
	}
	if c.retries, _ = api.(retryCounter); c.retries != nil {
		c.retriesBefore, c.throttlesBefore = c.retries.Retries(), c.retries.Throttles()
	}
	return c
}

// finish sets the summary's counts of what the scan sent.
func (c requestCounts) finish(sum *Summary) {
	if c.requests != nil {
		sum.Requests = c.requests.Requests() - c.requestsBefore
	}
	if c.retries != nil {
		sum.Retries = c.retries.Retries() - c.retriesBefore
		sum.Throttles = c.retries.Throttles() - c.throttlesBefore
	}
}

// state is the scan's checkpoint: the ranges left and the counts of
// everything given to the sink. It is taken in the goroutine that writes
// results, so the two agree.
func (s *scanner) state(sum *Summary) *State {
	st := &State{
		Bucket:        s.cfg.Bucket,
		Prefix:        s.cfg.Prefix,
		AllVersions:   s.cfg.AllVersions,
		DeleteMarkers: s.restoredMarkers,
		Report:        s.cfg.Report,
	}
	if s.listing != nil {
		var markers int64
		st.Ranges, markers = s.listing.ranges.snapshot()
		st.DeleteMarkers += markers
	}
	st.DeleteMarkers += s.sourceMarkers
	if rs, ok := s.source.(ResumableSource); ok && s.listing == nil {
		var err error
		if st.Source, err = rs.Position(); err != nil {
			st.SourceErr = err
		}
	}
	sum.save(st)
	st.Verified["failed"] += s.verifyFailures.Load()
	st.Rechecked["failed"] += s.recheckFailures.Load()
	return st
}

// maybeCheckpoint takes a checkpoint when one is due.
func (s *scanner) maybeCheckpoint(sum *Summary) error {
	if s.cfg.Checkpoint == nil {
		return nil
	}
	now := time.Now()
	if now.Sub(s.lastCheckpoint) < s.cfg.CheckpointInterval {
		return nil
	}
	s.lastCheckpoint = now
	return s.saveCheckpoint(s.state(sum))
}

func (s *scanner) saveCheckpoint(st *State) error {
	err := st.SourceErr
	if err == nil {
		err = s.cfg.Checkpoint(st)
	}
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}

// readContext reads the bucket's context (unless the configuration
// gives it) and sets the judge from it. The owner's canonical ID decides
// the cross-account and foreign-owner findings; without it, the
// configured one is used, or those kinds are not judged.
func (s *scanner) readContext(ctx context.Context, sum *Summary) error {
	var bc acl.BucketContext
	if s.cfg.Context != nil {
		bc = *s.cfg.Context
	} else {
		var err error
		if bc, err = s.api.BucketContext(ctx, s.cfg.Bucket); err != nil {
			return &Error{Op: fmt.Sprintf("read the ACL of bucket %q", s.cfg.Bucket), Err: err}
		}
	}
	if bc.Bucket == "" {
		bc.Bucket = s.cfg.Bucket
	}
	switch {
	case bc.Owner != "":
		sum.OwnerSource = "GetBucketAcl"
	case s.cfg.BucketOwner != "":
		bc.Owner, sum.OwnerSource = s.cfg.BucketOwner, "configured"
	default:
		reason := "GetBucketAcl returned no owner"
		if !bc.ACL.Known && bc.ACL.Problem != "" {
			reason = bc.ACL.Problem
		}
		sum.OwnerProblem = reason + ": cross-account and foreign-owner findings were not judged (give the bucket owner's canonical ID)"
	}
	s.judge = acl.NewJudge(&bc)
	sum.Context, sum.BucketOwner = bc, bc.Owner
	return nil
}

// leaveAlone decides, once the bucket's context is read, how its objects
// are visited, and reports whether they are not visited at all. With ACLs
// disabled, S3 ignores every ACL and answers every ACL read with full
// control for the bucket owner, so fetching them would only cost
// requests: the objects are judged through the other doors without their
// ACLs, or, with no other door, left alone.
func (s *scanner) leaveAlone(sum *Summary) bool {
	// A report's ACLs are not S3's answers: it shows the dormant ones.
	if !sum.Context.ACLsDisabled() || s.cfg.ScanDisabledACLs || s.listing == nil {
		return false
	}
	if c := &sum.Context; !c.Policy.Known || c.Policy.Value != "" || c.AccessPoints.Known && len(c.AccessPoints.Value) > 0 {
		// A bucket policy or an access point (or a policy that could not
		// be read) may open objects whatever their ACLs: every object is
		// listed and judged through those doors, and no ACL is fetched
		// (S3 would answer each read with full control for the owner).
		s.resolver = ownerOnly(c.Owner)
		sum.ACLsNotFetched = true
		return false
	}
	sum.NotScanned = true
	return true
}

// ownerOnly resolves every object to an ACL read as nothing but its owner,
// the bucket owner: what ACLs disabled mean. It sends no request and
// shows no grant it did not read.
func ownerOnly(bucketOwner string) Resolver {
	return ResolverFunc(func(context.Context, string, Object) (acl.Policy, error) {
		return acl.Policy{Owner: bucketOwner}, nil
	})
}
