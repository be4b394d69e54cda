package scan

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/aclscan/aclscan/internal/testkit/fakes3"
)

// recorder keeps every result written, in order, and can fail after a
// number of writes (a full disk, a crash).
type recorder struct {
	mu        sync.Mutex
	keys      []string
	failAfter int
}

func (r *recorder) Write(res *Result) error {
	// No lock needed by the contract (one bucket writes at a time); the
	// mutex lets the race detector prove it.
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failAfter > 0 && len(r.keys) >= r.failAfter {
		return errors.New("disk full")
	}
	r.keys = append(r.keys, res.Bucket+"/"+res.Key)
	return nil
}

func bucketScans(t *testing.T, sizes map[string]int, broken string) []BucketScan {
	var scans []BucketScan
	for _, name := range []string{"alpha", "bravo", "charlie", "delta"} {
		fake := fakeWithKeys(sizes[name])
		fake.PageSize = 50
		if name == broken {
			fake.BucketACL = fakes3.Answer{Status: 404, Body: fakes3.ErrorXML("NoSuchBucket")}
		}
		scans = append(scans, BucketScan{API: fake.client(t), Config: Config{Bucket: name, Concurrency: 8, PageSize: 50}, Region: "r-" + name})
	}
	return scans
}

// Buckets scanned at once into one sink: every key of every readable
// bucket exactly once; a bucket that cannot be read is its own failure.
func TestRunBucketsEveryKeyOnce(t *testing.T) {
	t.Parallel()
	sizes := map[string]int{"alpha": 300, "bravo": 20, "charlie": 0, "delta": 170}
	var sink recorder
	sums, err := RunBuckets(context.Background(), Buckets{Scans: bucketScans(t, sizes, "bravo"), Parallel: 3, InFlight: 5}, &sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, k := range sink.keys {
		seen[k]++
	}
	for name, n := range sizes {
		for i := range n {
			key := fmt.Sprintf("%s/k/%05d", name, i)
			if want := map[bool]int{true: 0, false: 1}[name == "bravo"]; seen[key] != want {
				t.Fatalf("%s reported %d times, want %d", key, seen[key], want)
			}
		}
	}
	for i, sum := range sums {
		name := []string{"alpha", "bravo", "charlie", "delta"}[i]
		switch {
		case sum == nil || sum.Bucket != name || sum.Region != "r-"+name:
			t.Errorf("summary %d: %+v", i, sum)
		case name == "bravo" && (sum.Failure == nil || sum.Complete):
			t.Errorf("bravo: failure %v complete %v; want its own failure", sum.Failure, sum.Complete)
		case name != "bravo" && (sum.Failure != nil || !sum.Complete || sum.Objects != int64(sizes[name])):
			t.Errorf("%s: %d objects, complete %v, failure %v", name, sum.Objects, sum.Complete, sum.Failure)
		}
	}
}

// A run stopped by its sink resumes from the last checkpoint: what the
// checkpoint counts plus what the resumed run writes is every key of
// every bucket exactly once.
func TestRunBucketsResumeFromCheckpoint(t *testing.T) {
	t.Parallel()
	sizes := map[string]int{"alpha": 400, "bravo": 250, "charlie": 3, "delta": 320}
	sink := &recorder{failAfter: 500}
	var saved []State
	var savedKeys int
	save := func(states []State) error {
		saved = append([]State(nil), states...)
		savedKeys = len(sink.keys) // the sink's state when the checkpoint was taken
		return nil
	}
	_, err := RunBuckets(context.Background(), Buckets{Scans: bucketScans(t, sizes, ""), Parallel: 3, Checkpoint: save, CheckpointInterval: 1}, sink, nil)
	if err == nil || len(saved) == 0 {
		t.Fatalf("err %v, %d states saved; want the sink's failure and a checkpoint", err, len(saved))
	}
	kept := append([]string(nil), sink.keys[:savedKeys]...)

	resume := map[string]*State{}
	for i := range saved {
		resume[saved[i].Bucket] = &saved[i]
	}
	again := &recorder{}
	sums, err := RunBuckets(context.Background(), Buckets{Scans: bucketScans(t, sizes, ""), Parallel: 2, Resume: resume}, again, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, k := range append(kept, again.keys...) {
		seen[k]++
	}
	total := 0
	for name, n := range sizes {
		total += n
		for i := range n {
			if key := fmt.Sprintf("%s/k/%05d", name, i); seen[key] != 1 {
				t.Fatalf("%s reported %d times across the two runs, want once", key, seen[key])
			}
		}
	}
	var counted int64
	for _, sum := range sums {
		counted += sum.Objects
	}
	if counted != int64(total) || len(seen) != total {
		t.Errorf("summaries count %d objects, %d distinct keys reported; want %d", counted, len(seen), total)
	}
}

// GroupsAtOnce 1: an account's buckets all end before the next
// account's start, although four buckets may run at once; every result
// names its bucket's account.
func TestRunBucketsGroupsAtOnce(t *testing.T) {
	t.Parallel()
	sizes := map[string]int{"alpha": 120, "bravo": 60, "charlie": 90, "delta": 30}
	scans := bucketScans(t, sizes, "")
	accountOf := map[string]string{"alpha": "111111111111", "bravo": "111111111111", "charlie": "222222222222", "delta": "222222222222"}
	for i := range scans {
		scans[i].Group = accountOf[scans[i].Config.Bucket]
		scans[i].Config.Account = &Account{ID: scans[i].Group}
	}
	var mu sync.Mutex
	var sequence []string // the account of each result, in order
	sink := SinkFunc(func(r *Result) error {
		mu.Lock()
		defer mu.Unlock()
		if r.AccountID() != accountOf[r.Bucket] {
			t.Errorf("%s/%s names account %q, want %s", r.Bucket, r.Key, r.AccountID(), accountOf[r.Bucket])
		}
		sequence = append(sequence, r.AccountID())
		return nil
	})
	if _, err := RunBuckets(context.Background(), Buckets{Scans: scans, Parallel: 4, GroupsAtOnce: 1}, sink, nil); err != nil {
		t.Fatal(err)
	}
	if len(sequence) != 300 {
		t.Fatalf("%d results, want 300", len(sequence))
	}
	for i := 1; i < len(sequence); i++ {
		if sequence[i] == "111111111111" && sequence[i-1] == "222222222222" {
			t.Fatalf("result %d of the first account came after the second account's", i)
		}
	}
	if sequence[0] != "111111111111" {
		t.Errorf("the first account to run is %s, want the first listed", sequence[0])
	}
}
