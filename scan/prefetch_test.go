package scan

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/s3access"
)

// prefetchStub is a two-page bucket whose context read waits until the
// first page has been asked for: a scan that lists only after its context
// would wait forever (bounded here), one that prefetches overlaps them.
type prefetchStub struct {
	ownerContext
	disabled bool // the bucket's ACLs are disabled (BucketOwnerEnforced)
	listed   chan struct{}
	once     sync.Once
	lists    atomic.Int64
	acls     atomic.Int64
	overlap  atomic.Bool
}

func (p *prefetchStub) BucketContext(ctx context.Context, bucket string) (acl.BucketContext, error) {
	select {
	case <-p.listed:
		p.overlap.Store(true)
	case <-time.After(500 * time.Millisecond):
	}
	bc, err := p.ownerContext.BucketContext(ctx, bucket)
	if p.disabled {
		bc.Ownership = acl.Read(acl.OwnerEnforced)
	}
	return bc, err
}

func (p *prefetchStub) ListPage(_ context.Context, req *s3access.ListRequest) (*s3access.ListPage, error) {
	p.lists.Add(1)
	p.once.Do(func() { close(p.listed) })
	if req.Next.ContinuationToken == "" {
		return &s3access.ListPage{Entries: []s3access.ListEntry{{Key: "a"}, {Key: "b"}}, Truncated: true, Next: s3access.PageMarker{ContinuationToken: "2"}}, nil
	}
	return &s3access.ListPage{Entries: []s3access.ListEntry{{Key: "c"}}}, nil
}

func (p *prefetchStub) GetObjectACL(context.Context, string, string, string) (acl.Policy, error) {
	p.acls.Add(1)
	return acl.Policy{Owner: "owner"}, nil
}

func (p *prefetchStub) VersionExists(context.Context, string, string, string) (bool, error) {
	return true, nil
}

func TestFirstListRequestOverlapsTheBucketContext(t *testing.T) {
	t.Parallel()
	cases := []struct {
		strategy  Strategy
		disabled  bool
		overlap   bool
		lists     int64
		objects   int64
		unscanned bool
	}{
		{Pool, false, true, 2, 3, false},
		{All, false, true, 2, 3, false},
		// One request at a time: serial never overlaps.
		{Serial, false, false, 2, 3, false},
		// ACLs disabled: the prefetched page is dropped, nothing fetched.
		{Pool, true, true, 1, 0, true},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s disabled=%v", tc.strategy, tc.disabled), func(t *testing.T) {
			t.Parallel()
			stub := &prefetchStub{disabled: tc.disabled, listed: make(chan struct{})}
			var sink collect
			sum, err := Run(context.Background(), stub, Config{Bucket: "b", Strategy: tc.strategy}, &sink, nil)
			if err != nil {
				t.Fatal(err)
			}
			if stub.overlap.Load() != tc.overlap {
				t.Errorf("first page asked while the context was read: %v, want %v", stub.overlap.Load(), tc.overlap)
			}
			if stub.lists.Load() != tc.lists || sum.Objects != tc.objects || stub.acls.Load() != tc.objects || sum.NotScanned != tc.unscanned {
				t.Errorf("%d list requests, %d objects, %d ACL requests, not scanned %v; want %d, %d, %d, %v",
					stub.lists.Load(), sum.Objects, stub.acls.Load(), sum.NotScanned, tc.lists, tc.objects, tc.objects, tc.unscanned)
			}
		})
	}
}
