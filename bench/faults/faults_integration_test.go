//go:build integration

// Package faults holds the fault tests of the command line (a separate
// module, with the benchmarks: toxiproxy is not a dependency of aclscan).
//
// Fault tests of the command line: toxiproxy (a real TCP proxy) between
// aclscan and radosgw injects resets, stalls, latency spikes, bandwidth
// limits and responses cut short; an extra radosgw gateway is killed and
// restarted mid-scan. In every case every key of the bucket is in the
// report exactly once with the status and findings a fault-free scan
// gives it, the summary's counts match the report, and the exit code says
// whether the scan was complete (3, for --fail-on public) or not (1).

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aclscan/aclscan/internal/testkit"

	client "github.com/Shopify/toxiproxy/v2/client"
	"github.com/aclscan/aclscan/bench/internal/toxiproxy"
	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/report"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const faultKeys = 1500

// faultBucket holds faultKeys objects: one in ten public-read, one in ten
// readable by user B (another account), the rest private. It is kept
// between runs (radosgw's data lives until scripts/local-s3 stop).
func faultBucket(t *testing.T) (locals3.Env, string) {
	t.Helper()
	env := locals3.ForTest(t)
	ctx := context.Background()
	bucket := fmt.Sprintf("it-faults-%d", faultKeys)
	a := env.Client(env.A)
	if err := locals3.CreateBucket(ctx, a, bucket); err != nil {
		t.Fatal(err)
	}
	if n, _ := locals3.CountObjects(ctx, a, bucket); n == faultKeys {
		return env, bucket
	}
	groups := make([][]string, 3)
	for i, k := range locals3.Keys("f/", faultKeys) {
		groups[min(i%10, 2)] = append(groups[min(i%10, 2)], k)
	}
	edits := []func(*s3.PutObjectInput){
		locals3.PublicRead,
		func(in *s3.PutObjectInput) { in.GrantRead = ptr("id=" + env.B.ID) },
		nil,
	}
	for i, keys := range groups {
		if err := locals3.PutObjects(ctx, a, bucket, keys, edits[i]); err != nil {
			t.Fatal(err)
		}
	}
	return env, bucket
}

func ptr[T any](v T) *T { return &v }

// faultTruth is the report of a fault-free scan of the fault bucket:
// record -> status and findings.
func faultTruth(t *testing.T, bucket string) map[string]string {
	t.Helper()
	truth := scanTruth(t, "s3://"+bucket)
	if len(truth) != faultKeys || truth["f/000000"] != "ok public" || truth["f/000001"] != "ok cross-account" || truth["f/000002"] != "ok " {
		t.Fatalf("fault-free scan: %d keys, f/000000 %q, f/000001 %q, f/000002 %q", len(truth), truth["f/000000"], truth["f/000001"], truth["f/000002"])
	}
	return truth
}

// scanTruth runs a fault-free scan and returns record -> status and
// findings (and, for versions, whether it is the latest).
func scanTruth(t *testing.T, args ...string) map[string]string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "truth.jsonl")
	if code, _, stderr := runLocal(t, locals3.ForTest(t), append(append([]string{"scan"}, args...), "-o", path)...); code != exitOK {
		t.Fatalf("fault-free scan: exit %d, %s", code, stderr)
	}
	truth := map[string]string{}
	for _, r := range testkit.Records(t, path) {
		truth[recordID(r)] = recordTruth(r)
	}
	return truth
}

// recordID names a record: its key, and its version in version scans.
func recordID(r report.Record) string {
	if r.VersionID != nil {
		return r.Key + "\x00" + *r.VersionID
	}
	return r.Key
}

func recordTruth(r report.Record) string {
	t := r.Status + " " + strings.Join(r.Findings, ",")
	if r.IsLatest != nil && *r.IsLatest {
		t += " latest"
	}
	return t
}

// checkReport compares a report and its JSON summary with the truth, and
// returns the summary.
func checkReport(t *testing.T, truth map[string]string, reportPath, summaryPath string) report.SummaryRecord {
	t.Helper()
	recs := testkit.Records(t, reportPath)
	seen := map[string]int{}
	byStatus, byFinding := map[string]int64{}, map[string]int64{}
	for _, r := range recs {
		id := recordID(r)
		seen[id]++
		byStatus[r.Status]++
		for _, f := range r.Findings {
			byFinding[f]++
		}
		if got := recordTruth(r); got != truth[id] {
			t.Errorf("%q: %q (%v), want %q as without faults", id, got, r.Error, truth[id])
		}
	}
	for id := range truth {
		if seen[id] != 1 {
			t.Errorf("%q appears %d times in the report", id, seen[id])
		}
	}
	if len(recs) != len(truth) {
		t.Errorf("%d records, want %d", len(recs), len(truth))
	}
	var sum report.SummaryRecord
	b, err := os.ReadFile(summaryPath)
	if err != nil || json.Unmarshal(b, &sum) != nil {
		t.Fatalf("summary: %v %s", err, b)
	}
	if !sum.Complete || sum.Objects != int64(len(recs)) || sum.Unchecked != 0 || !mapsEqual(sum.ByStatus, byStatus) || !mapsEqual(sum.ByFinding, byFinding) {
		t.Errorf("summary (complete %v, %d objects, %d unchecked, by status %v, by finding %v) does not match the report (%d records, %v, %v)",
			sum.Complete, sum.Objects, sum.Unchecked, sum.ByStatus, sum.ByFinding, len(recs), byStatus, byFinding)
	}
	return sum
}

