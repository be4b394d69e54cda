package scan

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Error is a failure of a bucket-level step that stops the scan. Op says
// what was being done, in words a user recognises.
type Error struct {
	Op  string
	Err error
}

func (e *Error) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// item is one listed object or version waiting for its ACL.
type item struct {
	key       string
	versionID string
	ownerID   string // from the listing; kept when the ACL is unreadable
	isLatest  bool
	rng       *keyRange
	seq       int64
}

type scanner struct {
	api         API
	cfg         Config
	bucketOwner string
	progress    *Progress
	ranges      *rangeSet
	// unchecked counts listed keys left without a result by an interruption.
	unchecked atomic.Int64
	// restoredMarkers are the delete markers a resumed checkpoint counted.
	restoredMarkers int64
	lastCheckpoint  time.Time
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

// Run scans one bucket (or prefix) and writes a result for every listed
// object to sink. progress may be nil. The summary is returned even when
// the scan stops early; err then says why, and Summary.Complete is false.
func Run(ctx context.Context, api API, cfg Config, sink Sink, progress *Progress) (*Summary, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("scan: no bucket given")
	}
	if cfg.Resume != nil {
		if err := cfg.Resume.Matches(cfg); err != nil {
			return nil, err
		}
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.ListConcurrency <= 0 {
		cfg.ListConcurrency = DefaultListConcurrency
	}
	if cfg.Strategy == Serial {
		cfg.ListConcurrency = 1
	}
	if cfg.PageSize <= 0 || cfg.PageSize > 1000 {
		cfg.PageSize = 1000
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	if cfg.OutageWait == 0 {
		cfg.OutageWait = DefaultOutageWait
	}
	if progress == nil {
		progress = new(Progress)
	}
	start := time.Now()
	counter, _ := api.(requestCounter)
	var requestsBefore int64
	if counter != nil {
		requestsBefore = counter.Requests()
	}
	retries, _ := api.(retryCounter)
	var retriesBefore, throttlesBefore int64
	if retries != nil {
		retriesBefore, throttlesBefore = retries.Retries(), retries.Throttles()
	}
	sum := &Summary{Bucket: cfg.Bucket, Prefix: cfg.Prefix, Strategy: cfg.Strategy}
	switch cfg.Strategy {
	case Serial:
		sum.Concurrency = 1
	case Pool:
		sum.Concurrency = cfg.Concurrency
	}
	initial := []RangeState{{}} // the whole keyspace under the prefix
	s := &scanner{api: api, cfg: cfg, progress: progress, lastCheckpoint: start}
	// Twice the requests in flight: an outage fails every one of them,
	// then every one sent after the first failure.
	s.failureRunLimit = minFailureRun
	if cfg.Strategy != Serial {
		s.failureRunLimit = max(minFailureRun, 2*cfg.Concurrency)
	}
	if cfg.Resume != nil {
		initial = cfg.Resume.Ranges
		sum.restore(cfg.Resume)
		s.restoredMarkers = cfg.Resume.DeleteMarkers
		progress.Listed.Add(sum.Objects)
		progress.Checked.Add(sum.Objects)
	}
	s.ranges = newRangeSet(initial)

	var err error
	if cfg.Strategy == Serial {
		if err = s.resolveBucketOwner(ctx, sum); err == nil {
			err = s.runSerial(ctx, sink, sum)
		}
	} else {
		err = s.runConcurrent(ctx, sink, sum)
	}
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
	state := s.state(sum)
	sum.DeleteMarkers = state.DeleteMarkers
	if cfg.Checkpoint != nil {
		if cerr := cfg.Checkpoint(state); cerr != nil && err == nil {
			err = fmt.Errorf("write checkpoint: %w", cerr)
		}
	}
	sum.Unchecked = s.unchecked.Load()
	sum.Duration = time.Since(start)
	if counter != nil {
		sum.Requests = counter.Requests() - requestsBefore
	}
	if retries != nil {
		sum.Retries = retries.Retries() - retriesBefore
		sum.Throttles = retries.Throttles() - throttlesBefore
	}
	sum.Complete = err == nil
	return sum, err
}

// state is the scan's checkpoint: the ranges left and the counts of
// everything given to the sink. It is taken in the goroutine that writes
// results, so the two agree.
func (s *scanner) state(sum *Summary) *State {
	ranges, markers := s.ranges.snapshot()
	st := &State{
		Bucket:        s.cfg.Bucket,
		Prefix:        s.cfg.Prefix,
		AllVersions:   s.cfg.AllVersions,
		Ranges:        ranges,
		DeleteMarkers: s.restoredMarkers + markers,
	}
	sum.save(st)
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
	if err := s.cfg.Checkpoint(s.state(sum)); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}

// resolveBucketOwner learns the owner's canonical ID, which decides the
// cross-account and foreign-owner findings.
func (s *scanner) resolveBucketOwner(ctx context.Context, sum *Summary) error {
	out, err := s.api.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: &s.cfg.Bucket})
	switch {
	case err == nil && out.Owner != nil && out.Owner.ID != nil && *out.Owner.ID != "":
		s.bucketOwner, sum.OwnerSource = *out.Owner.ID, "GetBucketAcl"
	case err == nil || s3access.IsAccessDenied(err) || isNotImplemented(err):
		if s.cfg.BucketOwner != "" {
			s.bucketOwner, sum.OwnerSource = s.cfg.BucketOwner, "configured"
		} else {
			reason := "GetBucketAcl returned no owner"
			if err != nil {
				reason = "GetBucketAcl was denied"
			}
			sum.OwnerProblem = reason + ": cross-account and foreign-owner findings were not judged (give the bucket owner's canonical ID)"
		}
	default:
		return &Error{Op: fmt.Sprintf("read the ACL of bucket %q", s.cfg.Bucket), Err: err}
	}
	sum.BucketOwner = s.bucketOwner
	return nil
}

