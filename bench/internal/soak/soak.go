// Package soak runs the scan engine over and over with one client, as a
// long-lived process (or a Lambda environment) would, and samples the
// process's goroutines, open files and memory after each scan: a leak
// shows as growth from the first samples to the last. The caller puts the
// faults in the way (toxiproxy resets, in tools/soak and the tests).
package soak

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
)

// Options configure a soak run.
type Options struct {
	Bucket      string
	Objects     int64 // the bucket's object count: each scan must find them all
	Concurrency int
	Duration    time.Duration // scans start until this much time has passed
	MinScans    int           // and at least this many are done
	// Sampled, if set, is called with each sample as it is taken.
	Sampled func(Sample)
}

// Sample is the process's state after a scan, its idle connections
// closed and garbage collected.
type Sample struct {
	Scan       int
	Elapsed    time.Duration
	Goroutines int
	OpenFiles  int
	HeapInuse  uint64 // bytes
	RSS        uint64 // bytes
	Retries    int64  // in this scan
}

// Result is what a soak run did and saw.
type Result struct {
	Scans    int
	Objects  int64
	Requests int64
	Retries  int64
	Elapsed  time.Duration
	Baseline Sample   // before the first scan
	Samples  []Sample // after each scan
}

// Run scans opts.Bucket until opts.Duration has passed. Every scan must
// be complete, find every object and report no error: a soak run under
// faults is also a correctness run.
func Run(ctx context.Context, client *s3access.Client, opts Options) (*Result, error) {
	res := &Result{}
	start := time.Now()
	res.Baseline = sample(client, 0, 0)
	for time.Since(start) < opts.Duration || res.Scans < opts.MinScans {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		var sink countSink
		sum, err := scan.Run(ctx, client, scan.Config{Bucket: opts.Bucket, Strategy: scan.Pool, Concurrency: opts.Concurrency}, &sink, nil)
		if err != nil {
			return res, fmt.Errorf("scan %d: %w", res.Scans+1, err)
		}
		if sum.Objects != opts.Objects || sink.n != opts.Objects || sum.Count(scan.StatusOK) != opts.Objects {
			return res, fmt.Errorf("scan %d: %d objects (%d ok, %d to the sink), want %d ok", res.Scans+1, sum.Objects, sum.Count(scan.StatusOK), sink.n, opts.Objects)
		}
		res.Scans++
		res.Objects += sum.Objects
		res.Requests += sum.Requests
		res.Retries += sum.Retries
		s := sample(client, res.Scans, time.Since(start))
		s.Retries = sum.Retries
		res.Samples = append(res.Samples, s)
		if opts.Sampled != nil {
			opts.Sampled(s)
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

type countSink struct{ n int64 }

func (c *countSink) Write(*scan.Result) error { c.n++; return nil }

// sample closes the client's idle connections, lets their goroutines end,
// collects garbage and reads the process's state.
func sample(client *s3access.Client, n int, elapsed time.Duration) Sample {
	client.CloseIdleConnections()
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return Sample{
		Scan:       n,
		Elapsed:    elapsed,
		Goroutines: runtime.NumGoroutine(),
		OpenFiles:  openFiles(),
		HeapInuse:  ms.HeapInuse,
		RSS:        rss(),
	}
}

func openFiles() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}

// rss reads the resident set size from /proc/self/status (0 if unknown).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			fields := bytes.Fields(rest)
			if len(fields) > 0 {
				kb, _ := strconv.ParseUint(string(fields[0]), 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// Growth is the change from the first samples to the last.
type Growth struct {
	Goroutines, OpenFiles int
	HeapInuse, RSS        int64
}

// Growth compares the last quarter of the samples with the first (each
// field's median, so one noisy sample does not decide). The samples start
// after the first scan, which fills pools and caches.
func (r *Result) Growth() (first, last Sample, g Growth) {
	n := len(r.Samples)
	if n == 0 {
		return
	}
	q := max(1, n/4)
	first, last = median(r.Samples[:q]), median(r.Samples[n-q:])
	g = Growth{
		Goroutines: last.Goroutines - first.Goroutines,
		OpenFiles:  last.OpenFiles - first.OpenFiles,
		HeapInuse:  int64(last.HeapInuse) - int64(first.HeapInuse),
		RSS:        int64(last.RSS) - int64(first.RSS),
	}
	return
}

// median takes each field's median over samples.
func median(samples []Sample) Sample {
	pick := func(get func(Sample) int64) int64 {
		v := make([]int64, len(samples))
		for i, s := range samples {
			v[i] = get(s)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return Sample{
		Goroutines: int(pick(func(s Sample) int64 { return int64(s.Goroutines) })),
		OpenFiles:  int(pick(func(s Sample) int64 { return int64(s.OpenFiles) })),
		HeapInuse:  uint64(pick(func(s Sample) int64 { return int64(s.HeapInuse) })),
		RSS:        uint64(pick(func(s Sample) int64 { return int64(s.RSS) })),
	}
}