// scanThroughToxics scans bucket through a new toxiproxy proxy to target
// (host:port; scheme is how aclscan reaches the proxy) with toxics in
// place, and checks the scan complete (exit 3 with --fail-on public) and
// its report equal to truth. It returns the summary.
func scanThroughToxics(t *testing.T, srv *toxiproxy.Server, truth map[string]string, bucket, proxyName, target, scheme string, toxics func(*testing.T, *client.Proxy), args ...string) report.SummaryRecord {
	t.Helper()
	p, err := srv.NewProxy(proxyName, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Delete() })
	toxics(t, p)
	dir := t.TempDir()
	reportPath, summaryPath := filepath.Join(dir, "r.jsonl"), filepath.Join(dir, "s.json")
	args = append([]string{"scan", "s3://" + bucket, "--endpoint-url", scheme + p.Listen,
		"-o", reportPath, "--summary-json", summaryPath, "--fail-on", "public"}, args...)
	code, _, stderr := runLocal(t, locals3.ForTest(t), args...)
	if code != exitFindings || !strings.Contains(stderr, "findings matching --fail-on: public") {
		t.Fatalf("exit %d, stderr %q; want %d (complete, public objects found)", code, stderr, exitFindings)
	}
	return checkReport(t, truth, reportPath, summaryPath)
}

