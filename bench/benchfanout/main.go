// Command benchfanout measures what one child of a fan-out does: the
// aclscan Lambda zip under the Runtime Interface Emulator, held to a
// Lambda size's CPU share and memory by cgroups, driven as Step
// Functions (Distributed Map batches from a listing, from an inventory)
// and S3 Batch Operations (one task per invocation) would, against the
// local S3 behind a latency like S3's. docs/scale-out.md projects a
// billion objects from these figures.
//
//	make bench-fanout   (go run ./bench/benchfanout -runs 3)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/bench/internal/engines"
	"github.com/aclscan/aclscan/bench/internal/lambdasize"
	"github.com/aclscan/aclscan/bench/internal/stats"
	"github.com/aclscan/aclscan/internal/faultproxy"
	"github.com/aclscan/aclscan/internal/invgen"
	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/inventory/aclfield"
)

const (
	bucket  = "fanout"
	reports = "fanout-reports"
	invDest = "fanout-inventory"
)

type options struct {
	memory, objects, runs, tasks int
	latency                      time.Duration
	out                          string
}

func main() {
	var o options
	flag.IntVar(&o.memory, "memory", 1024, "Lambda memory size (MB) each emulated function is held to")
	flag.IntVar(&o.objects, "objects", 20000, "objects in the bucket (listing and inventory runs)")
	flag.IntVar(&o.tasks, "tasks", 2000, "Batch Operations tasks")
	flag.IntVar(&o.runs, "runs", 3, "runs of each measurement (medians reported)")
	flag.DurationVar(&o.latency, "latency", 17*time.Millisecond, "latency added to each S3 request (~18 ms round trips, as from Lambda to S3)")
	flag.StringVar(&o.out, "o", "docs/benchmarks/fanout.md", "where the report goes")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		log.Fatalf("benchfanout: %v", err)
	}
}

// figures are one run's measurements.
type figures struct {
	listingChild   float64 // objects/s of one child on a 1,000-item listing batch
	listingBatchMS float64
	inventoryChild float64 // rows/s of one child on a ≤256 KiB inventory batch
	inventoryRows  float64 // rows per batch
	tasksPerSecond float64 // Batch Operations tasks/s of one function
	taskMS         float64
}

func run(ctx context.Context, o options) error {
	env, err := locals3.Start(ctx)
	if err != nil {
		return err
	}
	repo, err := locals3.RepoRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "benchfanout")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bootstrap, rie, err := engines.Build(ctx, repo, tmp, filepath.Join(repo, "bin", "tools"))
	if err != nil {
		return err
	}
	a := env.Client(env.A)
	public := func(k string) bool { return strings.HasSuffix(k, "7") }
	for _, b := range []string{reports, invDest} {
		if err := locals3.CreateBucket(ctx, a, b); err != nil {
			return err
		}
	}
	if err := engines.Seed(ctx, a, bucket, o.objects, public); err != nil {
		return err
	}
	manifest, err := writeInventory(ctx, env, o.objects, public)
	if err != nil {
		return err
	}
	proxy, err := faultproxy.Start(env.HTTPURL, faultproxy.Options{Latency: o.latency})
	if err != nil {
		return err
	}
	defer proxy.Close()

	lim, err := lambdasize.New("fanout", o.memory)
	if err != nil {
		return err
	}
	defer lim.Remove()
	wrap, err := lim.Wrapper(tmp)
	if err != nil {
		return err
	}
	em := engines.NewEmulator(rie, bootstrap, []string{
		"AWS_ENDPOINT_URL_S3=" + proxy.URL, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + env.A.AccessKey, "AWS_SECRET_ACCESS_KEY=" + env.A.SecretKey,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"ALLOWED_BUCKETS=" + bucket, "REPORT_BUCKET=" + reports,
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", o.memory), "AWS_LAMBDA_FUNCTION_TIMEOUT=300",
	})
	em.Wrap = wrap
	if err := em.Start(); err != nil {
		return err
	}
	defer em.Kill()

	listing, err := engines.ListingItems(ctx, a, bucket, "")
	if err != nil {
		return err
	}
	rows, err := engines.InventoryItems(ctx, a, invDest, manifest)
	if err != nil {
		return err
	}
	var all []figures
	for r := 0; r < o.runs; r++ {
		f, err := measure(ctx, o, em, listing, rows)
		if err != nil {
			return err
		}
		log.Printf("run %d: listing child %.0f objects/s (%.0f ms per 1,000), inventory child %.0f rows/s, Batch Operations %.0f tasks/s",
			r+1, f.listingChild, f.listingBatchMS, f.inventoryChild, f.tasksPerSecond)
		all = append(all, f)
	}
	return write(o, all)
}