func isNotImplemented(err error) bool {
	switch s3access.ErrorCode(err) {
	case "NotImplemented", "MethodNotAllowed":
		return true
	}
	return false
}

// runSerial interleaves listing and fetching in one goroutine: one request
// at a time, over one kept-alive connection.
func (s *scanner) runSerial(ctx context.Context, sink Sink, sum *Summary) error {
	var sinkErr error
	listErr := s.list(ctx, 1, func(it item) error {
		r, done := s.fetch(ctx, it)
		if !done {
			s.unchecked.Add(1)
			return ctx.Err()
		}
		if sinkErr = s.deliver(ctx, sink, sum, &r); sinkErr != nil {
			return sinkErr
		}
		return nil
	})
	if sinkErr != nil {
		return sinkErr
	}
	return listErr
}

// runConcurrent lists in one goroutine, fetches in a pool of workers (or
// one goroutine per key), and writes results from the calling goroutine.
// The bounded queue between lister and workers gives back-pressure. The
// bucket owner is asked for at the same time as the first list page (it
// is needed only to classify), which saves a round trip per scan.
func (s *scanner) runConcurrent(ctx context.Context, sink Sink, sum *Summary) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	ownerResolved := make(chan error, 1)
	go func() { ownerResolved <- s.resolveBucketOwner(ctx, sum) }()
	ownerErr, ownerKnown := error(nil), false
	waitOwner := func() error {
		if !ownerKnown {
			ownerErr, ownerKnown = <-ownerResolved, true
		}
		return ownerErr
	}

	queue := make(chan item, int(s.cfg.PageSize)+s.cfg.Concurrency)
	results := make(chan Result, s.cfg.Concurrency)
	var fetchers sync.WaitGroup
	fetchOne := func(it item) {
		if ctx.Err() != nil {
			s.unchecked.Add(1)
			return
		}
		r, done := s.fetch(ctx, it)
		if !done {
			s.unchecked.Add(1)
			return
		}
		results <- r
	}

	var listErr error
	go func() {
		defer func() {
			close(queue)
			fetchers.Wait()
			close(results)
		}()
		if s.cfg.Strategy == All {
			listErr = s.list(ctx, s.cfg.ListConcurrency, func(it item) error {
				fetchers.Add(1)
				go func() {
					defer fetchers.Done()
					fetchOne(it)
				}()
				return nil
			})
			return
		}
		for range s.cfg.Concurrency {
			fetchers.Add(1)
			go func() {
				defer fetchers.Done()
				for it := range queue {
					fetchOne(it)
				}
			}()
		}
		listErr = s.list(ctx, s.cfg.ListConcurrency, func(it item) error {
			select {
			case queue <- it:
				return nil
			case <-ctx.Done():
				s.unchecked.Add(1)
				return ctx.Err()
			}
		})
	}()

	var sinkErr error
	for r := range results {
		if sinkErr != nil {
			s.unchecked.Add(1) // drained so the workers can finish
			continue
		}
		if sinkErr = waitOwner(); sinkErr == nil {
			sinkErr = s.deliver(ctx, sink, sum, &r)
		}
		if sinkErr != nil {
			cancel()
		}
	}
	if err := waitOwner(); err != nil {
		return err // a bucket-level failure explains any list failure too
	}
	if sinkErr != nil {
		return sinkErr
	}
	return listErr
}

