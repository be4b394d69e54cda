package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/bench/internal/toxiproxy"
	"github.com/aclscan/aclscan/internal/faultproxy"
	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
	"golang.org/x/sync/errgroup"
)

// report collects every series of the run.
type report struct {
	opts   options
	rtt    time.Duration
	series []*series
}

func (rep *report) add(section, name string, objects int) *series {
	s := &series{section: section, name: name, objects: objects}
	rep.series = append(rep.series, s)
	return s
}

// latencyProxy puts toxiproxy with a latency toxic in front of RGW.
func latencyProxy(o options, env locals3.Env) (string, time.Duration, error) {
	listen := fmt.Sprintf("127.0.0.1:%d", o.proxyPort)
	upstream := strings.TrimPrefix(env.HTTPURL, "http://")
	if err := toxiproxy.LatencyProxy(o.toxiproxy, "rgw-scale", listen, upstream, o.latencyMS); err != nil {
		return "", 0, err
	}
	url := "http://" + listen
	rtt, err := toxiproxy.RoundTrip(url)
	return url, rtt, err
}

func goBuild(out, pkg string) error {
	if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// noACL resolves every object at once, with no request, so that a scan
// measures its listing alone.
var noACL = scan.ResolverFunc(func(context.Context, string, scan.Object) (acl.Policy, error) { return acl.Policy{}, nil })

var discard = scan.SinkFunc(func(*scan.Result) error { return nil })

// listing times the listing of the whole bucket through the latency
// proxy, with one chain and with the default number of chains, runs
// interleaved (one of each in turn: drifts of the machine hit both).
func (rep *report) listing(ctx context.Context, env locals3.Env, endpoint, bucket string) error {
	client, err := s3access.New(ctx, s3access.Options{EndpointURL: endpoint, Region: "us-east-1", Credentials: env.A.Credentials()})
	if err != nil {
		return err
	}
	var variants []listVariant
	for _, chains := range []int{1, scan.DefaultListConcurrency} {
		name := "one chain (--list-concurrency 1)"
		if chains > 1 {
			name = fmt.Sprintf("partitioned (--list-concurrency %d, default)", chains)
		}
		variants = append(variants, listVariant{name, func() (int64, error) {
			sum, err := scan.Run(ctx, client, scan.Config{Bucket: bucket, ListConcurrency: chains, Resolver: noACL}, discard, nil)
			if err != nil {
				return 0, err
			}
			return sum.Objects, nil
		}})
	}
	// The bound of partitioned listing on this machine: 16 chains, each
	// listing whole prefixes of the bucket's known layout (p000/ to p099/,
	// see scaleKey), so every page is full of real keys and no range is
	// read past its end. No real scan knows the layout.
	variants = append(variants, listVariant{fmt.Sprintf("oracle: %d chains over the 100 known prefixes", scan.DefaultListConcurrency), func() (int64, error) {
		var listed atomic.Int64
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(scan.DefaultListConcurrency)
		for p := range 100 {
			g.Go(func() error {
				sum, err := scan.Run(gctx, client, scan.Config{Bucket: bucket, Prefix: fmt.Sprintf("p%03d/", p), ListConcurrency: 1, Resolver: noACL}, discard, nil)
				if sum != nil {
					listed.Add(sum.Objects)
				}
				return err
			})
		}
		err := g.Wait()
		return listed.Load(), err
	}})
	rep.timeListings(client, variants)
	return nil
}

// listVariant is one way of listing the bucket; list returns the keys it
// listed.
type listVariant struct {
	name string
	list func() (int64, error)
}

// timeListings adds a listing series per variant and times their runs in
// turn, counting each run's requests.
func (rep *report) timeListings(client *s3access.Client, variants []listVariant) {
	series := make([]*series, len(variants))
	for i, v := range variants {
		series[i] = rep.add("listing", v.name, rep.opts.objects)
		series[i].extra = map[string]float64{}
	}
	for r := 0; r < max(rep.opts.runs, 3); r++ {
		for i, v := range variants {
			s := series[i]
			before := client.Requests()
			start := time.Now()
			listed, err := v.list()
			wall := time.Since(start)
			if err == nil && listed != int64(rep.opts.objects) {
				err = fmt.Errorf("listed %d keys, want %d", listed, rep.opts.objects)
			}
			if err != nil {
				s.fails++
				fmt.Fprintf(os.Stderr, "  listing  %-50s run %d: FAILED: %v\n", v.name, r+1, err)
				continue
			}
			s.samples = append(s.samples, sample{wall: wall})
			s.extra["requests"] = float64(client.Requests() - before)
			fmt.Fprintf(os.Stderr, "  listing  %-50s run %d: %8.0f ms, %d requests\n", v.name, r+1, float64(wall)/1e6, client.Requests()-before)
		}
	}
}

// throttling scans part of the bucket behind a proxy answering 503
// SlowDown above a rate (with S3-like latency), in each --throttling mode.
func (rep *report) throttling(ctx context.Context, env locals3.Env, bucket string, scanArgs func(string) []string) error {
	prefix, objects := "p00", rep.opts.objects/10 // p000..p009: a tenth of the keys
	for _, mode := range []string{s3access.ThrottleAIMD, s3access.ThrottleAdaptive, s3access.ThrottleOff} {
		s := rep.add("throttling", "--throttling "+mode, objects)
		s.extra = map[string]float64{}
		var retries, forwardedRate float64
		for r := 0; r < rep.opts.runs; r++ {
			proxy, err := faultproxy.Start(env.HTTPURL, faultproxy.Options{Rate: rep.opts.throttleRPS, Latency: 20 * time.Millisecond})
			if err != nil {
				return err
			}
			summary := os.TempDir() + "/aclscan-bench-throttle.json"
			argv := append(scanArgs("s3://"+bucket+"/"+prefix), "--throttling", mode, "--summary-json", summary)
			smp, err := runProcess(ctx, env, proxy.URL, argv)
			proxy.Close()
			var sum struct {
				Objects   int64            `json:"objects"`
				Retries   int64            `json:"retries"`
				Throttles int64            `json:"throttles"`
				ByStatus  map[string]int64 `json:"by_status"`
			}
			if err == nil {
				b, rerr := os.ReadFile(summary)
				if rerr == nil {
					rerr = json.Unmarshal(b, &sum)
				}
				err = rerr
			}
			if err == nil && sum.ByStatus["ok"] != int64(objects) {
				err = fmt.Errorf("%d ok of %d", sum.ByStatus["ok"], objects)
			}
			if err != nil {
				s.fails++
				fmt.Fprintf(os.Stderr, "  throttle %-50s run %d: FAILED: %v\n", s.name, r+1, err)
				continue
			}
			s.samples = append(s.samples, smp)
			retries += float64(sum.Retries) / float64(objects)
			forwardedRate += float64(proxy.Forwarded()) / smp.wall.Seconds()
			fmt.Fprintf(os.Stderr, "  throttle %-50s run %d: %8.0f ms, %.0f objects/s, %.3f retries/key, %d throttled\n",
				s.name, r+1, float64(smp.wall)/1e6, float64(objects)/smp.wall.Seconds(), float64(sum.Retries)/float64(objects), sum.Throttles)
		}
		if n := float64(len(s.samples)); n > 0 {
			s.extra["retries_per_key"] = retries / n
			s.extra["forwarded_rps"] = forwardedRate / n
		}
	}
	return nil
}

// millionRun measures aclscan's peak RSS on 1,000,000 objects with
// /usr/bin/time -v, the figure the memory target is about. The objects come
// from bench/synths3, a synthetic endpoint generating keys and ACLs on the
// fly: seeding radosgw with a million objects runs at 300-650 PUT/s on
// this machine (over 40 minutes) and the figure is the client's.
func millionRun(ctx context.Context, o options) error {
	const n, addr = 1000000, "127.0.0.1:7499"
	synth := filepath.Join(os.TempDir(), "aclscan-synths3")
	if err := goBuild(synth, "./bench/synths3"); err != nil {
		return err
	}
	server := exec.CommandContext(ctx, synth, "-objects", fmt.Sprint(n), "-listen", addr)
	if err := server.Start(); err != nil {
		return err
	}
	defer func() { _ = server.Process.Kill(); _ = server.Wait() }()
	time.Sleep(500 * time.Millisecond)
	argv := []string{"/usr/bin/time", "-v", o.bin, "scan", "s3://synthetic", "--endpoint-url", "http://" + addr, "--format", "jsonl", "-o", "/dev/null", "--no-progress"}
	type result struct {
		rssKB, cpu float64
		wall       string
	}
	var runs []result
	for r := 0; r < max(o.runs, 1); r++ {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=synthetic", "AWS_SECRET_ACCESS_KEY=synthetic", "AWS_REGION=us-east-1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("1M scan: %v\n%s", err, out)
		}
		var res result
		var user, sys float64
		for _, line := range strings.Split(string(out), "\n") {
			name, value, ok := strings.Cut(strings.TrimSpace(line), ": ")
			if !ok {
				continue
			}
			switch name {
			case "Maximum resident set size (kbytes)":
				fmt.Sscan(value, &res.rssKB)
			case "Elapsed (wall clock) time (h:mm:ss or m:ss)":
				res.wall = value
			case "User time (seconds)":
				fmt.Sscan(value, &user)
			case "System time (seconds)":
				fmt.Sscan(value, &sys)
			}
		}
		res.cpu = user + sys
		runs = append(runs, res)
		fmt.Fprintf(os.Stderr, "  1M objects run %d: peak RSS %.1f MiB, wall %s, CPU %.1f s\n", r+1, res.rssKB/1024, res.wall, res.cpu)
	}
	slices.SortFunc(runs, func(a, b result) int { return int(a.rssKB - b.rssKB) })
	med := runs[len(runs)/2]
	var md strings.Builder
	md.WriteString("# Memory at 1,000,000 objects\n\n")
	fmt.Fprintf(&md, "Measured %s by `make bench-scale ARGS=-million-only` (also part of `ARGS=-million`), %d runs, median by RSS.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), len(runs))
	md.WriteString("The bucket is `bench/synths3`: a synthetic endpoint that generates 1,000,000 keys (`obj-0000000` ...) page by page and answers\n")
	md.WriteString("every GetObjectAcl with the same private ACL, without checking signatures. Seeding the local radosgw with a million objects\n")
	md.WriteString("runs at 300-650 PUT/s on this machine (the rate falls as the bucket index grows: over 40 minutes), and the figure is the\n")
	md.WriteString("client's own: the same aclscan binary, listing (with its parallel chains), fetching, classifying and writing JSONL to /dev/null.\n\n")
	fmt.Fprintf(&md, "Command: `/usr/bin/time -v %s`\n\n", strings.Join(argv[2:], " "))
	md.WriteString("| run | peak RSS (Maximum resident set size) | wall time | CPU (user + system) |\n|---:|---:|---:|---:|\n")
	for i, r := range runs {
		fmt.Fprintf(&md, "| %d | %.1f MiB | %s | %.1f s |\n", i+1, r.rssKB/1024, r.wall, r.cpu)
	}
	fmt.Fprintf(&md, "\nTarget: at most 64 MiB at 1,000,000 objects: %s (median %.1f MiB; 35 MiB at 100,000 objects against radosgw in [scale.md](scale.md)).\n", verdict(med.rssKB/1024 <= 64), med.rssKB/1024)
	return os.WriteFile(o.outDir+"/scale-1m.md", []byte(md.String()), 0o644)
}
