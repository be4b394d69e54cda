// Command benchscan measures aclscan's strategies side by side, in one run:
// directly against the local RGW and through toxiproxy adding latency, and
// writes docs/benchmarks/scan.md and scan.csv. Run it with `make bench-scan`
// (scripts/bench-scan starts the local S3 and toxiproxy first).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aclscan/aclscan/bench/internal/toxiproxy"
	"github.com/aclscan/aclscan/internal/locals3"
)

type options struct {
	bin        string
	runs       int
	direct     int
	latent     int
	latencyMS  int
	toxiproxy  string
	proxyPort  int
	outDir     string
	sweep      []int
	skipSerial bool
}

// cell is one configuration measured several times.
type cell struct {
	path     string // "direct" or "latency"
	objects  int
	strategy string
	conc     int
	times    []time.Duration
	failures int
}

func (c *cell) label() string {
	if c.strategy == "pool" {
		return fmt.Sprintf("pool x%d", c.conc)
	}
	return c.strategy
}

func (c *cell) median() time.Duration {
	if len(c.times) == 0 {
		return 0
	}
	s := slices.Clone(c.times)
	slices.Sort(s)
	return s[len(s)/2]
}

func main() {
	var o options
	var sweep string
	flag.StringVar(&o.bin, "bin", "bin/aclscan", "aclscan binary")
	flag.IntVar(&o.runs, "runs", 3, "runs per configuration (median reported)")
	flag.IntVar(&o.direct, "direct-objects", 5000, "objects scanned directly against RGW")
	flag.IntVar(&o.latent, "latency-objects", 1000, "objects scanned through the latency proxy")
	flag.IntVar(&o.latencyMS, "latency-ms", 17, "latency toxic (ms, downstream); ~18 ms per round trip")
	flag.StringVar(&o.toxiproxy, "toxiproxy", "http://127.0.0.1:8474", "toxiproxy API")
	flag.IntVar(&o.proxyPort, "proxy-port", 7490, "port of the latency proxy")
	flag.StringVar(&o.outDir, "out", "docs/benchmarks", "where scan.md and scan.csv go")
	flag.StringVar(&sweep, "sweep", "8,16,32,64,128,256", "pool sizes measured")
	flag.BoolVar(&o.skipSerial, "skip-serial-latency", false, "skip serial through the proxy (slow)")
	flag.Parse()
	for _, f := range strings.Split(sweep, ",") {
		var n int
		if _, err := fmt.Sscan(f, &n); err == nil && n > 0 {
			o.sweep = append(o.sweep, n)
		}
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintf(os.Stderr, "benchscan: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	env, err := locals3.Start(ctx)
	if err != nil {
		return err
	}
	a := env.Client(env.A)
	buckets := map[int]string{}
	for _, n := range []int{o.direct, o.latent} {
		name := fmt.Sprintf("bench-%d", n)
		buckets[n] = name
		if err := locals3.CreateBucket(ctx, a, name); err != nil {
			return err
		}
		if have, err := locals3.CountObjects(ctx, a, name); err != nil || have != n {
			fmt.Fprintf(os.Stderr, "seeding %s with %d objects...\n", name, n)
			if err := locals3.PutObjects(ctx, a, name, locals3.Keys("obj/", n), nil); err != nil {
				return err
			}
		}
	}
	proxyURL, err := setupProxy(o, env)
	if err != nil {
		return err
	}
	floor, err := toxiproxy.RoundTrip(proxyURL)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "latency proxy: %s, one HTTP round trip on a kept-alive connection ~%.1f ms\n", proxyURL, ms(floor))

	var cells []*cell
	add := func(path string, n int, strategy string, conc int) {
		cells = append(cells, &cell{path: path, objects: n, strategy: strategy, conc: conc})
	}
	for _, path := range []string{"direct", "latency"} {
		n := o.direct
		if path == "latency" {
			n = o.latent
		}
		if !(path == "latency" && o.skipSerial) {
			add(path, n, "serial", 1)
		}
		for _, c := range o.sweep {
			add(path, n, "pool", c)
		}
		add(path, n, "all", 0)
	}

	// Interleave runs so drift on a shared machine hits every cell alike.
	for run := 0; run < o.runs; run++ {
		for _, c := range cells {
			endpoint := env.HTTPURL
			if c.path == "latency" {
				endpoint = proxyURL
			}
			d, err := scanOnce(ctx, o.bin, env, endpoint, buckets[c.objects], c)
			if err != nil {
				c.failures++
				fmt.Fprintf(os.Stderr, "  %s %s run %d: %v\n", c.path, c.label(), run+1, err)
				continue
			}
			c.times = append(c.times, d)
			fmt.Fprintf(os.Stderr, "  %s %-9s run %d: %7.0f ms (%5.0f objects/s)\n", c.path, c.label(), run+1, ms(d), float64(c.objects)/d.Seconds())
		}
	}
	return write(o, cells, floor)
}

// scanOnce runs the aclscan binary once and returns its wall time.
func scanOnce(ctx context.Context, bin string, env locals3.Env, endpoint, bucket string, c *cell) (time.Duration, error) {
	args := []string{"scan", "s3://" + bucket, "--strategy", c.strategy, "--format", "jsonl", "-o", "/dev/null", "--endpoint-url", endpoint}
	if c.strategy == "pool" {
		args = append(args, "--concurrency", fmt.Sprint(c.conc))
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+env.A.AccessKey, "AWS_SECRET_ACCESS_KEY="+env.A.SecretKey,
		"AWS_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return d, nil
}

// setupProxy puts a latency proxy in front of RGW's HTTP port.
func setupProxy(o options, env locals3.Env) (string, error) {
	listen := fmt.Sprintf("127.0.0.1:%d", o.proxyPort)
	upstream := strings.TrimPrefix(env.HTTPURL, "http://")
	if err := toxiproxy.LatencyProxy(o.toxiproxy, "rgw-latency", listen, upstream, o.latencyMS); err != nil {
		return "", err
	}
	return "http://" + listen, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func write(o options, cells []*cell, rtt time.Duration) error {
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return err
	}
	var csv strings.Builder
	csv.WriteString("path,objects,strategy,concurrency,runs,median_ms,objects_per_s,failures\n")
	for _, c := range cells {
		m := c.median()
		rate := 0.0
		if m > 0 {
			rate = float64(c.objects) / m.Seconds()
		}
		fmt.Fprintf(&csv, "%s,%d,%s,%d,%d,%.0f,%.0f,%d\n", c.path, c.objects, c.strategy, c.conc, len(c.times), ms(m), rate, c.failures)
	}
	if err := os.WriteFile(o.outDir+"/scan.csv", []byte(csv.String()), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# Scan benchmark: strategies side by side\n\n")
	fmt.Fprintf(&md, "Measured %s on %s/%s, %d CPUs, %s, by `make bench-scan`\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(&md, "(`go run ./bench/benchscan -runs %d`). Each figure is the median wall time of %d runs of the\n", o.runs, o.runs)
	md.WriteString("`aclscan scan` process (start-up, GetBucketAcl, listing and every GetObjectAcl, report to /dev/null),\n")
	md.WriteString("interleaved across configurations. RGW runs on the same 2 cores as the client.\n\n")
	for _, path := range []string{"direct", "latency"} {
		var rows []*cell
		for _, c := range cells {
			if c.path == path {
				rows = append(rows, c)
			}
		}
		if len(rows) == 0 {
			continue
		}
		if path == "direct" {
			fmt.Fprintf(&md, "## %d objects directly against RGW (HTTP, loopback)\n\n", rows[0].objects)
		} else {
			fmt.Fprintf(&md, "## %d objects through toxiproxy (latency toxic %d ms; measured round trip %.1f ms)\n\n", rows[0].objects, o.latencyMS, ms(rtt))
		}
		var serial time.Duration
		for _, c := range rows {
			if c.strategy == "serial" {
				serial = c.median()
			}
		}
		md.WriteString("| strategy | median time | objects/s | speed-up vs serial | failed runs |\n|---|---:|---:|---:|---:|\n")
		for _, c := range rows {
			m := c.median()
			speed := "-"
			if serial > 0 && m > 0 {
				speed = fmt.Sprintf("%.1fx", float64(serial)/float64(m))
			}
			rate := 0.0
			if m > 0 {
				rate = float64(c.objects) / m.Seconds()
			}
			fmt.Fprintf(&md, "| %s | %.0f ms | %.0f | %s | %d |\n", c.label(), ms(m), rate, speed, c.failures)
		}
		md.WriteString("\n")
	}
	return os.WriteFile(o.outDir+"/scan.md", []byte(md.String()), 0o644)
}
