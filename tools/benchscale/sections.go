package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/internal/faultproxy"
	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/internal/toxiproxy"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
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

// listOnly lists through the real client and answers every ACL at once,
// so that a scan measures its listing alone.
type listOnly struct{ *s3access.Client }

func (listOnly) GetObjectACL(context.Context, string, string, string) (acl.Policy, error) {
	return acl.Policy{}, nil
}

type discard struct{}

func (discard) Write(*scan.Result) error { return nil }

// listing times the listing of the whole bucket through the latency
// proxy, with one chain and with the default number of chains.
func (rep *report) listing(ctx context.Context, env locals3.Env, endpoint, bucket string) error {
	os.Setenv("AWS_ACCESS_KEY_ID", env.A.AccessKey)
	os.Setenv("AWS_SECRET_ACCESS_KEY", env.A.SecretKey)
	client, err := s3access.New(ctx, s3access.Options{EndpointURL: endpoint, Region: "us-east-1"})
	if err != nil {
		return err
	}
	for _, chains := range []int{1, scan.DefaultListConcurrency} {
		name := "one chain (--list-concurrency 1)"
		if chains > 1 {
			name = fmt.Sprintf("partitioned (--list-concurrency %d, default)", chains)
		}
		s := rep.add("listing", name, rep.opts.objects)
		s.extra = map[string]float64{}
		for r := 0; r < max(rep.opts.runs, 3); r++ {
			before := client.Requests()
			start := time.Now()
			sum, err := scan.Run(ctx, listOnly{client}, scan.Config{Bucket: bucket, ListConcurrency: chains}, discard{}, nil)
			wall := time.Since(start)
			if err == nil && sum.Objects != int64(rep.opts.objects) {
				err = fmt.Errorf("listed %d keys, want %d", sum.Objects, rep.opts.objects)
			}
			if err != nil {
				s.fails++
				fmt.Fprintf(os.Stderr, "  listing  %-50s run %d: FAILED: %v\n", name, r+1, err)
				continue
			}
			s.samples = append(s.samples, sample{wall: wall})
			s.extra["requests"] = float64(client.Requests() - before)
			fmt.Fprintf(os.Stderr, "  listing  %-50s run %d: %8.0f ms, %d requests\n", name, r+1, float64(wall)/1e6, client.Requests()-before)
		}
	}
	return nil
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

// millionRun seeds 1,000,000 objects and measures aclscan's peak RSS on
// them with /usr/bin/time -v, the figure the memory target is about.
func millionRun(ctx context.Context, o options, env locals3.Env) error {
	const n = 1000000
	bucket := "scale-1000000"
	seedStart := time.Now()
	if err := seed(ctx, env, bucket, n); err != nil {
		return err
	}
	seedTime := time.Since(seedStart)
	argv := []string{"/usr/bin/time", "-v", o.bin, "scan", "s3://" + bucket, "--format", "jsonl", "-o", "/dev/null", "--no-progress"}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+env.A.AccessKey, "AWS_SECRET_ACCESS_KEY="+env.A.SecretKey,
		"AWS_REGION=us-east-1", "AWS_ENDPOINT_URL_S3="+env.HTTPURL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("1M scan: %v\n%s", err, out)
	}
	var rss, wall, cpuUser, cpuSys string
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		field := func(prefix string) string { return strings.TrimSpace(strings.TrimPrefix(line, prefix)) }
		switch {
		case strings.HasPrefix(line, "Maximum resident set size (kbytes):"):
			rss = field("Maximum resident set size (kbytes):")
		case strings.HasPrefix(line, "Elapsed (wall clock) time (h:mm:ss or m:ss):"):
			wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss):")
		case strings.HasPrefix(line, "User time (seconds):"):
			cpuUser = field("User time (seconds):")
		case strings.HasPrefix(line, "System time (seconds):"):
			cpuSys = field("System time (seconds):")
		}
	}
	var kb float64
	fmt.Sscan(rss, &kb)
	var md strings.Builder
	fmt.Fprintf(&md, "# Memory at 1,000,000 objects\n\n")
	fmt.Fprintf(&md, "Measured %s by `go run ./tools/benchscale -million` (part of `make bench-scale ARGS=-million`).\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&md, "Bucket `%s`: 1,000,000 objects over 100 prefixes, seeded in %s (once; kept by RGW between runs).\n\n", bucket, seedTime.Round(time.Second))
	fmt.Fprintf(&md, "Command: `/usr/bin/time -v %s`\n\n", strings.Join(argv[2:], " "))
	md.WriteString("| figure | value |\n|---|---:|\n")
	fmt.Fprintf(&md, "| peak RSS (Maximum resident set size) | %.1f MiB |\n", kb/1024)
	fmt.Fprintf(&md, "| wall time | %s |\n| CPU user / system | %s s / %s s |\n\n", wall, cpuUser, cpuSys)
	verdict := "met"
	if kb/1024 > 64 {
		verdict = "MISSED"
	}
	fmt.Fprintf(&md, "Target: at most 64 MiB: %s.\n", verdict)
	fmt.Fprintf(os.Stderr, "1M objects: peak RSS %.1f MiB, wall %s\n", kb/1024, wall)
	return os.WriteFile(o.outDir+"/scale-1m.md", []byte(md.String()), 0o644)
}
