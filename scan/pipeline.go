package scan

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aclscan/aclscan/accept"
	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/s3access"
)

// objects runs the source, counting what it produces.
func (s *scanner) objects(ctx context.Context, handle func(Object) error) error {
	err := s.source.Objects(ctx, func(obj Object) error {
		s.progress.Listed.Add(1)
		return handle(obj)
	})
	if err == nil && s.cfg.multi == nil {
		s.progress.ListingDone.Store(true)
	}
	return err
}

// runSerial interleaves listing and fetching in one goroutine: one request
// at a time, over one kept-alive connection.
func (s *scanner) runSerial(ctx context.Context, sink Sink, sum *Summary) error {
	var sinkErr error
	// One Result for the whole scan: deliver's callees copy what they keep,
	// and a variable per object would be one heap allocation per object.
	var r Result
	// A source may emit from several goroutines (an inventory's files):
	// one request at a time still.
	var one sync.Mutex
	listErr := s.objects(ctx, func(obj Object) error {
		one.Lock()
		defer one.Unlock()
		var done bool
		r, done = s.fetch(ctx, obj)
		if !done {
			s.unchecked.Add(1)
			return ctx.Err()
		}
		sinkErr = s.deliver(ctx, sink, sum, &r)
		return sinkErr
	})
	if sinkErr != nil {
		return sinkErr
	}
	return listErr
}

// runConcurrent lists in one goroutine, fetches in a pool of workers (or
// one goroutine per key), and writes results from the calling goroutine.
// The bounded queue between lister and workers gives back-pressure.
func (s *scanner) runConcurrent(ctx context.Context, sink Sink, sum *Summary) error {
	if s.cfg.Inline {
		return s.runInline(ctx, sink, sum)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	results := make(chan Result, s.cfg.Concurrency)
	var listErr error
	go func() {
		defer close(results)
		listErr = s.fetchAll(ctx, results)
	}()

	var sinkErr error
	// One Result for the whole scan, as in runSerial.
	var r Result
	for r = range results {
		if sinkErr != nil {
			s.unchecked.Add(1) // drained so the workers can finish
			continue
		}
		if sinkErr = s.deliver(ctx, sink, sum, &r); sinkErr != nil {
			cancel()
		}
	}
	if sinkErr != nil {
		return sinkErr
	}
	return listErr
}

// runInline resolves and records each object in the goroutine its
// source emitted it from (Config.Inline): no hand-over to a pool or to a
// writer goroutine. Recording takes a lock, so results still reach the
// sink one at a time, and a checkpoint sees a consistent state.
func (s *scanner) runInline(ctx context.Context, sink Sink, sum *Summary) error {
	var mu sync.Mutex
	var sinkErr error
	err := s.objects(ctx, func(obj Object) error {
		r, done := s.fetch(ctx, obj)
		if !done {
			s.unchecked.Add(1)
			return ctx.Err()
		}
		mu.Lock()
		defer mu.Unlock()
		if sinkErr == nil {
			sinkErr = s.deliver(ctx, sink, sum, &r)
		}
		return sinkErr
	})
	if sinkErr != nil {
		return sinkErr
	}
	return err
}

// fetchAll runs the source and resolves its objects with the strategy's
// goroutines, sending each result to results; it returns once every
// object was handled, with the source's error.
func (s *scanner) fetchAll(ctx context.Context, results chan<- Result) error {
	var fetchers sync.WaitGroup
	defer fetchers.Wait()
	fetchOne := func(obj Object) {
		if ctx.Err() != nil {
			s.unchecked.Add(1)
			return
		}
		r, done := s.fetch(ctx, obj)
		if !done {
			s.unchecked.Add(1)
			return
		}
		results <- r
	}
	if s.cfg.Strategy == All {
		return s.objects(ctx, func(obj Object) error {
			fetchers.Go(func() {
				growStack()
				fetchOne(obj)
			})
			return nil
		})
	}
	queue := make(chan Object, int(s.cfg.PageSize)+s.cfg.Concurrency)
	defer close(queue) // before the wait: the workers end when it is drained
	for range s.cfg.Concurrency {
		fetchers.Go(func() {
			growStack()
			for obj := range queue {
				fetchOne(obj)
			}
		})
	}
	return s.objects(ctx, func(obj Object) error {
		select {
		case queue <- obj:
			return nil
		case <-ctx.Done():
			s.unchecked.Add(1)
			return ctx.Err()
		}
	})
}

// growStack grows the calling goroutine's stack at once, while it holds
// one frame: a fetch's calls (HTTP, TLS, XML) need more than a new
// goroutine's stack, and growing it deep in those calls copies and
// adjusts every frame above, again at each doubling. In a 100-object
// Lambda scan (a goroutine per object with All) that was ~1.3 ms of CPU,
// a sixth of what a 128 MB function gets per 100 ms.
//
//go:noinline
func growStack() {
	var frame [fetchStack]byte
	keep(frame[:])
}

// fetchStack is a little under what a fetch's deepest call path uses.
const fetchStack = 12 << 10

//go:noinline
func keep([]byte) {}

// fetch resolves one object's ACL and judges it (the bucket's context is
// known before any object is fetched). Failures become the result's
// status; done is false only when the scan was cancelled before the
// object could be checked.
func (s *scanner) fetch(ctx context.Context, obj Object) (r Result, done bool) {
	r = Result{
		Bucket:     s.cfg.Bucket,
		Key:        obj.Key,
		Versioned:  s.cfg.AllVersions,
		VersionID:  obj.VersionID,
		IsLatest:   obj.IsLatest,
		OwnerID:    obj.OwnerID,
		place:      obj.place,
		Source:     s.cfg.SourceName,
		ReportDate: s.cfg.ReportDate,
		Account:    s.cfg.Account,
	}
	if obj.DeleteMarker {
		r.deleteMarker = true
		return r, true
	}
	if !s.cfg.Inline {
		// When it was sent tells a failure held during an outage from
		// one after; an inline resolver sends nothing.
		r.sent = time.Now()
	}
	if gate := s.cfg.gate(); gate != nil {
		// One bound on requests in flight across the buckets scanned at once.
		select {
		case gate <- struct{}{}:
			defer func() { <-gate }()
		case <-ctx.Done():
			return r, false
		}
	}
	policy, err := s.resolver.Resolve(ctx, s.cfg.Bucket, obj)
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
	case err == ErrUnavailable:
		r.Status = StatusUnavailable
		r.Findings = r.Findings.With(acl.Unreadable)
	default:
		r.Status, r.Err, r.err = StatusError, "get ACL: "+s3access.Short(err), err
		var refused *RefusedError
		r.definite = errors.As(err, &refused)
	}
	if r.Status == StatusMissing {
		// Gone: no door leads to it any more.
		r.Findings |= s.judge.Findings(r.OwnerID, r.Grants)
		r.Effective, r.BlockedBy = s.judge.Effective(r.Findings)
		r.ViaACL = r.Effective & acl.GrantKinds
	} else {
		version := acl.Current
		if r.Versioned {
			version = acl.Noncurrent
			if r.IsLatest {
				version = acl.Latest
			}
		}
		v := s.judge.Object(r.Key, r.OwnerID, r.Grants, r.Findings, version)
		r.Findings, r.Effective, r.BlockedBy, r.Doors, r.ViaACL = v.Findings, v.Effective, v.BlockedBy, v.Doors, v.ViaACL
	}
	if s.cfg.VerifyPublic && r.Effective.Has(acl.Public) {
		s.verify(ctx, &r)
	}
	if s.cfg.Recheck && r.Status == StatusOK && r.Findings != 0 {
		s.recheck(ctx, &r)
	}
	return r, true
}

