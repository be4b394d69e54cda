// Command benchfix measures `aclscan fix --apply` and `aclscan undo` on a
// bucket of 5,000 public-read objects of the local radosgw: the fix scans
// for its plan, reads each ACL again, logs it (synced) and writes the new
// one; undo reads and writes each back. Runs alternate fix and undo (each
// leaves the bucket as the other needs it); medians. Run it with
// `make bench-fix`; it writes docs/benchmarks/fix.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aclscan/aclscan/bench/internal/stats"
	"github.com/aclscan/aclscan/internal/locals3"
)

const bucket = "bench-fix-5000"

func main() {
	runs := flag.Int("runs", 3, "runs of fix and of undo")
	objects := flag.Int("objects", 5000, "public-read objects")
	bin := flag.String("bin", "bin/aclscan", "the aclscan binary")
	out := flag.String("o", "docs/benchmarks/fix.md", "report file")
	flag.Parse()
	if err := run(*runs, *objects, *bin, *out); err != nil {
		fmt.Fprintln(os.Stderr, "benchfix:", err)
		os.Exit(1)
	}
}

func run(runs, objects int, bin, out string) error {
	ctx := context.Background()
	env, err := locals3.Start(ctx)
	if err != nil {
		return err
	}
	a := env.Client(env.A)
	if err := locals3.CreateBucket(ctx, a, bucket); err != nil {
		return err
	}
	// (Re)written public each time: an earlier run may have stopped fixed.
	if err := locals3.PutObjects(ctx, a, bucket, locals3.Keys("p/", objects), locals3.PublicRead); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "aclscan-benchfix-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cliEnv := append(os.Environ(), "AWS_ENDPOINT_URL_S3="+env.HTTPURL, "AWS_ACCESS_KEY_ID="+env.A.AccessKey, "AWS_SECRET_ACCESS_KEY="+env.A.SecretKey, "AWS_REGION=us-east-1")
	timed := func(args ...string) (time.Duration, string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = cliEnv
		start := time.Now()
		b, err := cmd.CombinedOutput()
		return time.Since(start), string(b), err
	}
	var fixes, undos []time.Duration
	for r := range runs {
		undo := filepath.Join(dir, fmt.Sprintf("undo-%d.jsonl", r))
		took, outText, err := timed("fix", "s3://"+bucket, "--apply", "--undo-log", undo, "--workers", "64", "--max-puts-per-second", "100000", "--no-progress")
		if err != nil || !strings.Contains(outText, fmt.Sprintf("Applied: %d changed", objects)) {
			return fmt.Errorf("fix: %v\n%s", err, outText)
		}
		fixes = append(fixes, took)
		took, outText, err = timed("undo", undo, "s3://"+bucket, "--apply", "--workers", "64", "--max-puts-per-second", "100000")
		if err != nil || !strings.Contains(outText, fmt.Sprintf("Undo: %d restored", objects)) {
			return fmt.Errorf("undo: %v\n%s", err, outText)
		}
		undos = append(undos, took)
		fmt.Fprintf(os.Stderr, "run %d: fix %v, undo %v\n", r+1, fixes[r].Round(time.Millisecond), undos[r].Round(time.Millisecond))
	}
	fm, um := stats.Median(fixes), stats.Median(undos)
	var b strings.Builder
	fmt.Fprintf(&b, "# aclscan fix and undo: %d objects\n\n", objects)
	fmt.Fprintf(&b, "Measured %s on this project's 2-core machine against the local radosgw (plain HTTP), a bucket of %d public-read objects, "+
		"%d runs alternating fix and undo, medians. `--workers 64 --max-puts-per-second 100000` (the default rate bound, 3,500/s, is S3's per prefix). "+
		"Reproduce: `make bench-fix` (`go run ./bench/benchfix -runs %d`).\n\n", time.Now().Format("2006-01-02"), objects, runs, runs)
	fmt.Fprintf(&b, "| command | time | objects/s | requests per object |\n|---|---:|---:|---|\n")
	fmt.Fprintf(&b, "| `aclscan fix s3://... --apply --undo-log F` (scan for the plan, then read again, log + sync, PutObjectAcl) | %.2f s | %.0f | list + GetObjectAcl (scan) + GetObjectAcl + PutObjectAcl |\n", fm.Seconds(), float64(objects)/fm.Seconds())
	fmt.Fprintf(&b, "| `aclscan undo F` (read, compare, PutObjectAcl) | %.2f s | %.0f | GetObjectAcl + PutObjectAcl |\n", um.Seconds(), float64(objects)/um.Seconds())
	fmt.Fprintf(&b, "\nAll runs (s): fix %v, undo %v\n", secs(fixes), secs(undos))
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(b.String())
	return nil
}

func secs(d []time.Duration) []string {
	out := make([]string, len(d))
	for i, x := range d {
		out[i] = fmt.Sprintf("%.2f", x.Seconds())
	}
	return out
}