// deliver records a result, except failures: they are held while the
// requests keep failing. A success of a request sent after the first held
// failure shows the endpoint answering again: the held objects are
// fetched once more, and what they get then is recorded (a failure on a
// working endpoint is the object's own). Successes sent before the run
// began say nothing of the endpoint now: they are recorded and the run
// goes on.
//
// A run of failureRunLimit failures is the endpoint failing (an outage,
// expired credentials, a broken network), not the objects. Fetching
// pauses (this goroutine stops taking results, so the workers stop
// sending) while a list request is tried with backoff for up to
// OutageWait; if one succeeds, the held objects are fetched again and the
// scan goes on. Otherwise the scan stops, and the held objects stay
// unreported, listed but not checked, for a resumed scan to check instead
// of ending up as error records.
func (s *scanner) deliver(ctx context.Context, sink Sink, sum *Summary, r *Result) error {
	if r.Status == StatusError {
		if len(s.held) == 0 {
			s.runStart = time.Now()
		}
		s.held = append(s.held, *r)
		if len(s.held) < s.failureRunLimit {
			return nil
		}
		if !s3access.IsUnavailable(r.err) {
			// Expired credentials, a proxy's login page: no wait cures it.
			return &Error{Op: fmt.Sprintf("get object ACLs (%d failed in a row)", len(s.held)), Err: r.err}
		}
		// The probe is the failing request itself: listing may work while
		// reading ACLs does not.
		probe := func(ctx context.Context) error { return s.probeACL(ctx, r) }
		if _, err := s.awaitEndpoint(ctx, probe); err != nil {
			return &Error{Op: fmt.Sprintf("get object ACLs (%d failed in a row%s)", len(s.held), s.waited()), Err: r.err}
		}
		return s.retryHeld(ctx, sink, sum, false)
	}
	if err := s.record(sink, sum, r); err != nil {
		return err
	}
	if len(s.held) > 0 && r.sent.After(s.runStart) {
		return s.retryHeld(ctx, sink, sum, false)
	}
	return nil
}

// waited describes the wait for the endpoint, for the error that ends it.
func (s *scanner) waited() string {
	if s.cfg.OutageWait < 0 {
		return ""
	}
	return fmt.Sprintf(", and the endpoint did not answer for %v", s.cfg.OutageWait)
}

// awaitEndpoint tries probe until it succeeds, with backoff from 250 ms
// doubling to 8 s, for up to cfg.OutageWait (once when that is negative).
// waited says whether the first try failed.
func (s *scanner) awaitEndpoint(ctx context.Context, probe func(context.Context) error) (waited bool, err error) {
	deadline := time.Now().Add(s.cfg.OutageWait)
	delay := 250 * time.Millisecond
	defer s.progress.Waiting.Store(false)
	for try := 0; ; try++ {
		if err = probe(ctx); err == nil {
			return try > 0, nil
		}
		if !s3access.IsUnavailable(err) {
			return true, err // an answer no wait changes (credentials, permissions)
		}
		wait := min(delay, time.Until(deadline))
		if wait <= 0 || ctx.Err() != nil {
			return true, err
		}
		s.progress.Waiting.Store(true)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return true, ctx.Err()
		case <-timer.C:
		}
		delay = min(2*delay, 8*time.Second)
	}
}