// recheck reads the object's ACL live and compares it with the one the
// source gave: owner and grants, in any order.
func (s *scanner) recheck(ctx context.Context, r *Result) {
	live, err := s.api.GetObjectACL(ctx, s.cfg.Bucket, r.Key, r.VersionID)
	switch {
	case s3access.IsNotFound(err):
		r.Rechecked = Changed // gone since the report
	case err != nil:
		s.recheckFailures.Add(1)
	case (live.Owner != "" && live.Owner != r.OwnerID) || !sameGrants(live.Grants, r.Grants):
		r.Rechecked = Changed
	default:
		r.Rechecked = Unchanged
	}
}

// sameGrants compares two grant lists as sets.
func sameGrants(a, b []acl.Grant) bool {
	if len(a) != len(b) {
		return false
	}
	count := make(map[acl.Grant]int, len(a))
	for _, g := range a {
		count[g]++
	}
	for _, g := range b {
		if count[g] == 0 {
			return false
		}
		count[g]--
	}
	return true
}

// verify asks, as anyone on the internet, whether S3 serves the object.
// A request that fails after its retries leaves the object not verified
// (counted in the summary); it says nothing of the ACL.
func (s *scanner) verify(ctx context.Context, r *Result) {
	served, err := s.api.ServedAnonymously(ctx, s.cfg.Bucket, r.Key, r.VersionID)
	switch {
	case err != nil:
		s.verifyFailures.Add(1)
	case served:
		r.Verified = Served
	default:
		r.Verified = NotServed
	}
}

// record hands a judged result to the sink and counts it.
func (s *scanner) record(sink Sink, sum *Summary, r *Result) error {
	if s.cfg.multi != nil {
		// Buckets scanned at once share the sink and the checkpoint: one
		// records at a time, so every bucket's state matches the report.
		s.cfg.multi.mu.Lock()
		defer s.cfg.multi.mu.Unlock()
	}
	if r.deleteMarker {
		s.sourceMarkers++
		r.place.done()
		return s.maybeCheckpoint(sum)
	}
	var principals []string // who the object is shared with, read once when needed
	crossPrincipals := func() []string {
		if principals == nil {
			sources := r.Sources
			if sources == nil {
				sources = r.Doors.Sources(r.OwnerID, r.Grants)
			}
			principals = accept.CrossAccountPrincipals(sources)
		}
		return principals
	}
	if trust := s.cfg.Trusted; trust != nil && r.Findings.Has(acl.CrossAccount) {
		var all bool
		if r.Trusted, all = trust.Split(crossPrincipals()); all {
			r.Findings &^= 1 << acl.CrossAccount
			r.Effective &^= 1 << acl.CrossAccount
		}
	}
	if rules := s.cfg.Accept; rules != nil && r.Findings != 0 {
		r.Accepted, r.Acceptance = rules.Match(r.Bucket, r.Key, r.Findings, crossPrincipals)
	}
	if b := s.cfg.Baseline; b != nil && r.Findings != 0 {
		r.Compared, r.New = true, b.Compare(r.Bucket, r.Key, r.VersionID, r.Findings)
	}
	if err := sink.Write(r); err != nil {
		s.unchecked.Add(1)
		return fmt.Errorf("write result for %q: %w", r.Key, err)
	}
	sum.add(r)
	r.place.done()
	s.progress.Checked.Add(1)
	if r.Status == StatusError {
		s.progress.Errors.Add(1)
	}
	return s.maybeCheckpoint(sum)
}