// mapsEqual compares counts, a missing key counting as zero.
func mapsEqual(a, b map[string]int64) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// toxiproxyServer builds (once; bin/tools, as the benchmark scripts do)
// and starts a toxiproxy server for one test.
func toxiproxyServer(t *testing.T) *toxiproxy.Server {
	t.Helper()
	root, err := locals3.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := toxiproxy.Install(ctx, filepath.Join(root, "bin", "tools"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := toxiproxy.Start(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// flapping runs toxiproxy.Flap until the test ends.
func flapping(t *testing.T, p *client.Proxy, period, on time.Duration, name, typ string, toxicity float32, attrs client.Attributes) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- toxiproxy.Flap(ctx, p, period, on, name, typ, toxicity, attrs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// Network faults between aclscan and S3: the scan completes with every
// key's true status.
func TestIntegrationFaultsNetwork(t *testing.T) {
	env, bucket := faultBucket(t)
	truth := faultTruth(t, bucket)
	srv := toxiproxyServer(t)
	upstream, err := url.Parse(env.HTTPURL)
	if err != nil {
		t.Fatal(err)
	}
	httpsUpstream, err := url.Parse(env.HTTPSURL)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		args   []string
		toxics func(t *testing.T, p *client.Proxy)
		tls    bool // through radosgw's HTTPS port: faults hit TLS handshakes too
	}{
		{"reset on a third of connections", nil, func(t *testing.T, p *client.Proxy) {
			mustToxic(t, p, "reset", "reset_peer", 0.33, client.Attributes{"timeout": 0})
		}, false},
		{"connections reset every 150 ms", nil, func(t *testing.T, p *client.Proxy) {
			flapping(t, p, 150*time.Millisecond, 30*time.Millisecond, "reset", "reset_peer", 0.5, client.Attributes{"timeout": 0})
		}, false},
		{"stalled connections", []string{"--timeout", "1s"}, func(t *testing.T, p *client.Proxy) {
			mustToxic(t, p, "stall", "timeout", 0.05, client.Attributes{"timeout": 0})
		}, false},
		{"latency spikes", nil, func(t *testing.T, p *client.Proxy) {
			mustToxic(t, p, "spikes", "latency", 0.2, client.Attributes{"latency": 150, "jitter": 150})
		}, false},
		{"bandwidth limit", nil, func(t *testing.T, p *client.Proxy) {
			mustToxic(t, p, "narrow", "bandwidth", 1, client.Attributes{"rate": 1024}) // KB/s
		}, false},
		{"responses cut short", []string{"--page-size", "100"}, func(t *testing.T, p *client.Proxy) {
			// Every connection closes after 40 KB, mid-response.
			mustToxic(t, p, "cut", "limit_data", 1, client.Attributes{"bytes": 40 << 10})
		}, false},
		{"responses in tiny pieces", nil, func(t *testing.T, p *client.Proxy) {
			mustToxic(t, p, "slices", "slicer", 1, client.Attributes{"average_size": 64, "size_variation": 48, "delay": 0})
		}, false},
		{"TLS: reset on a third of connections", nil, func(t *testing.T, p *client.Proxy) {
			mustToxic(t, p, "reset", "reset_peer", 0.33, client.Attributes{"timeout": 0})
		}, true},
		// Go's transport hands a waiting request the first connection
		// free, so a stalled handshake delays nothing while others work.
		{"TLS: half the handshakes stall", []string{"--timeout", "1s"}, func(t *testing.T, p *client.Proxy) {
			mustToxic(t, p, "stall", "timeout", 0.5, client.Attributes{"timeout": 0})
		}, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target, scheme := upstream.Host, "http://"
			if tc.tls {
				target, scheme = httpsUpstream.Host, "https://"
				tc.args = append(tc.args, "--ca-bundle", env.CABundle)
			}
			start := time.Now()
			sum := scanThroughToxics(t, srv, truth, bucket, fmt.Sprintf("rgw-%d", i), target, scheme, tc.toxics, tc.args...)
			t.Logf("%s: %d objects in %v, %d requests, %d retries", tc.name, sum.Objects, time.Since(start).Round(time.Millisecond), sum.Requests, sum.Retries)
		})
	}
}

// versionsBucket holds 400 keys with two versions each (the second
// public-read for one key in ten) and a delete marker on one key in
// twenty; kept between runs.
func versionsBucket(t *testing.T) string {
	t.Helper()
	env := locals3.ForTest(t)
	ctx := context.Background()
	const bucket = "it-faults-versions-400"
	a := env.Client(env.A)
	if err := locals3.CreateBucket(ctx, a, bucket); err != nil {
		t.Fatal(err)
	}
	if n, _ := locals3.CountObjects(ctx, a, bucket); n == 380 {
		return bucket
	}
	if err := locals3.EnableVersioning(ctx, a, bucket); err != nil {
		t.Fatal(err)
	}
	keys := locals3.Keys("v/", 400)
	if err := locals3.PutObjects(ctx, a, bucket, keys, nil); err != nil {
		t.Fatal(err)
	}
	var public, private, deleted []string
	for i, k := range keys {
		if i%10 == 0 {
			public = append(public, k)
		} else {
			private = append(private, k)
		}
		if i%20 == 5 {
			deleted = append(deleted, k)
		}
	}
	if err := locals3.PutObjects(ctx, a, bucket, public, locals3.PublicRead); err != nil {
		t.Fatal(err)
	}
	if err := locals3.PutObjects(ctx, a, bucket, private, nil); err != nil {
		t.Fatal(err)
	}
	for _, k := range deleted {
		if _, err := a.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: ptr(bucket), Key: ptr(k)}); err != nil {
			t.Fatal(err)
		}
	}
	return bucket
}

// Versions under faults: every version exactly once, small pages so that
// resets and cut answers land on version-listing pages too.
func TestIntegrationFaultsVersions(t *testing.T) {
	env := locals3.ForTest(t)
	bucket := versionsBucket(t)
	truth := scanTruth(t, "s3://"+bucket, "--all-versions")
	if len(truth) != 800 {
		t.Fatalf("fault-free scan: %d versions, want 800", len(truth))
	}
	srv := toxiproxyServer(t)
	upstream, err := url.Parse(env.HTTPURL)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		toxics func(t *testing.T, p *client.Proxy)
	}{
		{"connections reset every 150 ms", func(t *testing.T, p *client.Proxy) {
			flapping(t, p, 150*time.Millisecond, 30*time.Millisecond, "reset", "reset_peer", 0.5, client.Attributes{"timeout": 0})
		}},
		{"responses cut short", func(t *testing.T, p *client.Proxy) {
			mustToxic(t, p, "cut", "limit_data", 1, client.Attributes{"bytes": 40 << 10})
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sum := scanThroughToxics(t, srv, truth, bucket, fmt.Sprintf("versions-%d", i), upstream.Host, "http://", tc.toxics, "--all-versions", "--page-size", "50")
			if sum.DeleteMarkers != 20 {
				t.Errorf("%d delete markers counted, want 20", sum.DeleteMarkers)
			}
			t.Logf("%s: %d versions, %d delete markers, %d requests, %d retries", tc.name, sum.Objects, sum.DeleteMarkers, sum.Requests, sum.Retries)
		})
	}
}