// retryHeld fetches the held objects again, concurrently, and records
// their results. At the end of a scan (final) no later success has shown
// the endpoint working: if objects fail again, the endpoint is awaited as
// for a run of failures; if it answers, they are fetched once more and
// recorded whatever they get, and if not, the scan stops with them
// unreported, for a resumed scan, rather than reporting an outage as
// their errors.
func (s *scanner) retryHeld(ctx context.Context, sink Sink, sum *Summary, final bool) error {
	held := s.held
	s.held = nil
	results := make([]Result, len(held))
	done := make([]bool, len(held))
	var wg sync.WaitGroup
	for i := range held {
		wg.Go(func() { results[i], done[i] = s.fetch(ctx, held[i].item()) })
	}
	wg.Wait()
	var failed []Result
	unreported := 0
	for i := range results {
		switch {
		case !done[i]:
			unreported++
		case final && results[i].Status == StatusError:
			failed = append(failed, results[i])
		default:
			if err := s.record(sink, sum, &results[i]); err != nil {
				s.unchecked.Add(int64(unreported + len(failed) + len(results) - i - 1))
				return err
			}
		}
	}
	s.unchecked.Add(int64(unreported))
	if len(failed) == 0 {
		return ctx.Err()
	}
	waited, err := s.awaitEndpoint(ctx, s.probeList)
	switch {
	case err != nil:
		s.unchecked.Add(int64(len(failed)))
		return &Error{Op: fmt.Sprintf("get object ACLs (%d failed at the end of the scan, and listing fails too%s)", len(failed), s.waited()), Err: failed[len(failed)-1].err}
	case waited:
		// The endpoint was down and is back: one more try.
		s.held = failed
		return s.retryHeld(ctx, sink, sum, false)
	}
	// Listing works: the failures are the objects' own.
	for i := range failed {
		if err := s.record(sink, sum, &failed[i]); err != nil {
			s.unchecked.Add(int64(len(failed) - i - 1))
			return err
		}
	}
	return ctx.Err()
}

// probeACL fetches r's ACL again: does the failing request work now? An
// answer about the object (gone, denied) counts as working.
func (s *scanner) probeACL(ctx context.Context, r *Result) error {
	_, err := s.api.GetObjectACL(ctx, s.cfg.Bucket, r.Key, r.VersionID)
	if err != nil && (s3access.IsNotFound(err) || s3access.IsAccessDenied(err)) {
		return nil
	}
	return err
}

// probeList is one small list request: does the endpoint work?
func (s *scanner) probeList(ctx context.Context) error {
	in := &s3.ListObjectsV2Input{Bucket: &s.cfg.Bucket, MaxKeys: aws.Int32(1)}
	if s.cfg.Prefix != "" {
		in.Prefix = &s.cfg.Prefix
	}
	_, err := s.api.ListObjectsV2(ctx, in)
	return err
}

// record classifies a result (the bucket owner is known by now) and hands
// it to the sink.
func (s *scanner) record(sink Sink, sum *Summary, r *Result) error {
	r.Findings |= acl.Classify(s.bucketOwner, r.OwnerID, r.Grants)
	if err := sink.Write(r); err != nil {
		s.unchecked.Add(1)
		return fmt.Errorf("write result for %q: %w", r.Key, err)
	}
	sum.add(r)
	r.rng.markDone(r.seq)
	s.progress.Checked.Add(1)
	if r.Status == StatusError {
		s.progress.Errors.Add(1)
	}
	return s.maybeCheckpoint(sum)
}

// fetch reads one object's ACL. Failures become the result's status; done
// is false only when the scan was cancelled before the object could be
// checked. Classification waits for record, which knows the bucket owner.
func (s *scanner) fetch(ctx context.Context, it item) (r Result, done bool) {
	r = Result{
		Bucket:    s.cfg.Bucket,
		Key:       it.key,
		Versioned: s.cfg.AllVersions,
		VersionID: it.versionID,
		IsLatest:  it.isLatest,
		OwnerID:   it.ownerID,
		rng:       it.rng,
		seq:       it.seq,
		sent:      time.Now(),
	}
	versionID := ""
	if s.cfg.AllVersions {
		versionID = it.versionID
	}
	policy, err := s.api.GetObjectACL(ctx, s.cfg.Bucket, it.key, versionID)
	switch {
	case err == nil:
		if policy.Owner != "" {
			r.OwnerID = policy.Owner
		}
		r.Grants = policy.Grants
	case ctx.Err() != nil:
		return r, false
	case s3access.IsAccessDenied(err):
		r.Status = StatusDenied
		r.Findings = r.Findings.With(acl.Unreadable)
	case s3access.IsNotFound(err):
		r.Status = StatusMissing
	default:
		r.Status, r.Err, r.err = StatusError, "get ACL: "+s3access.Short(err), err
	}
	return r, true
}
