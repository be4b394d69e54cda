package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/scan"
)

// runDiff compares two reports: NEW's records, each marked new or known
// against OLD, in the format asked for, and OLD's objects whose findings
// are gone listed as closed; the exit code as a scan's (with --fail-on,
// --fail-on-new).
func (sh *shell) runDiff(ctx context.Context, oldPath, newPath string, f *scanFlags) error {
	for _, p := range []string{oldPath, newPath} {
		if strings.HasPrefix(p, "s3://") {
			return usageErrorf("report --diff compares local reports: copy %s here first (aws s3 cp)", p)
		}
	}
	f.baselinePath = oldPath
	cfg, _, fail, err := f.configEach()
	if err != nil {
		return err
	}
	outs, err := sh.openOutputs(ctx, f, &cfg, nil)
	if err != nil {
		return err
	}
	defer outs.closeFiles()
	byBucket := map[string]*scan.Summary{}
	compare := func(rec report.Record) error {
		r, err := rec.Result()
		if err != nil {
			return err
		}
		r.Compared, r.New = false, 0
		if r.Findings != 0 {
			r.Compared, r.New = true, f.base.Compare(r.Bucket, r.Key, r.VersionID, r.Findings)
		}
		if err := outs.writer.Write(&r); err != nil {
			return fmt.Errorf("write the record of %q: %w", r.Key, err)
		}
		sum := byBucket[r.Bucket]
		if sum == nil {
			sum = &scan.Summary{Bucket: r.Bucket, Complete: true, Source: "report"}
			byBucket[r.Bucket] = sum
		}
		sum.Add(&r)
		return nil
	}
	if err := report.ReadFile(newPath, compare); err != nil {
		return usageErrorf("report --diff %s: %v", newPath, err)
	}
	sum := totalOf(byBucket)
	sum.Baseline = baselineOutcome(f.base, false, func(bucket, _ string) bool { return byBucket[bucket] != nil }, sh.stderr)
	fmt.Fprintf(sh.stderr, "aclscan: %s against %s: %d records, %d closed since\n", newPath, oldPath, sum.Objects, sum.Baseline.Closed)
	if _, err := outs.finish(sum, sh.stderr); err != nil {
		return &exitError{code: exitIncomplete, msg: err.Error()}
	}
	return verdict(sum, nil, fail, "")
}

// totalOf is the one bucket's summary, or the total of several.
func totalOf(byBucket map[string]*scan.Summary) *scan.Summary {
	if len(byBucket) == 1 {
		for _, s := range byBucket {
			return s
		}
	}
	names := make([]string, 0, len(byBucket))
	for name := range byBucket {
		names = append(names, name)
	}
	sort.Strings(names)
	sums := make([]*scan.Summary, len(names))
	for i, name := range names {
		sums[i] = byBucket[name]
	}
	return scan.Total(sums)
}
