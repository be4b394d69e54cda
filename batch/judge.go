package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aclscan/aclscan/accept"
	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
)

// Request is one batch to judge.
type Request struct {
	Items Items
	// Context is the bucket's context to judge with (Contexts.Get).
	Context acl.BucketContext
	// Concurrency bounds the GetObjectAcl requests in flight for listed
	// items (0: scan.DefaultConcurrency).
	Concurrency int
	// VerifyPublic asks S3 anonymously for each effectively public object.
	VerifyPublic bool
	// OutageWait is how long failing requests wait for S3 before the batch
	// stops (0: scan.DefaultOutageWait). An engine that redrives work is
	// better served by a short wait and a temporary failure.
	OutageWait time.Duration
	// Accept and Trusted are the accepted-exposure rules and the zone of
	// trust (scan.Config's).
	Accept  *accept.Rules
	Trusted accept.Trust
}

// Judge judges a batch's objects into sink: a GetObjectAcl request per
// listed item, through the pool; none for inventoried items, judged as
// they are read.
func Judge(ctx context.Context, api scan.API, req Request, sink scan.Sink) (*scan.Summary, error) {
	bc := req.Context
	cfg := scan.Config{
		Bucket:       req.Items.Bucket,
		Source:       scan.Objects(req.Items.Objects),
		Context:      &bc,
		Concurrency:  req.Concurrency,
		VerifyPublic: req.VerifyPublic,
		OutageWait:   req.OutageWait,
		Accept:       req.Accept,
		Trusted:      req.Trusted,
	}
	if req.Items.Kind == Inventoried {
		cfg.Resolver, cfg.Inline, cfg.SourceName = scan.Given(), true, "inventory"
	}
	return scan.Run(ctx, api, cfg, sink, nil)
}

// Contexts reads each bucket's context once and keeps it for a while:
// a warm function judges many batches of one bucket, and the context
// costs 4 requests per bucket.
type Contexts struct {
	// Read reads a bucket's context (scan.API's BucketContext).
	Read func(ctx context.Context, bucket string) (acl.BucketContext, error)
	// TTL is how long a context is reused (0: DefaultContextTTL).
	TTL time.Duration

	mu    sync.Mutex
	known map[string]cachedContext
}

type cachedContext struct {
	bc   acl.BucketContext
	read time.Time
}

// temporary reports whether a failure may pass by itself.
func temporary(err error) bool {
	return s3access.IsThrottle(err) || s3access.IsUnavailable(err) || errors.Is(err, context.DeadlineExceeded)
}

// DefaultContextTTL keeps a bucket's settings for five minutes: a change
// of Block Public Access or Object Ownership reaches batches judged
// after that.
const DefaultContextTTL = 5 * time.Minute

// Forget drops a bucket's context ("" drops every bucket's): its settings
// changed, and the next Get reads them again.
func (c *Contexts) Forget(bucket string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if bucket == "" {
		clear(c.known)
		return
	}
	delete(c.known, bucket)
}

// Get returns the bucket's context, read at most TTL ago.
func (c *Contexts) Get(ctx context.Context, bucket string) (acl.BucketContext, error) {
	ttl := c.TTL
	if ttl <= 0 {
		ttl = DefaultContextTTL
	}
	c.mu.Lock()
	cached, ok := c.known[bucket]
	c.mu.Unlock()
	if ok && time.Since(cached.read) < ttl {
		return cached.bc, nil
	}
	bc, err := c.Read(ctx, bucket)
	if err != nil {
		return bc, fmt.Errorf("read the settings of bucket %s: %w", bucket, err)
	}
	if p := bc.Policy; !p.Known && p.Err != nil && temporary(p.Err) {
		// Every object would be policy-unjudged for a failure that passes:
		// the engine's retry (a redriven task, a retried batch) does better.
		return bc, fmt.Errorf("read the policy of bucket %s: %w", bucket, p.Err)
	}
	c.mu.Lock()
	if c.known == nil {
		c.known = map[string]cachedContext{}
	}
	c.known[bucket] = cachedContext{bc: bc, read: time.Now()}
	c.mu.Unlock()
	return bc, nil
}
