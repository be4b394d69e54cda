package soak

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	client "github.com/Shopify/toxiproxy/v2/client"
	"github.com/aclscan/aclscan/bench/internal/toxiproxy"
	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/s3access"
)

// Local describes a soak run against the local S3 (scripts/local-s3).
type Local struct {
	Objects     int // in the soak bucket, created (and kept) as needed
	Concurrency int
	Duration    time.Duration
	MinScans    int
	// Every ResetEvery, half of the connections are reset during ResetFor.
	ResetEvery, ResetFor time.Duration
	Sampled              func(Sample)
}

// Bucket is the soak bucket's name.
func (l Local) Bucket() string { return fmt.Sprintf("soak-%d", l.Objects) }

// RunLocal seeds the soak bucket, puts toxiproxy between the client and
// the local S3 with a reset_peer toxic that comes and goes, and runs the
// soak. The client takes user A's keys from the environment, which it sets.
func RunLocal(ctx context.Context, l Local) (*Result, error) {
	env, err := locals3.Start(ctx)
	if err != nil {
		return nil, err
	}
	a := env.Client(env.A)
	if err := locals3.CreateBucket(ctx, a, l.Bucket()); err != nil {
		return nil, err
	}
	if n, _ := locals3.CountObjects(ctx, a, l.Bucket()); n != l.Objects {
		if err := locals3.PutObjects(ctx, a, l.Bucket(), locals3.Keys("s/", l.Objects), nil); err != nil {
			return nil, err
		}
	}
	root, err := locals3.RepoRoot()
	if err != nil {
		return nil, err
	}
	bin, err := toxiproxy.Install(ctx, filepath.Join(root, "bin", "tools"))
	if err != nil {
		return nil, err
	}
	srv, err := toxiproxy.Start(ctx, bin)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	upstream, err := url.Parse(env.HTTPURL)
	if err != nil {
		return nil, err
	}
	proxy, err := srv.NewProxy("soak", upstream.Host)
	if err != nil {
		return nil, err
	}
	c, err := s3access.New(ctx, s3access.Options{EndpointURL: "http://" + proxy.Listen, Region: "us-east-1", Connections: l.Concurrency, Credentials: env.A.Credentials()})
	if err != nil {
		return nil, err
	}

	flapCtx, stopFlap := context.WithCancel(ctx)
	flapped := make(chan error, 1)
	go func() {
		flapped <- toxiproxy.Flap(flapCtx, proxy, l.ResetEvery, l.ResetFor, "reset", "reset_peer", 0.5, client.Attributes{"timeout": 0})
	}()
	res, err := Run(ctx, c, Options{Bucket: l.Bucket(), Objects: int64(l.Objects), Concurrency: l.Concurrency, Duration: l.Duration, MinScans: l.MinScans, Sampled: l.Sampled})
	stopFlap()
	if ferr := <-flapped; ferr != nil && err == nil {
		err = ferr
	}
	return res, err
}
