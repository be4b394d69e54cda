// Command soak scans a bucket of the local S3 over and over for minutes,
// through toxiproxy with connections reset every second, with one client,
// and reports the process's goroutines, open files and memory from the
// first scans to the last (docs/benchmarks/soak.md, docs/reliability.md).
//
//	go run ./bench/soak [-duration 5m] [-objects 2000] [-o docs/benchmarks/soak.md]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/aclscan/aclscan/bench/internal/soak"
)

type options struct {
	duration    time.Duration
	objects     int
	concurrency int
	resetEvery  time.Duration
	resetFor    time.Duration
	output      string
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 5*time.Minute, "how long to keep scanning")
	flag.IntVar(&o.objects, "objects", 2000, "objects in the soak bucket")
	flag.IntVar(&o.concurrency, "concurrency", 64, "requests in flight")
	flag.DurationVar(&o.resetEvery, "reset-every", time.Second, "how often connections are reset")
	flag.DurationVar(&o.resetFor, "reset-for", 50*time.Millisecond, "how long each reset window lasts")
	flag.StringVar(&o.output, "o", "", "write the report (Markdown) to FILE as well as stdout")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	l := soak.Local{
		Objects: o.objects, Concurrency: o.concurrency, Duration: o.duration,
		ResetEvery: o.resetEvery, ResetFor: o.resetFor,
		Sampled: func(s soak.Sample) {
			if s.Scan%10 == 1 {
				fmt.Fprintf(os.Stderr, "soak: %v scan %d: %d goroutines, %d files, heap %.1f MiB, RSS %.1f MiB\n",
					s.Elapsed.Round(time.Second), s.Scan, s.Goroutines, s.OpenFiles, mib(s.HeapInuse), mib(s.RSS))
			}
		},
	}
	fmt.Fprintf(os.Stderr, "soak: scanning %s (%d objects) for %v through toxiproxy, connections reset every %v\n", l.Bucket(), o.objects, o.duration, o.resetEvery)
	res, err := soak.RunLocal(ctx, l)
	if err != nil {
		return err
	}
	md := markdown(o, l.Bucket(), res)
	fmt.Print(md)
	if o.output != "" {
		return os.WriteFile(o.output, []byte(md), 0o644)
	}
	return nil
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func markdown(o options, bucket string, res *soak.Result) string {
	first, last, g := res.Growth()
	var b strings.Builder
	fmt.Fprintf(&b, "# Soak run\n\n")
	fmt.Fprintf(&b, "Command: `make soak DURATION=%v` (`go run ./bench/soak -duration %v -objects %d -o docs/benchmarks/soak.md`), %s.\n\n", o.duration, o.duration, o.objects, time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "One client scans `%s` (%d objects, %d requests in flight) again and again for %v, through toxiproxy with a `reset_peer` toxic on half of the connections for %v every %v. Every scan must be complete with every object `ok`. After each scan the client's idle connections are closed and the heap collected, then the process is sampled.\n\n",
		bucket, o.objects, o.concurrency, res.Elapsed.Round(time.Second), o.resetFor, o.resetEvery)
	fmt.Fprintf(&b, "- Scans: %d, objects checked: %d (%.0f per second), requests: %d, retries (after resets): %d\n", res.Scans, res.Objects, float64(res.Objects)/res.Elapsed.Seconds(), res.Requests, res.Retries)
	fmt.Fprintf(&b, "- Keys lost or reported as errors: 0 (any would have stopped the run)\n\n")
	fmt.Fprintf(&b, "| | before the first scan | first quarter of scans (median) | last quarter (median) | growth |\n|---|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| goroutines | %d | %d | %d | %+d |\n", res.Baseline.Goroutines, first.Goroutines, last.Goroutines, g.Goroutines)
	fmt.Fprintf(&b, "| open files | %d | %d | %d | %+d |\n", res.Baseline.OpenFiles, first.OpenFiles, last.OpenFiles, g.OpenFiles)
	fmt.Fprintf(&b, "| heap in use (MiB) | %.1f | %.1f | %.1f | %+.1f |\n", mib(res.Baseline.HeapInuse), mib(first.HeapInuse), mib(last.HeapInuse), float64(g.HeapInuse)/(1<<20))
	fmt.Fprintf(&b, "| RSS (MiB) | %.1f | %.1f | %.1f | %+.1f |\n", mib(res.Baseline.RSS), mib(first.RSS), mib(last.RSS), float64(g.RSS)/(1<<20))
	fmt.Fprintf(&b, "\nThe process holds the harness too (toxiproxy's API client, whose kept-alive connection comes and goes: one goroutine pair and one file).\n")
	return b.String()
}
