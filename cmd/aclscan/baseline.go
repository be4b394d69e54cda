package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/aclscan/aclscan/baseline"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// prepareBaseline loads a baseline named by an s3:// URL (a local one is
// loaded with the flags) and hands it to the engine.
func (f *scanFlags) prepareBaseline(ctx context.Context, client *s3access.Client, cfg *scan.Config) error {
	if f.baselinePath == "" {
		return nil
	}
	if f.base == nil {
		bucket, key, err := s3ObjectURL("--baseline", f.baselinePath)
		if err != nil {
			return err
		}
		out, err := client.SDK().GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
		if err != nil {
			return &exitError{code: exitIncomplete, msg: s3access.Explain("read the baseline "+f.baselinePath, err, flagSpelling)}
		}
		defer out.Body.Close()
		if f.base, err = baseline.ReadJSONL(f.baselinePath, out.Body); err != nil {
			return usageErrorf("--baseline: %v", err)
		}
	}
	cfg.Baseline = f.base
	return nil
}

// baselineOutcome lists the baseline's objects, inside the run's scope,
// whose findings are gone. A resumed run saw only part of its objects in
// this process: it lists none, and says so.
func baselineOutcome(b *baseline.Baseline, resumed bool, inScope func(bucket, key string) bool, stderr io.Writer) *scan.BaselineOutcome {
	if b == nil {
		return nil
	}
	out := &scan.BaselineOutcome{Name: b.Name}
	if resumed {
		fmt.Fprintln(stderr, "aclscan: note: a resumed scan does not list the objects closed since the baseline (it saw only part of them); run it whole to list them")
		return out
	}
	closed := b.Closed(inScope)
	out.Closed = len(closed)
	for i, c := range closed {
		if i == scan.MaxClosedListed {
			break
		}
		out.Listed = append(out.Listed, scan.ClosedObject{Bucket: c.Bucket, Key: c.Key, VersionID: c.VersionID, Findings: c.Findings})
	}
	return out
}

// inTarget says whether an object lies in one bucket's scan.
func inTarget(cfg scan.Config) func(bucket, key string) bool {
	return func(bucket, key string) bool { return bucket == cfg.Bucket && strings.HasPrefix(key, cfg.Prefix) }
}
