// Command seed fills buckets of the local S3 (scripts/local-s3) for the
// demo and the benchmarks.
//
//	go run ./tools/seed demo              the demo bucket
//	go run ./tools/seed objects BUCKET N  N private objects (kept if already there)
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/aclscan/aclscan/internal/locals3"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "seed: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	env, err := locals3.Start(ctx)
	if err != nil {
		return err
	}
	switch {
	case len(args) == 1 && args[0] == "demo":
		if err := locals3.SeedDemo(ctx, env); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "seed: buckets %q, %q and %q ready\n", locals3.DemoBucket, locals3.DemoLockedBucket, locals3.DemoWebsiteBucket)
		return nil
	case len(args) == 3 && args[0] == "objects":
		n, err := strconv.Atoi(args[2])
		if err != nil || n < 0 {
			return fmt.Errorf("object count %q is not a number", args[2])
		}
		return seedObjects(ctx, env, args[1], n)
	}
	return fmt.Errorf("usage: seed demo | seed objects BUCKET N")
}

// seedObjects makes BUCKET hold keys obj/000000.. up to N, uploading only
// when the count differs, so benchmark runs reuse their data.
func seedObjects(ctx context.Context, env locals3.Env, bucket string, n int) error {
	c := env.Client(env.A)
	if err := locals3.CreateBucket(ctx, c, bucket); err != nil {
		return err
	}
	have, err := locals3.CountObjects(ctx, c, bucket)
	if err != nil {
		return err
	}
	if have == n {
		fmt.Fprintf(os.Stderr, "seed: bucket %q already holds %d objects\n", bucket, n)
		return nil
	}
	if have > n {
		return fmt.Errorf("bucket %q holds %d objects, more than %d; use another bucket name", bucket, have, n)
	}
	if err := locals3.PutObjects(ctx, c, bucket, locals3.Keys("obj/", n), nil); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "seed: bucket %q holds %d objects\n", bucket, n)
	return nil
}
