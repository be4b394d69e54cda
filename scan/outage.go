package scan

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aclscan/aclscan/s3access"
)

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
	if r.Status == StatusError && !r.definite {
		if s3access.IsNotImplemented(r.err) {
			// The server cannot read any object's ACL: no object has an
			// answer to report, and waiting changes nothing.
			s.unchecked.Add(int64(len(s.held)) + 1)
			s.held = nil
			return &Error{Op: fmt.Sprintf("get the ACL of %q", r.Key), Err: r.err}
		}
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
		probe := func(ctx context.Context) error { return s.probeObject(ctx, r) }
		if _, err := s.awaitEndpoint(ctx, probe); err != nil {
			return &Error{Op: fmt.Sprintf("get object ACLs (%d failed in a row%s)", len(s.held), waited(err)), Err: r.err}
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

// outageError is a wait for the endpoint that lasted its whole
// OutageWait: the endpoint stayed unavailable.
type outageError struct {
	wait time.Duration
	err  error
}

func (e *outageError) Error() string { return e.err.Error() }
func (e *outageError) Unwrap() error { return e.err }

// waited describes the wait that ended with err, for the error that stops
// the scan: nothing unless the endpoint was waited for in vain (an answer
// no wait changes, or an endpoint that never answered, is not).
func waited(err error) string {
	var outage *outageError
	if !errors.As(err, &outage) {
		return ""
	}
	return fmt.Sprintf(", and the endpoint did not answer for %v", outage.wait)
}

// awaitEndpoint tries probe until it succeeds, with backoff from 250 ms
// doubling to 8 s, for up to cfg.OutageWait (once when that is negative).
// waited says whether the first try failed; an *outageError says the
// whole wait went by.
func (s *scanner) awaitEndpoint(ctx context.Context, probe func(context.Context) error) (waited bool, err error) {
	deadline := time.Now().Add(s.cfg.OutageWait)
	delay := s.cfg.backoff
	defer s.progress.Waiting.Store(false)
	for try := 0; ; try++ {
		if err = probe(ctx); err == nil {
			return try > 0, nil
		}
		if !s3access.IsUnavailable(err) || neverAnswered(s.api) {
			// An answer no wait changes (credentials, permissions), or an
			// endpoint that never answered: likely the wrong one.
			return true, err
		}
		if ctx.Err() != nil {
			return true, err
		}
		wait := min(delay, time.Until(deadline))
		if wait <= 0 {
			if s.cfg.OutageWait < 0 {
				return true, err // asked not to wait
			}
			return true, &outageError{wait: s.cfg.OutageWait, err: err}
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
		wg.Go(func() { results[i], done[i] = s.fetch(ctx, held[i].object()) })
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
	wasDown, err := s.awaitEndpoint(ctx, s.endpointProbe(&failed[0]))
	switch {
	case err != nil:
		s.unchecked.Add(int64(len(failed)))
		return &Error{Op: fmt.Sprintf("get object ACLs (%d failed at the end of the scan, and the endpoint fails too%s)", len(failed), waited(err)), Err: failed[len(failed)-1].err}
	case wasDown:
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

// endpointProbe is a request that tells whether the endpoint works: the
// source's own (a small list request), or r's object resolved again.
func (s *scanner) endpointProbe(r *Result) func(context.Context) error {
	if p, ok := s.source.(prober); ok {
		return p.probe
	}
	return func(ctx context.Context) error { return s.probeObject(ctx, r) }
}

// probeObject resolves r's object again: does the failing request work
// now? An answer about the object (gone, denied) counts as working.
func (s *scanner) probeObject(ctx context.Context, r *Result) error {
	_, err := s.resolver.Resolve(ctx, s.cfg.Bucket, r.object())
	if err != nil && (s3access.IsNotFound(err) || s3access.IsAccessDenied(err)) {
		return nil
	}
	return err
}

// neverAnswered reports a client that has had no answer at all from its
// endpoint (s3access.Client knows).
func neverAnswered(api API) bool {
	a, ok := api.(interface{ Answered() bool })
	return ok && !a.Answered()
}
