// Command benchscale is the throughput benchmark (make bench-scale): on a
// local RGW bucket of 100,000 objects spread over 100 prefixes (seeded
// once, kept between runs) it measures, in one run and interleaved:
//
//  1. directly against RGW: the server's GetObjectAcl ceiling (measured by
//     a minimal client sending pre-signed requests), aclscan, the floor
//     client (floor.go: the least CPU per object a scan can cost), and
//     three peers (boto3 with
//     a thread pool, Node.js @aws-sdk/client-s3 in Promise.all batches, a
//     plain aws-sdk-go-v2 worker pool): objects/s, client CPU per object,
//     peak RSS;
//  2. aclscan through toxiproxy with ~18 ms round trips, against the
//     bound concurrency/RTT;
//  3. listing alone at ~18 ms: partitioned against one chain;
//  4. throttling: aclscan behind a proxy answering 503 SlowDown above a
//     rate, with each --throttling mode.
//
// -million adds the 1,000,000-object memory run (-million-only runs it
// alone), against a synthetic endpoint (bench/synths3).
// Results go to docs/benchmarks/scale.{md,csv,png} (and scale-1m.md).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aclscan/aclscan/internal/locals3"
)

type options struct {
	bin         string
	python      string
	node        string
	runs        int
	peerRuns    int
	objects     int
	latencyObjs int
	latencyMS   int
	workers     int
	toxiproxy   string
	proxyPort   int
	outDir      string
	skipPeers   bool
	million     bool
	quick       bool
	throttleRPS float64
	seedOnly    bool
	listingOnly bool
	millionOnly bool
}

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "ceiling" || os.Args[1] == "floor") {
		sub := map[string]func([]string) error{"ceiling": runCeiling, "floor": runFloor}[os.Args[1]]
		if err := sub(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.StringVar(&o.bin, "bin", "bin/aclscan", "aclscan binary")
	flag.StringVar(&o.python, "python", "python3", "Python with boto3")
	flag.StringVar(&o.node, "node", "node", "Node.js")
	flag.IntVar(&o.runs, "runs", 3, "runs of each aclscan and ceiling measurement (median reported)")
	flag.IntVar(&o.peerRuns, "peer-runs", 3, "runs of each peer (median reported)")
	flag.IntVar(&o.objects, "objects", 100000, "objects in the benchmark bucket")
	flag.IntVar(&o.latencyObjs, "latency-objects", 100000, "objects scanned through the latency proxy")
	flag.IntVar(&o.latencyMS, "latency-ms", 17, "latency toxic (ms, downstream): ~18 ms per round trip")
	flag.IntVar(&o.workers, "workers", 64, "requests in flight for every client")
	flag.StringVar(&o.toxiproxy, "toxiproxy", "http://127.0.0.1:8474", "toxiproxy API")
	flag.IntVar(&o.proxyPort, "proxy-port", 7491, "port of the latency proxy")
	flag.StringVar(&o.outDir, "out", "docs/benchmarks", "where scale.md, scale.csv and scale.png go")
	flag.BoolVar(&o.skipPeers, "skip-peers", false, "measure aclscan and the ceiling only")
	flag.BoolVar(&o.million, "million", false, "also measure aclscan's peak RSS on 1,000,000 objects (synthetic endpoint, bench/synths3)")
	flag.BoolVar(&o.millionOnly, "million-only", false, "only the 1,000,000-object memory run")
	flag.BoolVar(&o.quick, "quick", false, "smoke run: 5,000 objects, one run each, results not written to docs")
	flag.Float64Var(&o.throttleRPS, "throttle-rps", 1000, "request rate the throttling proxy allows")
	flag.BoolVar(&o.seedOnly, "seed-only", false, "seed the bucket(s) and stop")
	flag.BoolVar(&o.listingOnly, "listing-only", false, "only the listing section (3 interleaved variants); medians on stdout, docs untouched")
	flag.Parse()
	if o.quick {
		o.objects, o.latencyObjs, o.runs, o.peerRuns = 5000, 5000, 1, 1
		o.outDir = filepath.Join(os.TempDir(), "aclscan-bench-scale-quick")
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintf(os.Stderr, "benchscale: %v\n", err)
		os.Exit(1)
	}
}

// scaleKey spreads keys over 100 prefixes, as buckets organised by tenant
// or date are: p000/obj-000000, p001/obj-000001, ...
func scaleKey(i int) string { return fmt.Sprintf("p%03d/obj-%07d", i%100, i) }

// seed makes bucket hold exactly n scale keys, uploading only when the
// count differs.
func seed(ctx context.Context, env locals3.Env, bucket string, n int) error {
	a := env.Client(env.A)
	if err := locals3.CreateBucket(ctx, a, bucket); err != nil {
		return err
	}
	if have, err := locals3.CountObjects(ctx, a, bucket); err == nil && have == n {
		return nil
	}
	fmt.Fprintf(os.Stderr, "seeding %s with %d objects (once; kept between runs)...\n", bucket, n)
	start := time.Now()
	const batch = 10000
	for from := 0; from < n; from += batch {
		keys := make([]string, 0, batch)
		for i := from; i < min(n, from+batch); i++ {
			keys = append(keys, scaleKey(i))
		}
		if err := locals3.PutObjects(ctx, a, bucket, keys, nil); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "  %d/%d\n", min(n, from+batch), n)
	}
	fmt.Fprintf(os.Stderr, "seeded in %s\n", time.Since(start).Round(time.Second))
	return nil
}