// measure runs each kind of work once on one warm function (one child at
// a time: what one of the engine's children does).
func measure(ctx context.Context, o options, em *engines.Emulator, listing, rows []json.RawMessage) (figures, error) {
	var f figures
	stamp := time.Now().UnixNano()
	one := []*engines.Emulator{em}
	// Warm the environment (the cold start is measured by make bench-lambda).
	if _, err := em.Invoke(ctx, []byte(`{"bucket": "`+bucket+`", "prefix": "obj/00000"}`)); err != nil {
		return f, fmt.Errorf("warm-up: %w", err)
	}
	batches := engines.Batches(listing, 1000, 262144)
	m := &engines.MapRun{Emulators: one, BatchInput: map[string]any{"bucket": bucket, "run_id": fmt.Sprintf("bench-listing-%d", stamp)}}
	children, err := m.Run(ctx, batches[:min(len(batches), 10)])
	if err != nil {
		return f, err
	}
	f.listingChild, f.listingBatchMS = rate(children)
	batches = engines.Batches(rows, 5000, 262144)
	m = &engines.MapRun{Emulators: one, BatchInput: map[string]any{"run_id": fmt.Sprintf("bench-inventory-%d", stamp)}}
	children, err = m.Run(ctx, batches)
	if err != nil {
		return f, err
	}
	f.inventoryChild, _ = rate(children)
	f.inventoryRows = float64(len(rows)) / float64(len(batches))
	tasks := make([]engines.Task, 0, o.tasks)
	for _, k := range locals3.Keys("obj/", min(o.tasks, o.objects)) {
		tasks = append(tasks, engines.Task{Bucket: bucket, Key: k})
	}
	job := &engines.BatchOperationsJob{Emulators: one, SchemaVersion: "2.0", MaxRedrives: 3}
	start := time.Now()
	results, err := job.Run(ctx, tasks)
	if err != nil {
		return f, err
	}
	for _, r := range results {
		if r.Code != "Succeeded" {
			return f, fmt.Errorf("task %s: %s %s", r.Key, r.Code, r.Message)
		}
	}
	took := time.Since(start)
	f.tasksPerSecond = float64(len(tasks)) / took.Seconds()
	f.taskMS = float64(took.Milliseconds()) / float64(len(tasks))
	return f, nil
}

// rate is the median items per second of the successful children, and
// their median duration (ms).
func rate(children []engines.Child) (perSecond, ms float64) {
	var rates, durations []float64
	for _, c := range children {
		if c.Status != "SUCCEEDED" {
			continue
		}
		var in struct {
			Items []json.RawMessage `json:"Items"`
		}
		_ = json.Unmarshal([]byte(c.Input), &in)
		rates = append(rates, float64(len(in.Items))/c.Duration.Seconds())
		durations = append(durations, float64(c.Duration.Microseconds())/1000)
	}
	return stats.Median(rates), stats.Median(durations)
}

