package scan

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aclscan/aclscan/internal/testkit/fakes3"

	"github.com/aclscan/aclscan/s3access"
)

// futureKeySplitter places split points exactly on keys the chain has not
// listed yet, the hardest place for exactly-once: the key on a boundary
// belongs to the range below it and must not be listed by the one above.
func futureKeySplitter(keys []string, rng *rand.Rand, mu *sync.Mutex) func([]string, string, string, bool, int) []string {
	return func(_ []string, last, until string, bounded bool, n int) []string {
		mu.Lock()
		defer mu.Unlock()
		lo := sort.SearchStrings(keys, last) + 1
		hi := len(keys)
		if bounded {
			hi = sort.SearchStrings(keys, until)
		}
		var points []string
		for range n {
			if lo >= hi {
				break
			}
			i := lo + rng.IntN(hi-lo)
			points = append(points, keys[i])
		}
		slices.Sort(points)
		return slices.Compact(points)
	}
}

// Every key exactly once when ranges are split on keys, for random
// keyspaces (flat, deep, unusual characters) and page sizes.
func TestSplitRangesEveryKeyOnce(t *testing.T) {
	t.Parallel()
	layouts := map[string]func(i int) string{
		"flat":   func(i int) string { return fmt.Sprintf("obj-%06d", i) },
		"deep":   func(i int) string { return fmt.Sprintf("a/%d/b/%d/c/%03d", i%7, i%13, i) },
		"spread": func(i int) string { return fmt.Sprintf("p%03d/k%04d", i%40, i) },
		"odd":    func(i int) string { return fmt.Sprintf("%c%s/%d", rune(0x20+i%90), strings.Repeat("~", i%3), i) },
	}
	for name, keyOf := range layouts {
		for _, strategy := range []Strategy{Pool, All} {
			t.Run(name+"/"+strategy.String(), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(len(name)), uint64(strategy)))
				fake := newFakeS3()
				fake.BucketACL = fakes3.Answer{Status: 200, Body: privateACL("owner")}
				n := 600 + rng.IntN(600)
				for i := range n {
					fake.Put(keyOf(i), 200, privateACL("owner"))
				}
				fake.PageSize = 7 + rng.IntN(60)
				var mu sync.Mutex
				cfg := Config{Bucket: "b", Strategy: strategy, Concurrency: 8, ListConcurrency: 6,
					splitter: futureKeySplitter(fake.Keys, rng, &mu)}
				var sink collect
				sum, err := Run(context.Background(), fake.client(t), cfg, &sink, nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(sink.byKey) != n || sum.Objects != int64(n) {
					t.Fatalf("%d distinct results, %d in summary; want %d", len(sink.byKey), sum.Objects, n)
				}
				if splits := len(fake.StartsAfter()); splits == 0 {
					t.Error("no range was split: the test did not exercise parallel listing")
				}
			})
		}
	}
}

// A server that lists keys out of order would make ranges overlap: the
// scan stops with an error rather than report keys twice or miss some.
func TestOutOfOrderListingIsAnError(t *testing.T) {
	t.Parallel()
	fake := fakeWithKeys(3)
	var sink collect
	_, err := Run(context.Background(), reversedLister{fake.client(t)}, Config{Bucket: "b"}, &sink, nil)
	if err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Fatalf("err = %v, want an out-of-order error", err)
	}
}

type reversedLister struct{ API }

func (r reversedLister) ListPage(ctx context.Context, req *s3access.ListRequest) (*s3access.ListPage, error) {
	return &s3access.ListPage{Entries: []s3access.ListEntry{{Key: "k/2"}, {Key: "k/1"}}}, nil
}

// A bucket of up to splitAfterPages pages is listed by one chain, request
// for request, whatever the chains allowed; a bigger one splits.
func TestSmallBucketsAreListedByOneChain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		keys      int
		split     bool
		maxSplits int
	}{
		{keys: 10 * 50, split: false}, // 10 full pages, the last one not truncated
		{keys: 10*50 + 1, split: true, maxSplits: 10},
		{keys: 40 * 50, split: true, maxSplits: 40 * 50},
	} {
		fake := newFakeS3()
		fake.BucketACL = fakes3.Answer{Status: 200, Body: privateACL("owner")}
		fake.PageSize = 50
		for i := range tc.keys {
			fake.Put(fmt.Sprintf("k/%06d", i), 200, privateACL("owner"))
		}
		var sink collect
		sum, err := Run(context.Background(), fake.client(t), Config{Bucket: "b", ListConcurrency: 16}, &sink, nil)
		if err != nil || sum.Objects != int64(tc.keys) {
			t.Fatalf("%d keys: %v, %d objects", tc.keys, err, sum.Objects)
		}
		pages := (tc.keys + 49) / 50
		lists, splits := fake.Count("list"), len(fake.StartsAfter())
		if !tc.split && (lists != pages || splits != 0) {
			t.Errorf("%d keys (%d pages): %d list requests, %d ranges split off; want one chain's %d requests", tc.keys, pages, lists, splits, pages)
		}
		if tc.split && (splits == 0 || splits > tc.maxSplits) {
			t.Errorf("%d keys (%d pages): %d ranges split off, want 1 to %d", tc.keys, pages, splits, tc.maxSplits)
		}
	}
}
