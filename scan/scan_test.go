package scan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aclscan/aclscan/internal/testkit/fakes3"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/s3access"
)

func privateACL(owner string) string {
	return `<AccessControlPolicy><Owner><ID>` + owner + `</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>` + owner + `</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`
}

func publicReadACL(owner string) string {
	return strings.Replace(privateACL(owner), "</AccessControlList>", `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>`+acl.AllUsersURI+`</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList>`, 1)
}

func fakeWithKeys(n int) *fakeS3 {
	f := newFakeS3()
	f.BucketACL = fakes3.Answer{Status: 200, Body: privateACL("owner")}
	for i := range n {
		f.Put(fmt.Sprintf("k/%05d", i), 200, privateACL("owner"))
	}
	return f
}

// Every listed key comes out exactly once, across pages, for each strategy.
func TestEveryKeyOncePerStrategy(t *testing.T) {
	t.Parallel()
	for _, strategy := range []Strategy{Serial, Pool, All} {
		t.Run(strategy.String(), func(t *testing.T) {
			fake := fakeWithKeys(2345)
			fake.PageSize = 500
			var sink collect
			sum, err := Run(context.Background(), fake.client(t), Config{Bucket: "b", Strategy: strategy, Concurrency: 8}, &sink, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(sink.byKey) != 2345 || sum.Objects != 2345 || sum.Count(StatusOK) != 2345 {
				t.Fatalf("got %d distinct results, summary %d objects (%d ok), want 2345", len(sink.byKey), sum.Objects, sum.Count(StatusOK))
			}
			lists := fake.Count("list")
			// One chain lists 5 pages; parallel chains add a request per
			// extra range (empty ones included).
			if (strategy == Serial && lists != 5) || lists < 5 {
				t.Errorf("list requests = %d, want 5 pages (serial) or more (split ranges)", lists)
			}
			// The bucket's context: ACL, ownership, Block Public Access and
			// policy status, policy (the account's is not asked of a custom endpoint).
			const contextRequests = 5
			if want := int64(contextRequests + lists + 2345); sum.Requests != want {
				t.Errorf("summary counts %d requests, want %d", sum.Requests, want)
			}
			if !sum.Complete {
				t.Error("scan not marked complete")
			}
		})
	}
}

// A key whose fetch keeps failing is reported as an error after the
// bounded retries, and the scan goes on with the others.
func TestPersistentErrorBecomesStatusError(t *testing.T) {
	t.Parallel()
	fake := fakeWithKeys(10)
	fake.ObjectACL["k/00003"] = fakes3.Answer{Status: 500, Body: fakes3.ErrorXML("InternalError")}
	var sink collect
	sum, err := Run(context.Background(), fake.client(t), Config{Bucket: "b", Concurrency: 4}, &sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := sink.byKey["k/00003\x00"]
	if r.Status != StatusError || !strings.Contains(r.Err, "InternalError") {
		t.Fatalf("k/00003: status %s err %q, want error with InternalError", r.Status, r.Err)
	}
	if sum.Count(StatusError) != 1 || sum.Count(StatusOK) != 9 {
		t.Errorf("summary: %d error, %d ok; want 1 and 9", sum.Count(StatusError), sum.Count(StatusOK))
	}
	// 9 good keys once each, the bad key twice (MaxAttempts 2 in the
	// fake's client), and twice more: a failure is fetched again before
	// it is reported.
	if fake.Count("acl") != 13 {
		t.Errorf("GetObjectAcl requests = %d, want 13", fake.Count("acl"))
	}
}

// A server that starts failing every request mid-scan stops the scan
// after a run of failures, instead of turning every object left into an
// error record; the objects of that run stay unreported, and a resumed
// scan (the server back) checks them: each key exactly once, none an
// error. Isolated failures are still reported (the test above).
func TestRunOfFailuresStopsScanForResume(t *testing.T) {
	t.Parallel()
	for _, strategy := range []Strategy{Serial, Pool} {
		t.Run(strategy.String(), func(t *testing.T) {
			fake := fakeWithKeys(1200)
			fake.PageSize = 100
			fake.attempts = 1 // no backoff: the test is about the run, not the retries
			fake.FailACLsFrom = 500
			client := fake.client(t)
			var saved *State
			cfg := Config{Bucket: "b", Strategy: strategy, Concurrency: 16, ListConcurrency: 1, OutageWait: -1,
				Checkpoint: func(st *State) error { saved = st; return nil }}
			seen := map[string]int{}
			sink := okOnlySink(seen)
			progress := new(Progress)
			sum, err := Run(context.Background(), client, cfg, sink, progress)
			if listed := progress.Listed.Load(); sum.Objects+sum.Unchecked != listed {
				t.Errorf("%d reported + %d unchecked != %d listed", sum.Objects, sum.Unchecked, listed)
			}
			var se *Error
			if !errors.As(err, &se) || !strings.Contains(se.Op, "in a row") || s3access.ErrorCode(err) != "InternalError" {
				t.Fatalf("err = %v, want a *scan.Error about failures in a row, with the server's error", err)
			}
			wantRun := 32 // twice the concurrency
			if strategy == Serial {
				wantRun = minFailureRun
			}
			if !strings.Contains(se.Op, fmt.Sprintf("(%d failed in a row)", wantRun)) {
				t.Errorf("op %q, want a run of %d", se.Op, wantRun)
			}
			// The 499 answered objects, less those whose answers came after
			// the run stopped the scan (at most the pool's size, under a
			// loaded machine): they are unchecked, and the resumed scan
			// checks them.
			if sum.Complete || sum.Objects > 499 || sum.Objects < int64(499-cfg.Concurrency) || sum.Unchecked < int64(wantRun) {
				t.Fatalf("summary: complete %v, %d objects, %d unchecked; want incomplete, the 499 answered (less at most %d), >= %d unchecked",
					sum.Complete, sum.Objects, sum.Unchecked, cfg.Concurrency, wantRun)
			}
			if saved == nil || saved.Objects != sum.Objects {
				t.Fatalf("checkpoint %+v, want the %d objects reported", saved, sum.Objects)
			}
			fake.Change(func() { fake.FailACLsFrom = 0 }) // the server is back
			cfg.Resume = saved
			sum, err = Run(context.Background(), client, cfg, sink, nil)
			if err != nil || !sum.Complete || sum.Count(StatusOK) != 1200 {
				t.Fatalf("resumed scan: err %v, complete %v, %d ok; want 1200 ok", err, sum.Complete, sum.Count(StatusOK))
			}
			checkOnce(t, fake.Keys, seen)
		})
	}
}

// A server failing for a moment (fewer requests than a run that stops the
// scan): the objects whose fetches failed are fetched again once the
// server answers, and none is reported as an error.
func TestShortOutageLeavesNoErrorRecords(t *testing.T) {
	t.Parallel()
	for _, strategy := range []Strategy{Serial, Pool} {
		t.Run(strategy.String(), func(t *testing.T) {
			fake := fakeWithKeys(1200)
			fake.PageSize = 100
			fake.attempts = 1
			fake.FailACLsFrom, fake.FailACLsUntil = 300, 310
			var sink collect
			sum, err := Run(context.Background(), fake.client(t), Config{Bucket: "b", Strategy: strategy, Concurrency: 16}, &sink, nil)
			if err != nil || !sum.Complete {
				t.Fatalf("err %v, complete %v", err, sum.Complete)
			}
			if len(sink.byKey) != 1200 || sum.Count(StatusOK) != 1200 {
				t.Fatalf("%d results, %d ok, %d errors; want 1200 ok", len(sink.byKey), sum.Count(StatusOK), sum.Count(StatusError))
			}
			if n := fake.Count("acl"); n != 1210 {
				t.Errorf("GetObjectAcl requests = %d, want 1,210 (10 failed and fetched again)", n)
			}
		})
	}
}

// A server going down at the very end of a scan, with fewer objects left
// than a run that stops the scan: they fail again when fetched once more,
// a list request fails too, so the scan stops with them unreported (not as
// error records), and a resumed scan checks them.
func TestOutageAtTheEndStopsScan(t *testing.T) {
	t.Parallel()
	fake := fakeWithKeys(200)
	fake.attempts = 1
	fake.DownFrom = 195
	client := fake.client(t)
	var saved *State
	seen := map[string]int{}
	sink := okOnlySink(seen)
	cfg := Config{Bucket: "b", Concurrency: 16, ListConcurrency: 1, OutageWait: -1, Checkpoint: func(st *State) error { saved = st; return nil }}
	sum, err := Run(context.Background(), client, cfg, sink, nil)
	var se *Error
	if !errors.As(err, &se) || !strings.Contains(se.Op, "at the end of the scan") {
		t.Fatalf("err = %v, want a stop naming the end of the scan", err)
	}
	if sum.Complete || sum.Objects != 195 || sum.Unchecked != 5 {
		t.Fatalf("complete %v, %d objects, %d unchecked; want incomplete, 195 and 5", sum.Complete, sum.Objects, sum.Unchecked)
	}
	fake.Change(func() { fake.DownFrom = 0 })
	cfg.Resume = saved
	if sum, err = Run(context.Background(), client, cfg, sink, nil); err != nil || sum.Count(StatusOK) != 200 {
		t.Fatalf("resumed: err %v, %d ok", err, sum.Count(StatusOK))
	}
	checkOnce(t, fake.Keys, seen)
}

// A server down for a second, mid-scan, every request failing: the run of
// failures pauses the scan until a probe gets an answer, then the held
// objects are fetched again. The scan completes, nothing reported as an
// error; the same outage with no wait stops the scan (the test above).
func TestOutageWithinTheWaitIsRiddenOut(t *testing.T) {
	t.Parallel()
	for _, strategy := range []Strategy{Serial, Pool} {
		t.Run(strategy.String(), func(t *testing.T) {
			fake := fakeWithKeys(1200)
			fake.PageSize = 100
			fake.attempts = 1
			fake.DownFrom = 300
			client := fake.client(t)
			// The server comes back 300 ms after its first failed answer,
			// however slowly the scan got there.
			const outage = 300 * time.Millisecond
			go func() {
				for fake.Count("down") == 0 {
					time.Sleep(5 * time.Millisecond)
				}
				time.Sleep(outage)
				fake.Change(func() { fake.DownFrom = 0 })
			}()
			var sink collect
			start := time.Now()
			progress := new(Progress)
			var sawWaiting atomic.Bool
			stopWatch := make(chan struct{})
			defer close(stopWatch)
			go func() {
				watch := time.NewTicker(20 * time.Millisecond)
				defer watch.Stop()
				for {
					select {
					case <-stopWatch:
						return
					case <-watch.C:
						if progress.Waiting.Load() {
							sawWaiting.Store(true)
						}
					}
				}
			}()
			sum, err := Run(context.Background(), client, Config{Bucket: "b", Strategy: strategy, Concurrency: 16, OutageWait: 10 * time.Second, backoff: 20 * time.Millisecond}, &sink, progress)
			if !sawWaiting.Load() || progress.Waiting.Load() {
				t.Errorf("progress said waiting: during the outage %v, after it %v; want true, false", sawWaiting.Load(), progress.Waiting.Load())
			}
			if err != nil || !sum.Complete {
				t.Fatalf("err %v, complete %v", err, sum.Complete)
			}
			if len(sink.byKey) != 1200 || sum.Count(StatusOK) != 1200 {
				t.Fatalf("%d results, %d ok, %d errors; want 1200 ok", len(sink.byKey), sum.Count(StatusOK), sum.Count(StatusError))
			}
			if fake.Count("down") == 0 || time.Since(start) < outage {
				t.Errorf("%d requests met the outage in %v: the test did not exercise it", fake.Count("down"), time.Since(start))
			}
		})
	}
}

func TestMissingBucketStopsWithScanError(t *testing.T) {
	t.Parallel()
	fake := newFakeS3()
	fake.BucketACL = fakes3.Answer{Status: 404, Body: fakes3.ErrorXML("NoSuchBucket")}
	sum, err := Run(context.Background(), fake.client(t), Config{Bucket: "b"}, &collect{}, nil)
	var se *Error
	if !errors.As(err, &se) || !strings.Contains(se.Op, "bucket") {
		t.Fatalf("err = %v, want a *scan.Error about the bucket", err)
	}
	if sum.Complete || fake.Count("acl") != 0 {
		t.Errorf("complete=%v, ACL requests=%d; want an early stop", sum.Complete, fake.Count("acl"))
	}
}

// A server that says "truncated" without a way forward must not loop forever.
func TestTruncatedListingWithoutProgressIsAnError(t *testing.T) {
	t.Parallel()
	fake := fakeWithKeys(1)
	var sink collect
	// One chain: split ranges would meet the same stuck answers first.
	_, err := Run(context.Background(), stuckLister{fake.client(t)}, Config{Bucket: "b", ListConcurrency: 1}, &sink, nil)
	if err == nil || !strings.Contains(err.Error(), "continuation token") {
		t.Fatalf("err = %v, want a continuation token error", err)
	}
	if len(sink.byKey) != 2 {
		t.Errorf("results = %d, want the 2 keys listed before the bad page", len(sink.byKey))
	}
}

// stuckLister answers every list request with one key, "truncated", and
// the same continuation token.
type stuckLister struct{ API }

func (s stuckLister) ListPage(ctx context.Context, req *s3access.ListRequest) (*s3access.ListPage, error) {
	key := "k/00000"
	if req.Next.ContinuationToken != "" {
		key = "k/00001"
	}
	return &s3access.ListPage{
		Entries:   []s3access.ListEntry{{Key: key}},
		Truncated: true,
		Next:      s3access.PageMarker{ContinuationToken: "same"},
	}, nil
}

// okOnlySink counts the reports of each key in seen and fails the scan on
// any status but ok: for tests where a failure must never be reported.
func okOnlySink(seen map[string]int) Sink {
	return SinkFunc(func(r *Result) error {
		seen[r.Key]++
		if r.Status != StatusOK {
			return fmt.Errorf("%s reported as %s (%s)", r.Key, r.Status, r.Err)
		}
		return nil
	})
}

// checkOnce fails unless every key was reported exactly once.
func checkOnce(t *testing.T, keys []string, seen map[string]int) {
	t.Helper()
	for _, k := range keys {
		if seen[k] != 1 {
			t.Fatalf("key %s reported %d times", k, seen[k])
		}
	}
}

type sinkFunc func(*Result) error

func (f sinkFunc) Write(r *Result) error { return f(r) }

func TestSinkFailureStopsScan(t *testing.T) {
	t.Parallel()
	fake := fakeWithKeys(500)
	n := 0
	boom := errors.New("disk full")
	progress := new(Progress)
	sum, err := Run(context.Background(), fake.client(t), Config{Bucket: "b", Concurrency: 4, PageSize: 10}, SinkFunc(func(*Result) error {
		n++
		if n == 20 {
			return boom
		}
		return nil
	}), progress)
	if listed := progress.Listed.Load(); sum.Objects+sum.Unchecked != listed {
		t.Errorf("%d reported + %d unchecked != %d listed", sum.Objects, sum.Unchecked, listed)
	}
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the sink's error", err)
	}
	if sum.Complete {
		t.Error("scan marked complete after a sink failure")
	}
	if fake.Count("acl") >= 500 {
		t.Errorf("%d ACL requests after the sink failed at 20: scan did not stop", fake.Count("acl"))
	}
}

func TestCancelledScanIsIncomplete(t *testing.T) {
	t.Parallel()
	fake := fakeWithKeys(300)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	progress := new(Progress)
	sum, err := Run(ctx, fake.client(t), Config{Bucket: "b", Concurrency: 4, PageSize: 50}, SinkFunc(func(*Result) error {
		if n++; n == 10 {
			cancel()
		}
		return nil
	}), progress)
	if listed := progress.Listed.Load(); sum.Objects+sum.Unchecked != listed {
		t.Errorf("%d reported + %d unchecked != %d listed", sum.Objects, sum.Unchecked, listed)
	}
	if !errors.Is(err, context.Canceled) || sum.Complete {
		t.Fatalf("err = %v, complete = %v; want cancellation and incomplete", err, sum.Complete)
	}
	if sum.Objects < 10 || sum.Objects >= 300 {
		t.Errorf("objects reported = %d, want between 10 and 299", sum.Objects)
	}
}

// A server that does not implement GetObjectAcl (versitygw answers 501)
// stops the scan at once, whatever the bucket's size: no wait for an
// "outage", and no object reported as an error. (An httptest server: the
// local radosgw implements the call.)
func TestNotImplementedStopsAtOnce(t *testing.T) {
	t.Parallel()
	for _, n := range []int{5, 500} {
		t.Run(fmt.Sprintf("%d objects", n), func(t *testing.T) {
			t.Parallel()
			fake := fakeWithKeys(0)
			for i := range n {
				fake.Put(fmt.Sprintf("k/%05d", i), 501, fakes3.ErrorXML("NotImplemented"))
			}
			var sink collect
			start := time.Now()
			sum, err := Run(context.Background(), fake.client(t), Config{Bucket: "b", Concurrency: 8}, &sink, nil)
			var se *Error
			if !errors.As(err, &se) || !s3access.IsNotImplemented(err) {
				t.Fatalf("err = %v, want a *scan.Error saying NotImplemented", err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("took %v: a definite answer was waited on", took)
			}
			if sum.Complete || sum.Count(StatusError) != 0 || len(sink.byKey) != 0 {
				t.Errorf("complete %v, %d error records, %d results; want an incomplete scan reporting nothing", sum.Complete, sum.Count(StatusError), len(sink.byKey))
			}
			if got := se.Explain(nil); !strings.Contains(got, "does not implement GetObjectAcl") {
				t.Errorf("explained as %q", got)
			}
		})
	}
}

// Only the codes that say an object or version is gone make it missing;
// another 404 (MinIO's answer for a version behind a delete marker) is an
// error with the server's code, not a false "deleted between list and
// fetch". (An httptest server: radosgw answers NoSuchKey.)
func TestOnlyNoSuchKeyIsMissing(t *testing.T) {
	t.Parallel()
	fake := fakeWithKeys(0)
	fake.Put("gone", 404, fakes3.ErrorXML("NoSuchKey"))
	fake.Put("gone-version", 404, fakes3.ErrorXML("NoSuchVersion"))
	fake.Put("bare-404", 404, "")
	fake.Put("other-404", 404, fakes3.ErrorXML("NoSuchThing"))
	fake.Put("ok", 200, privateACL("owner"))
	var sink collect
	if _, err := Run(context.Background(), fake.client(t), Config{Bucket: "b", Concurrency: 2}, &sink, nil); err != nil {
		t.Fatal(err)
	}
	want := map[string]Status{"gone": StatusMissing, "gone-version": StatusMissing, "bare-404": StatusError, "other-404": StatusError, "ok": StatusOK}
	for key, status := range want {
		r, ok := sink.byKey[key+"\x00"]
		if !ok || r.Status != status {
			t.Errorf("%s: %+v, want status %v", key, r, status)
		}
	}
	if r := sink.byKey["other-404\x00"]; !strings.Contains(r.Err, "NoSuchThing") {
		t.Errorf("error %q does not name the server's code", r.Err)
	}
}

// MinIO answers every GetObjectAcl with one fixed ACL: an empty owner and
// a canonical user grant with an empty ID. With the bucket owner given
// (the listing's owner, as aclscan's message advises), nothing is
// cross-account and the owner comes from the listing. (The document's
// shape as the compatibility runs reported it; an httptest server.)
func TestEmptyOwnerAndGranteeID(t *testing.T) {
	t.Parallel()
	const fixed = `<?xml version="1.0" encoding="UTF-8"?><AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID></ID><DisplayName></DisplayName></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID></ID><DisplayName></DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`
	fake := fakeWithKeys(0)
	fake.BucketACL = fakes3.Answer{Status: 403, Body: fakes3.ErrorXML("AccessDenied")}
	for i := range 3 {
		fake.Put(fmt.Sprintf("k/%d", i), 200, fixed)
	}
	var sink collect
	sum, err := Run(context.Background(), fake.client(t), Config{Bucket: "b", BucketOwner: "owner"}, &sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Found(acl.CrossAccount) != 0 || sum.Found(acl.ForeignOwner) != 0 {
		t.Errorf("cross-account %d, foreign-owner %d; want 0: an empty ID names no account", sum.Found(acl.CrossAccount), sum.Found(acl.ForeignOwner))
	}
	for key, r := range sink.byKey {
		if r.OwnerID != "owner" || len(r.Grants) != 1 {
			t.Errorf("%q: owner %q (want the listing's), grants %+v", key, r.OwnerID, r.Grants)
		}
	}
}

// versionsStub lists versions "v1" and "v2" of key "a", answers NoSuchKey
// to every ACL request, and says which versions HeadObject finds.
type versionsStub struct {
	ownerContext
	exists map[string]bool
}

func (versionsStub) ListPage(context.Context, *s3access.ListRequest) (*s3access.ListPage, error) {
	return &s3access.ListPage{Entries: []s3access.ListEntry{{Key: "a", VersionID: "v1"}, {Key: "a", VersionID: "v2"}}}, nil
}
func (versionsStub) GetObjectACL(context.Context, string, string, string) (acl.Policy, error) {
	return acl.Policy{}, &s3access.ResponseError{Status: 404, Code: "NoSuchKey"}
}
func (s versionsStub) VersionExists(_ context.Context, _, _, versionID string) (bool, error) {
	return s.exists[versionID], nil
}

// MinIO answers NoSuchKey to the ACL of a version behind a delete marker,
// which HeadObject finds: that version is an error naming the answer, not
// "missing"; a version HeadObject does not find is missing.
func TestNoSuchKeyForAVersionThatExists(t *testing.T) {
	t.Parallel()
	var sink collect
	sum, err := Run(context.Background(), versionsStub{exists: map[string]bool{"v1": true}}, Config{Bucket: "b", AllVersions: true}, &sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	v1, v2 := sink.byKey["a\x00v1"], sink.byKey["a\x00v2"]
	if v1.Status != StatusError || !strings.Contains(v1.Err, "NoSuchKey") || !strings.Contains(v1.Err, "version that exists") {
		t.Errorf("v1: %v %q; want an error naming the answer", v1.Status, v1.Err)
	}
	if v2.Status != StatusMissing {
		t.Errorf("v2: %v, want missing", v2.Status)
	}
	if sum.Count(StatusError) != 1 || sum.Count(StatusMissing) != 1 {
		t.Errorf("summary: %d errors, %d missing", sum.Count(StatusError), sum.Count(StatusMissing))
	}
}

// noRequests is an API that must not be asked for objects: a scan of
// objects whose ACLs the source holds sends no per-object request.
type noRequests struct {
	ownerContext
	t *testing.T
}

func (n noRequests) ListPage(context.Context, *s3access.ListRequest) (*s3access.ListPage, error) {
	n.t.Error("a given batch was listed")
	return nil, errors.New("no listing here")
}
func (n noRequests) GetObjectACL(context.Context, string, string, string) (acl.Policy, error) {
	n.t.Error("GetObjectAcl sent for an object whose ACL the source holds")
	return acl.Policy{}, errors.New("no request here")
}
func (n noRequests) VersionExists(context.Context, string, string, string) (bool, error) {
	n.t.Error("HeadObject sent")
	return false, nil
}

// A batch handed in with its ACLs (scan.Objects + Given) is judged like a
// listing, each object once, with no request; an object without its ACL
// is an error record, not a silent pass.
func TestGivenBatchIsJudgedWithoutRequests(t *testing.T) {
	t.Parallel()
	public := acl.Policy{Owner: "owner", Grants: []acl.Grant{{Type: acl.TypeGroup, URI: acl.AllUsersURI, Permission: "READ"}}}
	shared := acl.Policy{Owner: "owner", Grants: []acl.Grant{{Type: acl.TypeCanonicalUser, ID: "other", Permission: "READ"}}}
	batch := []Object{
		{Key: "public", Policy: public, Known: true},
		{Key: "shared", Policy: shared, Known: true},
		{Key: "foreign", OwnerID: "other", Policy: acl.Policy{Owner: "other"}, Known: true},
		{Key: "no-acl"},
	}
	var sink collect
	sum, err := Run(context.Background(), noRequests{t: t}, Config{Bucket: "b", Source: Objects(batch), Resolver: Given()}, &sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"public": "public", "shared": "cross-account", "foreign": "foreign-owner", "no-acl": ""}
	for key, findings := range want {
		r, ok := sink.byKey[key+"\x00"]
		if !ok || strings.Join(r.Findings.Names(), ",") != findings {
			t.Errorf("%s: %+v, want findings %q", key, r, findings)
		}
	}
	if r := sink.byKey["no-acl\x00"]; r.Status != StatusError {
		t.Errorf("an object without its ACL: status %v, want error", r.Status)
	}
	if sum.Objects != 4 || len(sink.order) != 4 {
		t.Errorf("%d objects, %d results; want 4", sum.Objects, len(sink.order))
	}
	// Checkpoints follow the live listing only.
	if _, err := Run(context.Background(), noRequests{t: t}, Config{Bucket: "b", Source: Objects(batch), Checkpoint: func(*State) error { return nil }}, &sink, nil); err == nil {
		t.Error("a checkpoint of a given batch was accepted")
	}
}

// The stop message says the endpoint "did not answer for" the wait only
// when the whole wait went by: not for an answer no wait changes, nor
// when asked not to wait.
func TestAwaitEndpointSaysWhetherItWaited(t *testing.T) {
	t.Parallel()
	down := &url.Error{Op: "Get", URL: "http://h/b", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}
	denied := &s3access.ResponseError{Status: 403, Code: "AccessDenied"}
	cases := []struct {
		name       string
		outageWait time.Duration
		probeErr   error
		want       string
	}{
		{"unavailable for the whole wait", 60 * time.Millisecond, down, ", and the endpoint did not answer for 60ms"},
		{"asked not to wait", -1, down, ""},
		{"an answer no wait changes", 60 * time.Millisecond, denied, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &scanner{cfg: Config{OutageWait: tc.outageWait, backoff: 10 * time.Millisecond}, progress: new(Progress)}
			_, err := s.awaitEndpoint(context.Background(), func(context.Context) error { return tc.probeErr })
			if !errors.Is(err, tc.probeErr) {
				t.Errorf("err = %v, want the probe's", err)
			}
			if got := waited(err); got != tc.want {
				t.Errorf("waited = %q, want %q", got, tc.want)
			}
		})
	}
}

// A bucket whose ACLs are disabled is not listed by default: S3 would
// answer every ACL read alike. Asked to, the scan fetches the objects and
// every ACL finding is latent, blocked by BucketOwnerEnforced.
func TestACLsDisabledBucket(t *testing.T) {
	t.Parallel()
	enforced := &acl.BucketContext{Owner: "owner", Policy: acl.Read(""), Ownership: acl.Read(acl.OwnerEnforced), ACL: acl.Read([]acl.Grant(nil))}
	fake := fakeWithKeys(3)
	fake.Put("k/public", 200, publicReadACL("owner"))
	var sink collect
	sum, err := Run(context.Background(), fake.client(t), Config{Bucket: "b", Context: enforced}, &sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.NotScanned || sum.Objects != 0 || fake.Count("list") != 0 || fake.Count("acl") != 0 || !sum.Complete {
		t.Errorf("not scanned %v, %d objects, %d list and %d ACL requests; want a complete scan with nothing sent",
			sum.NotScanned, sum.Objects, fake.Count("list"), fake.Count("acl"))
	}
	if notes := strings.Join(sum.Notes(nil), "\n"); !strings.Contains(notes, "ACLs are disabled") || !strings.Contains(notes, "scan-disabled-acls") {
		t.Errorf("notes do not say why nothing was fetched: %s", notes)
	}
	// The engine names the setting; each shell spells it (a flag, a variable).
	env := func(s s3access.Setting, _ string) string {
		return strings.ToUpper(strings.ReplaceAll(string(s), "-", "_"))
	}
	if notes := strings.Join(sum.Notes(env), "\n"); !strings.Contains(notes, "(SCAN_DISABLED_ACLS fetches") || strings.Contains(notes, "--") {
		t.Errorf("notes not in the shell's words: %s", notes)
	}

	// A bucket policy still opens objects whose ACLs are disabled (AWS's
	// default for new buckets): they are listed and judged through it,
	// and no ACL is fetched.
	withPolicy := *enforced
	withPolicy.Policy = acl.Read(`{"Version":"2012-10-17","Statement":[{"Sid":"Site","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/k/public"}]}`)
	listsBefore := fake.Count("list")
	var viaPolicy collect
	sum, err = Run(context.Background(), fake.client(t), Config{Bucket: "b", Context: &withPolicy}, &viaPolicy, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.NotScanned || !sum.ACLsNotFetched || sum.Objects != 4 || fake.Count("acl") != 0 || fake.Count("list") == listsBefore {
		t.Errorf("with a policy: not scanned %v, ACLs not fetched %v, %d objects, %d ACL requests, %d list requests; want 4 objects listed, no ACL fetched",
			sum.NotScanned, sum.ACLsNotFetched, sum.Objects, fake.Count("acl"), fake.Count("list")-listsBefore)
	}
	if pub := viaPolicy.byKey["k/public\x00"]; !pub.Effective.Has(acl.Public) || len(pub.Grants) != 0 {
		t.Errorf("k/public under a public policy: effective %v, grants %v; want public through the policy, no grant shown", pub.Effective.Names(), pub.Grants)
	}
	if sum.FoundEffective(acl.Public) != 1 {
		t.Errorf("%d objects effectively public, want 1 (the policy names one key)", sum.FoundEffective(acl.Public))
	}
	if notes := strings.Join(sum.Notes(nil), "\n"); !strings.Contains(notes, "listed and judged through the bucket policy") {
		t.Errorf("notes do not say the ACLs were not fetched: %s", notes)
	}

	sum, err = Run(context.Background(), fake.client(t), Config{Bucket: "b", Context: enforced, ScanDisabledACLs: true}, &sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := sink.byKey["k/public\x00"]
	if sum.Objects != 4 || !pub.Findings.Has(acl.Public) || pub.Effective != 0 || len(pub.BlockedBy) != 1 || pub.BlockedBy[0] != acl.BlockedByOwnerEnforced {
		t.Errorf("%d objects; public object: findings %v effective %v blocked by %v", sum.Objects, pub.Findings.Names(), pub.Effective.Names(), pub.BlockedBy)
	}
	if sum.Found(acl.Public) != 1 || sum.FoundEffective(acl.Public) != 0 {
		t.Errorf("summary: public %d in ACLs, %d effective; want 1 and 0", sum.Found(acl.Public), sum.FoundEffective(acl.Public))
	}
}