// writeInventory writes a CSV inventory report of the bucket's keys
// (synthetic ACLs matching the seed) and returns its manifest key.
func writeInventory(ctx context.Context, env locals3.Env, n int, public func(string) bool) (string, error) {
	private := []acl.Grant{{Type: "CanonicalUser", ID: env.A.ID, Permission: "FULL_CONTROL"}}
	open := append(slices.Clone(private), acl.Grant{Type: "Group", URI: acl.AllUsersURI, Permission: "READ"})
	objects := make([]invgen.Object, 0, n)
	for _, k := range locals3.Keys("obj/", n) {
		g := private
		if public(k) {
			g = open
		}
		objects = append(objects, invgen.Object{Key: k, Size: 1, LastModified: time.Now(), ETag: "e", StorageClass: "STANDARD", Owner: env.A.ID, ACL: aclfield.Encode(g, false)})
	}
	rep := invgen.Report{SourceBucket: bucket, DestinationBucket: invDest, Prefix: "reports", ConfigID: "all", Format: "CSV", Created: time.Now().UTC()}
	return rep.ManifestKey(), rep.Write(objects, invgen.PutTo(ctx, env, invDest))
}

func write(o options, all []figures) error {
	pick := func(get func(figures) float64) float64 {
		xs := make([]float64, len(all))
		for i, f := range all {
			xs[i] = get(f)
		}
		return stats.Median(xs)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# One child of a fan-out, measured\n\n")
	fmt.Fprintf(&b, "`make bench-fanout` (`go run ./bench/benchfanout -runs %d -memory %d`), %s, on this 2-core machine: the\n", o.runs, o.memory, time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "aclscan Lambda zip under the Runtime Interface Emulator, its process held by cgroups to the CPU share\n")
	fmt.Fprintf(&b, "of %d MB (%.2f vCPU) and its memory, warm, against the local radosgw behind %s of added\n", o.memory, float64(o.memory)/lambdasize.CPUPerMB, o.latency)
	fmt.Fprintf(&b, "latency per request (S3's round trip from Lambda is ~18 ms). Driven as the engines would\n")
	fmt.Fprintf(&b, "(bench/internal/engines): one child at a time, the figures are per child. Medians of %d runs.\n\n", o.runs)
	fmt.Fprintf(&b, "| work | per child | |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| Distributed Map batch from a listing (1,000 keys, a GetObjectAcl each, 64 in flight) | %.0f objects/s | %.0f ms per batch |\n", pick(func(f figures) float64 { return f.listingChild }), pick(func(f figures) float64 { return f.listingBatchMS }))
	fmt.Fprintf(&b, "| Distributed Map batch from an inventory (≤256 KiB: %.0f rows, no request per row) | %.0f rows/s | |\n", pick(func(f figures) float64 { return f.inventoryRows }), pick(func(f figures) float64 { return f.inventoryChild }))
	fmt.Fprintf(&b, "| S3 Batch Operations, one task per invocation | %.0f tasks/s | %.1f ms per task |\n\n", pick(func(f figures) float64 { return f.tasksPerSecond }), pick(func(f figures) float64 { return f.taskMS }))
	fmt.Fprintf(&b, "Every run:\n\n| run | listing objects/s | ms per 1,000 | inventory rows/s | tasks/s |\n|---|---|---|---|---|\n")
	for i, f := range all {
		fmt.Fprintf(&b, "| %d | %.0f | %.0f | %.0f | %.0f |\n", i+1, f.listingChild, f.listingBatchMS, f.inventoryChild, f.tasksPerSecond)
	}
	fmt.Fprintf(&b, "\nA batch's time includes writing its records and report to S3 (two PUTs) and, for the first batch of a\n")
	fmt.Fprintf(&b, "bucket in an environment, reading the bucket's settings (4 requests, then cached for 5 minutes).\n")
	fmt.Fprintf(&b, "The emulator adds its own per-invocation overhead (an HTTP hop and its bookkeeping) that Lambda\n")
	fmt.Fprintf(&b, "has in another form; the Batch Operations figure is mostly that overhead plus one request.\n")
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(o.out, []byte(b.String()), 0o644)
}