func run(ctx context.Context, o options) error {
	if o.millionOnly {
		return millionRun(ctx, o)
	}
	env, err := locals3.Start(ctx)
	if err != nil {
		return err
	}
	bucket := fmt.Sprintf("scale-%d", o.objects)
	if err := seed(ctx, env, bucket, o.objects); err != nil {
		return err
	}
	if o.seedOnly {
		return nil
	}
	latencyURL, rtt, err := latencyProxy(o, env)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "latency proxy %s: one round trip ~%.1f ms\n", latencyURL, ms(rtt))
	if o.listingOnly {
		results := &report{opts: o, rtt: rtt}
		if err := results.listing(ctx, env, latencyURL, bucket); err != nil {
			return err
		}
		for _, s := range results.series {
			fmt.Printf("%-66s median %6.0f ms (%d runs), %4.0f requests\n", s.name, s.medianBy(func(x sample) float64 { return ms(x.wall) }), len(s.samples), s.extra["requests"])
		}
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	gosdk := filepath.Join(os.TempDir(), "aclscan-bench-gosdk")
	if err := goBuild(gosdk, "./bench/scale/gosdk"); err != nil {
		return err
	}
	w := fmt.Sprint(o.workers)
	scanArgs := func(target string) []string {
		return []string{o.bin, "scan", target, "--format", "jsonl", "-o", "/dev/null", "--concurrency", w, "--no-progress"}
	}
	results := &report{opts: o, rtt: rtt}

	// 1. Directly against RGW, interleaved.
	ceiling := results.add("direct", "RGW ceiling (minimal pre-signed client)", o.objects)
	aclscan := results.add("direct", "aclscan", o.objects)
	floor := results.add("direct", "floor client (raw sockets, hand-signed, answers skipped)", o.objects)
	type peer struct {
		s    *series
		argv []string
	}
	var peers []peer
	if !o.skipPeers {
		peers = []peer{
			{results.add("direct", "aws-sdk-go-v2 worker pool (defaults)", o.objects), []string{gosdk, "-bucket", bucket, "-workers", w}},
			{results.add("direct", "Node.js @aws-sdk/client-s3, Promise.all batches", o.objects), []string{o.node, "bench/scale/node_batches.mjs", bucket, w}},
			{results.add("direct", "boto3 + ThreadPoolExecutor", o.objects), []string{o.python, "bench/scale/boto3_threads.py", bucket, w}},
		}
	}
	for r := 0; r < max(o.runs, o.peerRuns); r++ {
		if r < o.runs {
			results.measure(ctx, env, env.HTTPURL, ceiling, []string{self, "ceiling", "-bucket", bucket, "-workers", w}, r)
			results.measure(ctx, env, env.HTTPURL, aclscan, scanArgs("s3://"+bucket), r)
			results.measure(ctx, env, env.HTTPURL, floor, []string{self, "floor", "-bucket", bucket, "-workers", w}, r)
		}
		if r < o.peerRuns {
			for _, p := range peers {
				results.measure(ctx, env, env.HTTPURL, p.s, p.argv, r)
			}
		}
	}

	// 2. Through the latency proxy.
	latencyBucket := bucket
	if o.latencyObjs != o.objects {
		latencyBucket = fmt.Sprintf("scale-%d", o.latencyObjs)
		if err := seed(ctx, env, latencyBucket, o.latencyObjs); err != nil {
			return err
		}
	}
	latent := results.add("latency", "aclscan", o.latencyObjs)
	latent.extra = map[string]float64{"bound": float64(o.workers) / rtt.Seconds()}
	for r := 0; r < o.runs; r++ {
		results.measure(ctx, env, latencyURL, latent, scanArgs("s3://"+latencyBucket), r)
	}

	// 3. Listing alone at ~18 ms.
	if err := results.listing(ctx, env, latencyURL, bucket); err != nil {
		return err
	}

	// 4. Throttling.
	if err := results.throttling(ctx, env, bucket, scanArgs); err != nil {
		return err
	}

	if err := results.write(); err != nil {
		return err
	}
	if o.million {
		return millionRun(ctx, o)
	}
	return nil
}

// measure runs one client once and records the sample (or the failure).
func (rep *report) measure(ctx context.Context, env locals3.Env, endpoint string, s *series, argv []string, run int) {
	smp, err := runProcess(ctx, env, endpoint, argv)
	if err == nil {
		err = checkCount(s, &smp)
	}
	if err != nil {
		s.fails++
		fmt.Fprintf(os.Stderr, "  %-8s %-50s run %d: FAILED: %v\n", s.section, s.name, run+1, err)
		return
	}
	s.samples = append(s.samples, smp)
	fmt.Fprintf(os.Stderr, "  %-8s %-50s run %d: %8.0f ms %7.0f objects/s %6.0f us CPU/object %5.0f MiB\n",
		s.section, s.name, run+1, float64(smp.wall)/1e6, float64(s.objects)/smp.wall.Seconds(), float64(smp.cpu)/1e3/float64(s.objects), float64(smp.maxRSS)/(1<<20))
}

// checkCount checks a client's answer: the number of ACLs it fetched
// (peers print it; aclscan's report goes to /dev/null and its exit code
// says complete). The ceiling's time is its timed phase only.
func checkCount(s *series, smp *sample) error {
	out := smp.stdout
	switch {
	case out == "":
		return nil
	case strings.HasPrefix(out, "{"):
		var c ceilingResult
		if err := jsonUnmarshal(out, &c); err != nil {
			return err
		}
		if c.Requests != s.objects {
			return fmt.Errorf("ceiling client sent %d requests, want %d", c.Requests, s.objects)
		}
		smp.wall = time.Duration(c.Seconds * float64(time.Second))
		return nil
	}
	var n int
	if _, err := fmt.Sscan(out, &n); err != nil || n != s.objects {
		return fmt.Errorf("client reported %q ACLs fetched, want %d", out, s.objects)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
