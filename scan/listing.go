package scan

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/aclscan/aclscan/s3access"
)

// listing is the live source: a bucket's objects (or versions) listed in
// parallel chains over key ranges that split while they are listed. It
// tracks which listed entries were reported, for checkpoints.
type listing struct {
	api      API
	bucket   string
	prefix   string
	versions bool
	pageSize int32
	chains   int
	ranges   *rangeSet
	// pagesListed counts the pages all chains have listed: no range
	// splits before the scan has listed splitAfterPages of them.
	pagesListed atomic.Int64
	// awaitEndpoint waits out an outage (the engine's policy).
	awaitEndpoint func(ctx context.Context, probe func(context.Context) error) (bool, error)
	// splitter replaces splitPoints in tests.
	splitter func(pageKeys []string, last, until string, bounded bool, n int) []string
	// first is the scan's first list request, sent early (prefetch).
	first *firstPage
}

// firstPage is a list request sent before the listing asks for it, and
// its answer.
type firstPage struct {
	req   s3access.ListRequest
	done  chan struct{}
	page  *s3access.ListPage
	err   error
	taken atomic.Bool
}

// prefetch sends the listing's first request now, while the bucket's
// context is read: the two share one round trip instead of taking two
// (a 100-object scan is three round trips). The listing takes the answer
// when it asks for the same page; a failed prefetch is asked again.
// stop cancels it if unused and waits for it to end.
func (l *listing) prefetch(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	f := &firstPage{
		req:  s3access.ListRequest{Bucket: l.bucket, Prefix: l.prefix, Versions: l.versions, MaxKeys: l.pageSize},
		done: make(chan struct{}),
	}
	go func() {
		defer close(f.done)
		req := f.req
		f.page, f.err = l.api.ListPage(ctx, &req)
	}()
	l.first = f
	return func() {
		cancel()
		<-f.done
	}
}

// Objects lists every range with up to l.chains concurrent chains of
// requests and calls emit for each object (or version) to check, from
// several goroutines. It stops at the first error of a listing or of emit.
func (l *listing) Objects(ctx context.Context, emit func(Object) error) error {
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	// Chains waiting for a range must not outlive the scan.
	defer context.AfterFunc(ctx, l.ranges.stop)()
	chains := max(l.chains, 1)
	l.ranges.addChains(chains)
	for range chains {
		wg.Go(func() {
			for {
				r := l.ranges.take()
				if r == nil {
					return
				}
				err := l.listRange(ctx, r, emit)
				l.ranges.release()
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					l.ranges.stop()
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// errListedNothingNew is a truncated page whose continuation marker is
// the one it was asked with (or none): asking again would loop forever.
var errListedNothingNew = errors.New("the server said the listing continues but gave no new continuation token or key marker")

// listRange is the one listing loop, for objects and versions alike.
func (l *listing) listRange(ctx context.Context, r *keyRange, emit func(Object) error) error {
	req := &s3access.ListRequest{Bucket: l.bucket, Prefix: l.prefix, Versions: l.versions, MaxKeys: l.pageSize, StartAfter: r.start()}
	pageKeys := make([]string, 0, l.pageSize)
	for pages := 1; ; pages++ {
		page, err := l.listPage(ctx, req)
		if err != nil {
			return &Error{Op: l.op(), Err: err}
		}
		pageKeys = pageKeys[:0]
		for i := range page.Entries {
			e := &page.Entries[i]
			seq, fresh, beyond, err := r.add(Position{Key: e.Key, Version: e.VersionID}, e.DeleteMarker, l.versions)
			if err != nil {
				return &Error{Op: l.op(), Err: err}
			}
			if beyond {
				r.finishListing()
				return nil
			}
			pageKeys = append(pageKeys, e.Key)
			if !fresh {
				continue
			}
			obj := Object{Key: e.Key, VersionID: e.VersionID, IsLatest: e.IsLatest, OwnerID: e.OwnerID, place: place{t: r, seq: seq}}
			if err := emit(obj); err != nil {
				return err
			}
		}
		if !page.Truncated {
			r.finishListing()
			return nil
		}
		if page.Next == req.Next {
			return &Error{Op: l.op(), Err: errListedNothingNew}
		}
		req.Next = page.Next
		if n := len(pageKeys); n > 0 && l.pagesListed.Add(1) >= splitAfterPages {
			l.maybeSplit(r, pageKeys, pageKeys[n-1], pages)
		}
	}
}

// splitAfterPages is how many pages the scan lists before any range
// splits: a bucket of up to that many full pages (10,000 keys) is listed
// by one chain, request for request. Split points are placed from one
// page's keys, and in a small bucket most of the ranges they cut hold
// nothing, each a request served for nothing: 5,000 keys took 19 list
// requests and 261 ms with 16 chains against 9 and 237 ms with one (make
// bench-scale-quick). Past the threshold a range splits as it did, into
// as many ranges as it has listed pages, so a big bucket's listing loses
// only the threshold's pages of parallelism: 100,000 keys still list
// ~2x faster than one chain (docs/benchmarks/README.md, "Small buckets").
const splitAfterPages = 10

// maxPageOutageWaits bounds how often one page waits for the endpoint: a
// page that fails while the endpoint answers probes is not an outage.
const maxPageOutageWaits = 3

// listPage requests a page. When the request fails the way an outage
// does (no answer, or a 5xx, after the client's retries), it waits for
// the endpoint as a run of failed objects does (Config.OutageWait) and
// asks again.
func (l *listing) listPage(ctx context.Context, req *s3access.ListRequest) (*s3access.ListPage, error) {
	if f := l.first; f != nil && *req == f.req && f.taken.CompareAndSwap(false, true) {
		select {
		case <-f.done:
			if f.err == nil {
				return f.page, nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for waits := 0; ; waits++ {
		page, err := l.api.ListPage(ctx, req)
		if err == nil || waits == maxPageOutageWaits || ctx.Err() != nil || !s3access.IsUnavailable(err) {
			return page, err
		}
		if _, werr := l.awaitEndpoint(ctx, l.probe); werr != nil {
			return page, err
		}
	}
}

// probe is one small list request: does the endpoint work?
func (l *listing) probe(ctx context.Context) error {
	_, err := l.api.ListPage(ctx, &s3access.ListRequest{Bucket: l.bucket, Prefix: l.prefix, MaxKeys: 1})
	return err
}

func (l *listing) op() string {
	op := fmt.Sprintf("list s3://%s/%s", l.bucket, l.prefix)
	if l.versions {
		op += " (versions)"
	}
	return op
}

// maybeSplit hands part of r's remaining keyspace to idle chains, using
// the page just listed (which ended at last) to place the split points.
// A range splits into at most as many new ranges as it has listed pages:
// the chains double while the listing goes on, so a bucket of a few pages
// is not cut into slices that each cost a request of their own (most
// nearly empty), and a big one has every chain busy after a few rounds.
func (l *listing) maybeSplit(r *keyRange, pageKeys []string, last string, pages int) {
	idle := min(l.ranges.idleChains(), pages)
	if idle <= 0 {
		return
	}
	until, bounded := r.bounds()
	split := splitPoints
	if l.splitter != nil {
		split = l.splitter
	}
	points := split(pageKeys, last, until, bounded, idle)
	// Ranges must not overlap: keep only increasing points inside (last, until).
	valid := points[:0]
	for _, p := range points {
		if p > last && (!bounded || p < until) && (len(valid) == 0 || p > valid[len(valid)-1]) {
			valid = append(valid, p)
		}
	}
	l.ranges.split(r, valid)
}