func mustToxic(t *testing.T, p *client.Proxy, name, typ string, toxicity float32, attrs client.Attributes) {
	t.Helper()
	if _, err := p.AddToxic(name, typ, "downstream", toxicity, attrs); err != nil {
		t.Fatalf("add toxic %s: %v", typ, err)
	}
}

// The S3 server killed mid-scan (an extra radosgw gateway, so other tests
// keep theirs) and started again. A short outage is ridden out (the scan
// pauses while requests fail in a row, up to --outage-wait) and the scan
// completes; a longer one stops it with one line saying why and exit 1,
// and with --checkpoint running it again completes it. Never a "complete"
// scan that is not, never a key twice or lost.
func TestIntegrationFaultsServerRestart(t *testing.T) {
	env, bucket := faultBucket(t)
	truth := faultTruth(t, bucket)
	srv := toxiproxyServer(t)
	cases := []struct {
		name   string
		outage time.Duration // 0: down until the scan gives up
		args   []string
		// proxied puts a proxy in front, as a load balancer would be:
		// with the server down, connections are accepted, then closed.
		proxied bool
	}{
		{"short outage", 1500 * time.Millisecond, nil, false},
		{"long outage", 0, []string{"--max-attempts", "2", "--outage-wait", "1s"}, false},
		{"short outage behind a proxy", 1500 * time.Millisecond, nil, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			gw, err := locals3.StartGateway(ctx, env, fmt.Sprintf("fault%d", i))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(gw.Kill)
			// One request at a time directly, four behind the proxy's few
			// ms: slow enough to be hit in the middle.
			endpoint, concurrency := gw.URL, "1"
			if tc.proxied {
				gwURL, _ := url.Parse(gw.URL)
				p, err := srv.NewProxy(fmt.Sprintf("gw-%d", i), gwURL.Host)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = p.Delete() })
				mustToxic(t, p, "latency", "latency", 1, client.Attributes{"latency": 5})
				endpoint, concurrency = "http://"+p.Listen, "4"
			}
			dir := t.TempDir()
			reportPath, summaryPath := filepath.Join(dir, "r.jsonl"), filepath.Join(dir, "s.json")
			ckpt := filepath.Join(dir, "scan.ckpt")
			args := append([]string{"scan", "s3://" + bucket, "--endpoint-url", endpoint, "-c", concurrency,
				"-o", reportPath, "--summary-json", summaryPath, "--fail-on", "public",
				"--checkpoint", ckpt, "--checkpoint-interval", "100ms"}, tc.args...)
			type outcome struct {
				code   int
				stderr string
			}
			done := make(chan outcome, 1)
			go func() {
				code, _, stderr := runLocal(t, locals3.ForTest(t), args...)
				done <- outcome{code, stderr}
			}()
			time.Sleep(700 * time.Millisecond)
			gw.Kill()
			killed := time.Now()
			var first outcome
			if tc.outage > 0 {
				time.Sleep(tc.outage)
				if err := gw.Start(ctx); err != nil {
					t.Fatal(err)
				}
				first = <-done
			} else {
				first = <-done
				if err := gw.Start(ctx); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("first run ended %v after the kill: exit %d, %s", time.Since(killed).Round(time.Millisecond), first.code, strings.TrimSpace(first.stderr))
			switch first.code {
			case exitFindings:
				if tc.outage == 0 {
					t.Fatalf("the scan completed while its server was down: %q", first.stderr)
				}
			case exitIncomplete:
				if tc.outage > 0 {
					// Far shorter than --outage-wait (30 s): to be ridden out.
					t.Fatalf("a %v outage stopped the scan: %q", tc.outage, first.stderr)
				}
				if lines := strings.Split(strings.TrimSpace(first.stderr), "\n"); len(lines) != 1 || !strings.Contains(first.stderr, "run the same command again") {
					t.Fatalf("stderr %q: want one line with the way to continue", first.stderr)
				}
				if !isIncompleteSummary(t, summaryPath) {
					t.Fatal("incomplete scan's summary says complete")
				}
				code, _, stderr := runLocal(t, locals3.ForTest(t), args...)
				if code != exitFindings || !strings.Contains(stderr, "resuming from") {
					t.Fatalf("resumed scan: exit %d, stderr %q", code, stderr)
				}
			default:
				t.Fatalf("exit %d, stderr %q; want %d or %d", first.code, first.stderr, exitFindings, exitIncomplete)
			}
			checkReport(t, truth, reportPath, summaryPath)
			if _, err := os.Stat(ckpt); !os.IsNotExist(err) {
				t.Errorf("checkpoint left after a complete scan: %v", err)
			}
		})
	}
}

func isIncompleteSummary(t *testing.T, path string) bool {
	var sum report.SummaryRecord
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &sum) != nil {
		t.Fatalf("summary of the interrupted scan: %v %s", err, b)
	}
	return !sum.Complete
}
