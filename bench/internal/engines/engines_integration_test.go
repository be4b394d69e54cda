//go:build integration

package engines

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/batch"
	"github.com/aclscan/aclscan/internal/faultproxy"
	"github.com/aclscan/aclscan/internal/invgen"
	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/inventory/aclfield"
	"github.com/aclscan/aclscan/scan"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	fanoutBucket  = "fanout"
	fanoutObjects = 20000
	reportsBucket = "fanout-reports"
	emulators     = 4
)

// isPublic marks the objects the seed makes public-read: one in ten.
func isPublic(key string) bool { return strings.HasSuffix(key, "7") }

// setUp builds the function's zip and the emulator, seeds the bucket and
// starts the emulators behind a proxy that throttles beyond rate
// requests a second. It returns the
// emulators, user A's client and the local S3.
func setUp(t *testing.T, rate float64, extraEnv ...string) ([]*Emulator, *s3.Client, locals3.Env) {
	t.Helper()
	env, _, bootstrap, rie := buildFunction(t)
	ctx := context.Background()
	a := env.Client(env.A)
	if err := locals3.CreateBucket(ctx, a, reportsBucket); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := Seed(ctx, a, fanoutBucket, fanoutObjects, isPublic); err != nil {
		t.Fatal(err)
	}
	t.Logf("bucket of %d objects ready in %s", fanoutObjects, time.Since(start).Round(time.Millisecond))
	// S3 answers SlowDown beyond rate requests a second.
	proxy, err := faultproxy.Start(env.HTTPURL, faultproxy.Options{Rate: rate, Burst: max(1, int(rate/30))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	fnEnv := []string{
		"AWS_ENDPOINT_URL_S3=" + proxy.URL, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + env.A.AccessKey, "AWS_SECRET_ACCESS_KEY=" + env.A.SecretKey,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"ALLOWED_BUCKETS=" + fanoutBucket, "REPORT_BUCKET=" + reportsBucket, "RECORDS=all",
		"CONCURRENCY=16", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024", "AWS_LAMBDA_FUNCTION_TIMEOUT=120",
	}
	fnEnv = append(fnEnv, extraEnv...)
	ems := make([]*Emulator, emulators)
	for i := range ems {
		ems[i] = NewEmulator(rie, bootstrap, fnEnv)
		if err := ems[i].Start(); err != nil {
			t.Fatal(err)
		}
		em := ems[i]
		t.Cleanup(em.Kill)
	}
	return ems, a, env
}

// buildFunction builds the function and the emulator for a test against
// the local S3; it returns the repository's root too.
func buildFunction(t *testing.T) (env locals3.Env, repo, bootstrap, rie string) {
	t.Helper()
	env = locals3.ForTest(t)
	repo, err := locals3.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bootstrap, rie, err = Build(context.Background(), repo, t.TempDir(), filepath.Join(repo, "bin", "tools"))
	if err != nil {
		t.Fatal(err)
	}
	return env, repo, bootstrap, rie
}

// mergeRun merges a run's folder and checks every key of the bucket is
// in it exactly once, and the public ones are found public.
func mergeRun(t *testing.T, a *s3.Client, run string) *batch.Merged {
	t.Helper()
	store := batch.NewS3Store(a, reportsBucket, "aclscan/"+run+"/")
	seen := make(map[string]int, fanoutObjects)
	var mu sync.Mutex
	public := 0
	m, err := batch.Merge(context.Background(), store, scan.SinkFunc(func(r *scan.Result) error {
		mu.Lock()
		defer mu.Unlock()
		seen[r.Key]++
		if r.Effective.Has(acl.Public) != isPublic(r.Key) {
			t.Errorf("%s: effective %v", r.Key, r.Effective.Names())
		}
		if r.Effective.Has(acl.Public) {
			public++
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range locals3.Keys("obj/", fanoutObjects) {
		if seen[k] != 1 {
			t.Errorf("key %s is in the merged report %d times", k, seen[k])
		}
	}
	if len(seen) != fanoutObjects || m.Total.Objects != fanoutObjects || public != fanoutObjects/10 || len(m.Missing) > 0 || len(m.Incomplete) > 0 || !m.Total.Complete {
		t.Errorf("merged: %d keys, %d objects, %d public, missing %v, incomplete %v, complete %v",
			len(seen), m.Total.Objects, public, m.Missing, m.Incomplete, m.Total.Complete)
	}
	return m
}

// A Distributed Map over the bucket's listing, batched as the listing
// definition's ItemBatcher does, retried as its Retry says, on 4
// emulators, one of them killed mid-run, S3 throttling: every key once.
func TestDistributedMapOverListing(t *testing.T) {
	// 4 functions of 16 requests in flight ask for more than 1,500 a second.
	ems, a, _ := setUp(t, 1500)
	ctx := context.Background()
	repo, _ := locals3.RepoRoot()
	retry, err := LoadRetry(filepath.Join(repo, "deploy", "statemachines", "listing.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	items, err := ListingItems(ctx, a, fanoutBucket, "")
	if err != nil {
		t.Fatal(err)
	}
	run := fmt.Sprintf("listing-%d", time.Now().UnixNano())
	batches := Batches(items, 500, 262144)
	var killOnce sync.Once
	m := &MapRun{
		Emulators:  ems,
		BatchInput: map[string]any{"bucket": fanoutBucket, "run_id": run, "report_bucket": reportsBucket, "report_prefix": "aclscan"},
		Retry:      retry, TimeScale: 0.01,
		Interrupt: func(done int) {
			if done == 5 {
				// A crash of an environment while it works on a batch.
				killOnce.Do(func() { go func() { time.Sleep(100 * time.Millisecond); ems[2].Kill() }() })
			}
		},
	}
	start := time.Now()
	children, err := m.Run(ctx, batches)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	retried := 0
	for i, c := range children {
		if c.Status != "SUCCEEDED" {
			t.Errorf("batch %d failed after %d attempts: %s %s", i, c.Attempts, c.Error, c.Cause)
		}
		if c.Attempts > 1 {
			retried++
		}
	}
	if retried == 0 {
		t.Error("no batch was retried: the killed environment went unnoticed")
	}
	t.Logf("%d items in %d batches on %d emulators: %s (%d batches retried)", len(items), len(batches), len(ems), elapsed.Round(time.Millisecond), retried)
	if err := WriteResults(ctx, a, reportsBucket, "aclscan/"+run+"/results", "maprun-1", children); err != nil {
		t.Fatal(err)
	}
	mergeRun(t, a, run)
}

// A Distributed Map over a CSV inventory report of the bucket (rows as
// the MANIFEST reader gives them, keys URL-encoded): no request per
// item, every key once.
func TestDistributedMapOverInventory(t *testing.T) {
	ems, a, env := setUp(t, 1500)
	ctx := context.Background()
	const dest = "fanout-inventory"
	if err := locals3.CreateBucket(ctx, a, dest); err != nil {
		t.Fatal(err)
	}
	objects := make([]invgen.Object, 0, fanoutObjects)
	private := []acl.Grant{{Type: "CanonicalUser", ID: env.A.ID, Permission: "FULL_CONTROL"}}
	public := append(private, acl.Grant{Type: "Group", URI: acl.AllUsersURI, Permission: "READ"})
	for _, k := range locals3.Keys("obj/", fanoutObjects) {
		grants := private
		if isPublic(k) {
			grants = public
		}
		objects = append(objects, invgen.Object{Key: k, Size: 1, LastModified: time.Now(), ETag: "e", StorageClass: "STANDARD", Owner: env.A.ID, ACL: aclfield.Encode(grants, false)})
	}
	rep := invgen.Report{SourceBucket: fanoutBucket, DestinationBucket: dest, Prefix: "reports", ConfigID: "all", Format: "CSV", Created: time.Now().UTC(), FileRows: 6000}
	if err := rep.Write(objects, invgen.PutTo(ctx, env, dest)); err != nil {
		t.Fatal(err)
	}
	items, err := InventoryItems(ctx, a, dest, rep.ManifestKey())
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := locals3.RepoRoot()
	retry, err := LoadRetry(filepath.Join(repo, "deploy", "statemachines", "inventory.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	run := fmt.Sprintf("inventory-%d", time.Now().UnixNano())
	batches := Batches(items, 5000, 262144)
	m := &MapRun{Emulators: ems, BatchInput: map[string]any{"run_id": run, "report_bucket": reportsBucket, "report_prefix": "aclscan"}, Retry: retry, TimeScale: 0.01}
	start := time.Now()
	children, err := m.Run(ctx, batches)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range children {
		if c.Status != "SUCCEEDED" {
			t.Errorf("batch %d failed: %s %s", i, c.Error, c.Cause)
		}
		var out struct {
			Kind string `json:"kind"`
		}
		if json.Unmarshal([]byte(c.Output), &out); c.Status == "SUCCEEDED" && out.Kind != "inventory" {
			t.Errorf("batch %d judged as %q items", i, out.Kind)
		}
	}
	t.Logf("%d inventory rows in %d batches (≤256 KiB each) on %d emulators: %s", len(items), len(batches), len(ems), time.Since(start).Round(time.Millisecond))
	// The definition's ResultWriter: without it the run is not whole.
	if err := WriteResults(ctx, a, reportsBucket, "aclscan/"+run+"/results", "maprun-1", children); err != nil {
		t.Fatal(err)
	}
	mergeRun(t, a, run)
}

// S3 Batch Operations, task by task (schema 2.0): every task ends
// Succeeded with its object's record (a missing key included); under
// heavy throttling the temporary failures are redriven until they pass.
func TestBatchOperationsTaskByTask(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rate     float64
		tasks    int
		env      []string
		redrives bool
	}{
		{"2,000 tasks", 1500, 2000, nil, false},
		// One attempt per request, so a request still throttled after its
		// own small budget of throttled retries (s3access) is the task's
		// temporary failure; S3 allows a fraction of what 4 emulators ask.
		// 40 tasks are redriven as 120 were (about half of them), in a
		// third of the time: the throttled wait is what this case costs.
		{"40 tasks, S3 throttling at 8 requests/s", 8, 40, []string{"MAX_ATTEMPTS=1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ems, _, _ := setUp(t, tc.rate, tc.env...)
			keys := locals3.Keys("obj/", tc.tasks)
			tasks := make([]Task, 0, len(keys)+1)
			for _, k := range keys {
				tasks = append(tasks, Task{Bucket: fanoutBucket, Key: k})
			}
			tasks = append(tasks, Task{Bucket: fanoutBucket, Key: "no such/key+1"})
			job := &BatchOperationsJob{Emulators: ems, SchemaVersion: "2.0", MaxRedrives: 30}
			start := time.Now()
			results, err := job.Run(context.Background(), tasks)
			if err != nil {
				t.Fatal(err)
			}
			redriven := checkTaskResults(t, results)
			t.Logf("%d tasks on %d emulators in %s, %d redriven", len(tasks), len(ems), time.Since(start).Round(time.Millisecond), redriven)
			if tc.redrives && redriven == 0 {
				t.Error("no task was redriven under throttling: TemporaryFailure is not being returned")
			}
			if os.Getenv("ACLSCAN_ENGINES_VERBOSE") != "" {
				t.Log(ems[0].Log())
			}
		})
	}
}

// checkTaskResults checks each task's final result and counts the
// redriven ones.
func checkTaskResults(t *testing.T, results []TaskResult) (redriven int) {
	t.Helper()
	for _, r := range results {
		if r.Invocations > 1 {
			redriven++
		}
		if r.Code != "Succeeded" {
			t.Errorf("%s: %s %s after %d invocations", r.Key, r.Code, r.Message, r.Invocations)
			continue
		}
		var rec struct {
			Status    string   `json:"status"`
			Effective []string `json:"effective"`
		}
		if err := json.Unmarshal([]byte(r.Message), &rec); err != nil {
			t.Errorf("%s: resultString %q: %v", r.Key, r.Message, err)
			continue
		}
		wantStatus := "ok"
		if strings.HasPrefix(r.Key, "no such") {
			wantStatus = "missing"
		}
		if rec.Status != wantStatus || (len(rec.Effective) == 1 && rec.Effective[0] == "public") != isPublic(r.Key) {
			t.Errorf("%s: record %s", r.Key, r.Message)
		}
	}
	return redriven
}

// An async scan under the emulator: the first invocation answers with the
// scan's id (the emulator holds the answer until the runtime asks for
// its next event, so here it comes when the first part is done; the
// Runtime API test double in cmd/aclscan-lambda shows the answer posted
// at once), then the function continues itself through Lambda's async
// Invoke (a stand-in) every time its 5-second timeout nears, one
// continuation killed mid-part and retried as Lambda retries async
// events: every key once.
func TestAsyncScanUnderTheEmulator(t *testing.T) {
	service, err := StartLambdaService()
	if err != nil {
		t.Fatal(err)
	}
	defer service.Close()
	ems, a, _ := setUp(t, 1500, "AWS_ENDPOINT_URL_LAMBDA="+service.URL, "AWS_LAMBDA_FUNCTION_NAME=aclscan",
		"BUCKET_NAME="+fanoutBucket, "AWS_LAMBDA_FUNCTION_TIMEOUT=5")
	var killOnce sync.Once
	service.Run(ems[1], func(n int, em *Emulator) {
		if n == 2 {
			killOnce.Do(func() { time.Sleep(time.Second); em.Kill() })
		}
	})
	start := time.Now()
	out, err := ems[0].Invoke(context.Background(), []byte(`{"async": true}`))
	if err != nil {
		t.Fatal(err)
	}
	answered := time.Since(start)
	var resp struct {
		ScanID string `json:"scan_id"`
		Report string `json:"report"`
	}
	if err := json.Unmarshal(out, &resp); err != nil || resp.ScanID == "" || !strings.HasPrefix(resp.Report, "s3://"+reportsBucket+"/aclscan/") {
		t.Fatalf("answer %s (%v)", out, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := service.Wait(ctx); err != nil {
		t.Fatalf("the continuations did not end: %v", err)
	}
	invs := service.Invocations()
	retried := 0
	for _, inv := range invs {
		if inv.Attempts > 1 {
			retried++
		}
		if inv.Err != nil {
			t.Errorf("continuation %s failed: %v", inv.Event, inv.Err)
		}
	}
	t.Logf("answered after %s (the emulator holds the answer until the part ends); %d continuations, %d retried; whole scan %s",
		answered.Round(time.Millisecond), len(invs), retried, time.Since(start).Round(time.Millisecond))
	if len(invs) < 2 || retried == 0 {
		t.Errorf("%d continuations, %d retried: want several, one retried after the kill", len(invs), retried)
	}
	store := batch.NewS3Store(a, reportsBucket, "aclscan/"+resp.ScanID+"/")
	st, err := batch.LoadScanState(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Done || st.Error != "" || st.Summary == nil || !st.Summary.Complete {
		t.Errorf("scan state: done %v, error %q, summary %+v", st.Done, st.Error, st.Summary)
	}
	mergeRun(t, a, resp.ScanID)
}
