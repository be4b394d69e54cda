//go:build integration

// Integration tests: the function's event kinds against the local S3
// (radosgw), driven through a test double of the Lambda Runtime API.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/batch"
	"github.com/aclscan/aclscan/internal/faultproxy"
	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/inventory/aclfield"
	"github.com/aclscan/aclscan/scan"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const reportBucket = "lambda-reports"

func TestMain(m *testing.M) {
	locals3.Isolate()
	os.Exit(m.Run())
}

// newTestHandler is the function's handler as Lambda would build it,
// with env on top of the local S3's endpoint and user A's keys.
func newTestHandler(t *testing.T, env locals3.Env, endpoint string, vars map[string]string) *handler {
	t.Helper()
	base := map[string]string{
		"AWS_ENDPOINT_URL_S3": endpoint, "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": env.A.AccessKey, "AWS_SECRET_ACCESS_KEY": env.A.SecretKey,
		"REPORT_BUCKET": reportBucket, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
	}
	for k, v := range vars {
		base[k] = v
	}
	for k, v := range base {
		t.Setenv(k, v)
	}
	h, err := newHandler(context.Background(), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func seedDemo(t *testing.T, env locals3.Env) {
	t.Helper()
	ctx := context.Background()
	if err := locals3.SeedDemo(ctx, env); err != nil {
		t.Fatal(err)
	}
	if err := locals3.CreateBucket(ctx, env.Client(env.A), reportBucket); err != nil {
		t.Fatal(err)
	}
}

func invoke(t *testing.T, h *handler, event any) (any, error) {
	t.Helper()
	return invokeWithin(t, h, event, time.Minute)
}

// invokeWithin invokes as the runtime loop does: within the
// invocation's deadline, timeout from now.
func invokeWithin(t *testing.T, h *handler, event any, timeout time.Duration) (any, error) {
	t.Helper()
	b, raw := event.(json.RawMessage) // delivered as is, byte for byte
	if !raw {
		b, _ = json.Marshal(event)
	}
	inv := &invocation{id: "req-1", deadline: time.Now().Add(timeout), event: b}
	ctx, cancel := context.WithDeadline(context.Background(), inv.deadline)
	defer cancel()
	out, err := h.dispatch(ctx, inv)
	return out.response, err
}

// A Distributed Map batch from the listing reader costs a request per
// item; one from the inventory reader none. Each writes its records and
// report to the run's folder, a retry overwriting the first attempt, and
// answers compactly.
func TestDistributedMapBatches(t *testing.T) {
	env := locals3.ForTest(t)
	seedDemo(t, env)
	h := newTestHandler(t, env, env.HTTPURL, map[string]string{"ALLOWED_BUCKETS": "demo*", "RECORDS": "all"})
	run := fmt.Sprintf("run-%d", time.Now().UnixNano())
	listed := map[string]any{
		"BatchInput": map[string]string{"bucket": locals3.DemoBucket, "run_id": run},
		"Items": []map[string]any{
			{"Key": "shared/public-report.pdf", "Etag": "\"x\"", "Size": 1, "LastModified": 1668699881, "StorageClass": "STANDARD"},
			{"Key": "experiment/object-000000", "Etag": "\"x\"", "Size": 1, "LastModified": 1668699881, "StorageClass": "STANDARD"},
			{"Key": "no/such/key", "Etag": "\"x\"", "Size": 1, "LastModified": 1668699881, "StorageClass": "STANDARD"},
		},
	}
	for attempt := 0; attempt < 2; attempt++ { // the second is Step Functions' retry
		out, err := invoke(t, h, listed)
		if err != nil {
			t.Fatal(err)
		}
		resp := out.(*mapResponse)
		if resp.Kind != "listing" || resp.Objects != 3 || resp.ByStatus["missing"] != 1 || resp.ByEffective["public"] != 1 || resp.Risky != 2 ||
			!strings.HasPrefix(resp.Records, "s3://"+reportBucket+"/aclscan/"+run+"/batches/") {
			t.Errorf("listing batch answered %+v", resp)
		}
		if b, _ := json.Marshal(resp); len(b) > 1024 {
			t.Errorf("the answer is %d bytes; Step Functions states hold 256 KiB, a batch's answer should stay small", len(b))
		}
	}
	// The bucket policy opens the website's objects: the same judge runs
	// in the function, whatever the event kind.
	website := map[string]any{
		"BatchInput": map[string]string{"bucket": locals3.DemoWebsiteBucket, "run_id": run + "-web"},
		"Items": []map[string]any{
			{"Key": locals3.DemoWebsitePublic[0], "Etag": "\"x\"", "Size": 1, "LastModified": 1668699881, "StorageClass": "STANDARD"},
			{"Key": "drafts/launch-plan.txt", "Etag": "\"x\"", "Size": 1, "LastModified": 1668699881, "StorageClass": "STANDARD"},
		},
	}
	if out, err := invoke(t, h, website); err != nil {
		t.Fatal(err)
	} else if resp := out.(*mapResponse); resp.Objects != 2 || resp.ByEffective["public"] != 1 || resp.Risky != 1 {
		t.Errorf("a batch of the website bucket answered %+v; want the policy's public object found", resp)
	}
	inv := map[string]any{
		"BatchInput": map[string]string{"run_id": run},
		"Items": []map[string]string{
			{"Bucket": locals3.DemoBucket, "Key": "shared/public-report.pdf", "ObjectOwner": env.A.ID, "ObjectAccessControlList": publicField(env.A.ID)},
		},
	}
	before := h.client.Requests()
	out, err := invoke(t, h, inv)
	if err != nil {
		t.Fatal(err)
	}
	// Two requests: the records and the report written; none per item,
	// none for the bucket's context (cached since the first batch).
	if resp := out.(*mapResponse); resp.Kind != "inventory" || resp.ByEffective["public"] != 1 || h.client.Requests()-before != 2 {
		t.Errorf("inventory batch answered %+v with %d requests (want 2: the records and the report)", resp, h.client.Requests()-before)
	}

	// The run's folder merges to 4 objects: the retried batch counts once.
	store := batch.NewS3Store(h.client.SDK(), reportBucket, "aclscan/"+run+"/")
	var keys []string
	m, err := batch.Merge(context.Background(), store, scan.SinkFunc(func(r *scan.Result) error { keys = append(keys, r.Key); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	// No Step Functions here, so no ResultWriter manifest: merged, and
	// not called whole.
	if m.Batches != 2 || m.Total.Objects != 4 || len(keys) != 4 || m.Total.Complete || len(m.Missing) != 1 || !strings.Contains(m.Missing[0], "no ResultWriter manifest") {
		t.Errorf("merged %d batches, %d objects, records %v, complete %v, missing %v", m.Batches, m.Total.Objects, keys, m.Total.Complete, m.Missing)
	}

	for name, tc := range map[string]struct {
		event   any
		errType string
	}{
		"other bucket": {map[string]any{"BatchInput": map[string]string{"bucket": "secrets", "run_id": "r"}, "Items": []map[string]string{{"Key": "k"}}}, "aclscan.BucketNotAllowed"},
		"no run id":    {map[string]any{"BatchInput": map[string]string{"bucket": "demo"}, "Items": []map[string]string{{"Key": "k"}}}, "aclscan.BadEvent"},
		"other report bucket": {map[string]any{"BatchInput": map[string]string{"bucket": "demo", "run_id": "r", "report_bucket": "elsewhere"}, "Items": []map[string]string{{"Key": "k"}}},
			"aclscan.BadEvent"},
	} {
		_, err := invoke(t, h, tc.event)
		te, ok := err.(typedError)
		if !ok || te.ErrorType() != tc.errType {
			t.Errorf("%s: err %v, want type %s", name, err, tc.errType)
		}
	}
}

func publicField(owner string) string {
	return aclfield.Encode([]acl.Grant{
		{Type: "CanonicalUser", ID: owner, Permission: "FULL_CONTROL"},
		{Type: "Group", URI: acl.AllUsersURI, Permission: "READ"},
	}, false)
}

// S3 Batch Operations: one result per task, Succeeded with the record
// for a judged object (missing included), PermanentFailure for a bucket
// outside the allow-list, TemporaryFailure when S3 throttles (so the job
// redrives it).
func TestBatchOperations(t *testing.T) {
	env := locals3.ForTest(t)
	seedDemo(t, env)
	h := newTestHandler(t, env, env.HTTPURL, map[string]string{"BUCKET_NAME": locals3.DemoBucket})
	event := func(version string, tasks ...map[string]string) map[string]any {
		return map[string]any{"invocationSchemaVersion": version, "invocationId": "inv-1", "job": map[string]string{"id": "job-1"}, "tasks": tasks}
	}
	out, err := invoke(t, h, event("1.0",
		map[string]string{"taskId": "t1", "s3Key": "shared%2Fpublic-report.pdf", "s3VersionId": "", "s3BucketArn": "arn:aws:s3:::demo"},
		map[string]string{"taskId": "t2", "s3Key": "no%20such+key", "s3BucketArn": "arn:aws:s3:us-east-1:0123456788:demo"},
		map[string]string{"taskId": "t3", "s3Key": "k", "s3BucketArn": "arn:aws:s3:::secrets"},
	))
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(*events.S3BatchJobResponse)
	if resp.InvocationID != "inv-1" || resp.InvocationSchemaVersion != "1.0" || resp.TreatMissingKeysAs != "TemporaryFailure" || len(resp.Results) != 3 {
		t.Fatalf("response %+v", resp)
	}
	r := resp.Results
	if r[0].TaskID != "t1" || r[0].ResultCode != "Succeeded" || !strings.Contains(r[0].ResultString, `"effective":["public"]`) {
		t.Errorf("t1: %+v", r[0])
	}
	if r[1].ResultCode != "Succeeded" || !strings.Contains(r[1].ResultString, `"status":"missing"`) {
		t.Errorf("t2: %+v", r[1])
	}
	if r[2].ResultCode != "PermanentFailure" || !strings.Contains(r[2].ResultString, "not one this function audits") {
		t.Errorf("t3: %+v", r[2])
	}

	// Behind a proxy that throttles everything after its first request
	// (the next token comes in 1,000 s): whether the client gives up or
	// the invocation's 20 s run out first, the task is a temporary
	// failure, to be redriven.
	proxy, err := faultproxy.Start(env.HTTPURL, faultproxy.Options{Rate: 0.001, Burst: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	throttled := newTestHandler(t, env, proxy.URL, map[string]string{"BUCKET_NAME": locals3.DemoBucket, "MAX_ATTEMPTS": "1"})
	out, err = invokeWithin(t, throttled, event("2.0", map[string]string{"taskId": "t9", "s3Key": "shared/public-report.pdf", "s3Bucket": "demo"}), 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.(*events.S3BatchJobResponse).Results; len(r) != 1 || r[0].ResultCode != "TemporaryFailure" {
		t.Errorf("throttled task: %+v", r)
	}
}

// runtimeDouble is a test double of the Lambda Runtime API and of
// Lambda's async invoke: it hands out queued events, records when each
// response was posted and when the runtime asked for the next event
// (the invocation's work is over then).
type runtimeDouble struct {
	deadline time.Duration
	queue    chan []byte
	mu       sync.Mutex
	given    []time.Time // when each event was handed out
	answered []time.Time // when each response (or error) was posted
	bodies   []string
	asked    []time.Time // when next was called
}

func (d *runtimeDouble) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/invocation/next"):
		d.mu.Lock()
		d.asked = append(d.asked, time.Now())
		d.mu.Unlock()
		var ev []byte
		select {
		case ev = <-d.queue:
		case <-r.Context().Done():
			return
		}
		d.mu.Lock()
		n := len(d.given)
		d.given = append(d.given, time.Now())
		d.mu.Unlock()
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", fmt.Sprintf("request-%04d-0000", n))
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(d.deadline).UnixMilli(), 10))
		w.Write(ev)
	case strings.HasSuffix(r.URL.Path, "/response"), strings.HasSuffix(r.URL.Path, "/error"):
		body, _ := io.ReadAll(r.Body)
		d.mu.Lock()
		d.answered = append(d.answered, time.Now())
		d.bodies = append(d.bodies, string(body))
		d.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, r)
	}
}

// An async scan answers at once and keeps working after the answer; near
// each invocation's deadline it saves its part and state and invokes the
// function again, until the bucket is done: every key once in the merged
// report, across several invocations, with S3 throttling and a
// duplicated delivery of a continuation.
func TestAsyncScanAnswersAtOnceAndContinues(t *testing.T) {
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	const bucket, n = "lambda-async", 1500
	if err := locals3.CreateBucket(ctx, a, bucket); err != nil {
		t.Fatal(err)
	}
	if err := locals3.CreateBucket(ctx, a, reportBucket); err != nil {
		t.Fatal(err)
	}
	if c, _ := locals3.CountObjects(ctx, a, bucket); c != n {
		if err := locals3.PutObjects(ctx, a, bucket, locals3.Keys("k/", n), func(in *s3.PutObjectInput) {
			if strings.HasSuffix(*in.Key, "7") {
				in.ACL = types.ObjectCannedACLPublicRead
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Slow and throttling S3: the scan needs several invocations.
	proxy, err := faultproxy.Start(env.HTTPURL, faultproxy.Options{Rate: 400, Burst: 20, Latency: 15 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	for _, tc := range []struct {
		name      string
		deadline  time.Duration
		partBytes int // 0: the default
	}{
		// Parts end near each invocation's deadline.
		{"parts end at the deadline", 2500 * time.Millisecond, 0},
		// Parts end when their records reach the memory bound, long
		// before the deadline.
		{"parts end at the memory bound", time.Minute, 48 << 10},
		// The loop of self-invocations ends at MAX_PARTS.
		{"the scan stops at MAX_PARTS", 2500 * time.Millisecond, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHandler(t, env, proxy.URL, map[string]string{"BUCKET_NAME": bucket, "RECORDS": "all", "CONCURRENCY": "4"})
			if tc.partBytes > 0 {
				h.config.partBytes = tc.partBytes
			}
			if tc.partBytes < 0 {
				h.config.maxParts = 2
				state, _, _ := runAsyncScan(t, h, tc.deadline)
				if len(state.Parts) != 2 || !strings.Contains(state.Error, "MAX_PARTS=2") {
					t.Errorf("state: %d parts, error %q; want it stopped after 2 parts, saying why", len(state.Parts), state.Error)
				}
				return
			}
			state, store, double := runAsyncScan(t, h, tc.deadline)
			double.mu.Lock()
			answerAfter := double.answered[0].Sub(double.given[0])
			workAfter := double.asked[1].Sub(double.given[0])
			double.mu.Unlock()
			t.Logf("first answer %s after the event; the invocation worked on for %s; %d parts", answerAfter, workAfter, len(state.Parts))
			if answerAfter > 100*time.Millisecond || workAfter < 5*answerAfter {
				t.Errorf("answered %s after the event, worked until %s: want an answer within tens of milliseconds and work going on after it", answerAfter, workAfter)
			}
			if len(state.Parts) < 3 || state.Error != "" || state.Summary == nil || !state.Summary.Complete || state.Summary.Objects != n {
				t.Errorf("state: %d parts, error %q, summary %+v", len(state.Parts), state.Error, state.Summary)
			}
			seen := map[string]int{}
			m, err := batch.Merge(ctx, store, scan.SinkFunc(func(r *scan.Result) error { seen[r.Key]++; return nil }))
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range locals3.Keys("k/", n) {
				if seen[k] != 1 {
					t.Errorf("key %s reported %d times", k, seen[k])
				}
			}
			if len(seen) != n || m.Total.Objects != n || len(m.Missing) != 0 || m.Total.FoundEffective(0) != int64(n/10) {
				t.Errorf("merged %d keys, %d objects, missing %v, public %d", len(seen), m.Total.Objects, m.Missing, m.Total.FoundEffective(0))
			}
		})
	}
}

// runAsyncScan starts an async scan through the Runtime API double (each
// invocation's deadline that far away) and serves its continuations,
// the first one delivered twice, until the scan's state says it is done.
func runAsyncScan(t *testing.T, h *handler, deadline time.Duration) (*batch.ScanState, *batch.S3Store, *runtimeDouble) {
	t.Helper()
	ctx := context.Background()
	double := &runtimeDouble{deadline: deadline, queue: make(chan []byte, 64)}
	duplicated := false
	h.invoke = func(_ context.Context, ev []byte) error {
		double.queue <- ev
		if !duplicated { // Lambda delivers an async event at least once
			duplicated = true
			double.queue <- ev
		}
		return nil
	}
	srv := httptest.NewServer(double)
	t.Cleanup(srv.Close)
	api := newRuntimeAPI(strings.TrimPrefix(srv.URL, "http://"))
	runCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	go api.serve(runCtx, h.dispatch)

	double.queue <- []byte(`{"async": true}`)
	until := time.Now().Add(90 * time.Second)
	for time.Now().Before(until) {
		time.Sleep(200 * time.Millisecond)
		double.mu.Lock()
		var first asyncResponse
		if len(double.bodies) > 0 {
			_ = json.Unmarshal([]byte(double.bodies[0]), &first)
		}
		double.mu.Unlock()
		if first.ScanID == "" {
			continue
		}
		store := batch.NewS3Store(h.client.SDK(), reportBucket, "aclscan/"+first.ScanID+"/")
		if st, err := batch.LoadScanState(ctx, store); err == nil && st.Done {
			return st, store, double
		}
	}
	t.Fatalf("the async scan did not finish in time; answers: %v", double.bodies)
	return nil, nil, nil
}

// Accepted exposures in the function: ACCEPT_RULES (the YAML itself) or
// ACCEPT_RULES_KEY (a file in REPORT_BUCKET) is read when the environment
// starts; a scan's answer marks the accepted finding with its rule and
// counts it apart; a malformed file stops the environment with one line.
func TestAcceptedExposuresInTheFunction(t *testing.T) {
	env := locals3.ForTest(t)
	seedDemo(t, env)
	rules := "rules:\n  - id: press\n    bucket: demo\n    key: \"shared/**\"\n    findings: [public]\n    reason: the press kit is public on purpose\n"
	if _, err := env.Client(env.A).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(reportBucket), Key: aws.String("config/accept.yaml"),
		Body: strings.NewReader(rules)}); err != nil {
		t.Fatal(err)
	}
	for name, vars := range map[string]map[string]string{
		"inline":     {"BUCKET_NAME": locals3.DemoBucket, "ACCEPT_RULES": rules},
		"from a key": {"BUCKET_NAME": locals3.DemoBucket, "ACCEPT_RULES_KEY": "config/accept.yaml"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newTestHandler(t, env, env.HTTPURL, vars)
			out, err := invoke(t, h, map[string]any{})
			if err != nil {
				t.Fatal(err)
			}
			resp := out.(*Response)
			if resp.ByAccepted["public"] != 1 || resp.ByEffective["public"] < 1 || resp.Accept == nil || resp.Accept.Rules != 1 {
				t.Errorf("%s: by_accepted %v, by_effective %v, accept %+v; want the press kit accepted", name, resp.ByAccepted, resp.ByEffective, resp.Accept)
			}
			found := false
			for _, rec := range resp.Risky {
				if rec.Key == "shared/public-report.pdf" {
					found = rec.AcceptedRule != nil && *rec.AcceptedRule == "press"
				}
			}
			if !found {
				t.Errorf("%s: the risky records do not mark shared/public-report.pdf accepted by press", name)
			}
		})
	}
	t.Setenv("ACCEPT_RULES", "rules:\n  - id: broken\n    bucket: demo\n    findings: [public]\n")
	if _, err := newHandler(context.Background(), os.Getenv); err == nil || !strings.Contains(err.Error(), "ACCEPT_RULES: rule broken: reason: required") {
		t.Errorf("a malformed rules file: %v; want one line naming the rule and field", err)
	}
}

// Events of changed objects, as AWS delivers them to the function: S3
// notification records (keys URL-encoded) and an SQS batch of an
// EventBridge event, a message that is not events, and one whose bucket
// cannot be read. Each object is read as it is now; a delivery sent again
// for an unchanged ACL writes nothing; only the failed message comes back.
func TestWatchEventsInTheFunction(t *testing.T) {
	env := locals3.ForTest(t)
	seedDemo(t, env)
	h := newTestHandler(t, env, env.HTTPURL, map[string]string{"ALLOWED_BUCKETS": "demo*,no-such-bucket-*"})
	records := `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","eventTime":"2026-12-07T12:00:00.000Z",` +
		`"s3":{"bucket":{"name":"demo"},"object":{"key":"shared%2Fpublic-report.pdf","sequencer":"0A1B"}}}]}`
	out, err := invoke(t, h, json.RawMessage(records))
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(*watchResponse)
	if resp.Judged != 1 || len(resp.Risky) != 1 || resp.Risky[0].Key != "shared/public-report.pdf" || resp.Risky[0].Event == nil ||
		resp.Risky[0].Event.ID != "0A1B" || !strings.HasPrefix(resp.Records, "s3://"+reportBucket+"/aclscan/watch/") {
		t.Fatalf("S3 records: %+v", resp)
	}
	if out, err := invoke(t, h, json.RawMessage(records)); err != nil || out.(*watchResponse).Unchanged != 1 || out.(*watchResponse).Judged != 0 {
		t.Errorf("the same records again: %+v, %v; want the object unchanged, nothing written", out, err)
	}

	bridge := `{"version":"0","id":"e1","detail-type":"Object Created","source":"aws.s3","time":"2026-12-07T12:00:00Z",` +
		`"detail":{"bucket":{"name":"demo"},"object":{"key":"experiment/object-000001"}}}`
	broken := `{"version":"0","id":"e2","detail-type":"Object Created","source":"aws.s3",` +
		`"detail":{"bucket":{"name":"no-such-bucket-here"},"object":{"key":"k"}}}`
	body := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	sqs := `{"Records":[` +
		`{"messageId":"m1","eventSource":"aws:sqs","body":` + body(bridge) + `},` +
		`{"messageId":"m2","eventSource":"aws:sqs","body":"hello"},` +
		`{"messageId":"m3","eventSource":"aws:sqs","body":` + body(broken) + `}]}`
	out, err = invoke(t, h, json.RawMessage(sqs))
	if err != nil {
		t.Fatal(err)
	}
	resp = out.(*watchResponse)
	if resp.Judged != 1 || resp.Ignored != 1 || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m3" {
		t.Errorf("SQS batch: %+v; want m1 judged, m2 ignored, m3 to come back", resp)
	}
}

// REMEDIATE closes what a watch event finds, each ACL saved first to an
// undo log in REPORT_BUCKET; the same delivery again changes nothing.
func TestWatchRemediationInTheFunction(t *testing.T) {
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	bucket := locals3.NewBucket(t, env, "remediate")
	if err := locals3.PutObjects(ctx, a, bucket, []string{"uploads/leak.txt"}, locals3.PublicRead); err != nil {
		t.Fatal(err)
	}
	if err := locals3.CreateBucket(ctx, a, reportBucket); err != nil {
		t.Fatal(err)
	}
	h := newTestHandler(t, env, env.HTTPURL, map[string]string{"ALLOWED_BUCKETS": "it-remediate-*", "REMEDIATE": "public"})
	records := `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"` + bucket + `"},"object":{"key":"uploads/leak.txt"}}}]}`
	out, err := invoke(t, h, json.RawMessage(records))
	if err != nil {
		t.Fatal(err)
	}
	if resp := out.(*watchResponse); resp.Remediated != 1 || resp.RemediationFailed != 0 {
		t.Fatalf("remediation: %+v", resp)
	}
	acl, err := a.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: &bucket, Key: aws.String("uploads/leak.txt")})
	if err != nil || len(acl.Grants) != 1 {
		t.Errorf("the ACL after: %+v, %v; want the owner's grant alone", acl, err)
	}
	logs, err := a.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(reportBucket), Prefix: aws.String("aclscan/watch/undo/")})
	found := 0
	for _, o := range logs.Contents {
		if strings.Contains(aws.ToString(o.Key), "aclscan-undo-") {
			found++
		}
	}
	if err != nil || found == 0 {
		t.Errorf("no undo log in the report bucket (%v)", err)
	}
	if out, err := invoke(t, h, json.RawMessage(records)); err != nil || out.(*watchResponse).Remediated != 0 {
		t.Errorf("the same delivery again: %+v, %v; want nothing changed", out, err)
	}
	t.Setenv("REMEDIATE", "foreign-owner")
	if _, err := newHandler(ctx, os.Getenv); err == nil || !strings.Contains(err.Error(), "REMEDIATE: foreign-owner cannot be closed") {
		t.Errorf("REMEDIATE of a kind no ACL change closes: %v", err)
	}
}

// CloudTrail's record of a bucket-setting change (through EventBridge):
// the bucket's cached context is dropped and the bucket scanned again
// (an async scan), since the change can open objects no object event
// announces; a failed call, another bucket or an account-level change
// start none.
func TestSettingEventsInTheFunction(t *testing.T) {
	env := locals3.ForTest(t)
	seedDemo(t, env)
	h := newTestHandler(t, env, env.HTTPURL, map[string]string{"ALLOWED_BUCKETS": "demo*"})
	trail := func(name, bucket, errorCode string) json.RawMessage {
		params := `{}`
		if bucket != "" {
			params = `{"bucketName":"` + bucket + `"}`
		}
		return json.RawMessage(`{"version":"0","id":"t1","detail-type":"AWS API Call via CloudTrail","source":"aws.s3",` +
			`"detail":{"eventSource":"s3.amazonaws.com","eventName":"` + name + `","errorCode":"` + errorCode + `","requestParameters":` + params + `}}`)
	}
	for _, tc := range []struct {
		event json.RawMessage
		want  string
	}{
		{trail("PutBucketPolicy", "demo", ""), "scan-"},
		{trail("DeletePublicAccessBlock", "demo", ""), "scan-"},
		{trail("PutBucketPolicy", "demo", "AccessDenied"), "none: the call failed"},
		{trail("PutBucketPolicy", "secrets", ""), "none: bucket \"secrets\" is not one this function audits"},
		{trail("PutAccountPublicAccessBlock", "", ""), "none: an account-level change"},
		{trail("PutBucketTagging", "demo", ""), "none: not a change of S3 settings"},
	} {
		out, err := invoke(t, h, tc.event)
		if err != nil {
			t.Fatal(err)
		}
		if resp := out.(*settingResponse); !strings.HasPrefix(resp.Rescan, tc.want) {
			t.Errorf("%s: rescan %q, want %q...", tc.event, resp.Rescan, tc.want)
		}
	}

	// Through the deployment's queue: the watch function answers its
	// batch at once and hands the rescan to RESCAN_FUNCTION, whose first
	// part finds the scan's state saved; the object event beside it is
	// judged as usual, and a change that fails to hand off comes back.
	t.Setenv("RESCAN_FUNCTION", "stack-aclscan")
	watcher := newTestHandler(t, env, env.HTTPURL, map[string]string{"ALLOWED_BUCKETS": "demo*"})
	var handed [][]byte
	failHandOff := false
	watcher.rescan = func(_ context.Context, ev []byte) error {
		if failHandOff {
			return errors.New("Lambda answered 429")
		}
		handed = append(handed, ev)
		return nil
	}
	objectEvent := fmt.Sprintf(`{"version":"0","id":"e1","detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"demo"},"object":{"key":%q}}}`,
		firstDemoKeyWith(t, "public"))
	batch := func(bodies ...json.RawMessage) json.RawMessage {
		var msgs []string
		for i, b := range bodies {
			msgs = append(msgs, fmt.Sprintf(`{"messageId":"m%d","eventSource":"aws:sqs","body":%q}`, i+1, b))
		}
		return json.RawMessage(`{"Records":[` + strings.Join(msgs, ",") + `]}`)
	}
	out, err := invoke(t, watcher, batch(trail("PutBucketPolicy", "demo", ""), json.RawMessage(objectEvent), trail("PutBucketTagging", "demo", "")))
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(*watchResponse)
	if len(resp.BatchItemFailures) != 0 || resp.Judged != 1 || len(resp.Rescans) != 2 || !strings.HasPrefix(resp.Rescans[0].Rescan, "scan-") ||
		!strings.HasPrefix(resp.Rescans[1].Rescan, "none: not a change") {
		t.Fatalf("SQS batch with a settings change: %+v", resp)
	}
	if len(handed) != 1 || !strings.Contains(string(handed[0]), `"scan_id":"`+resp.Rescans[0].Rescan+`"`) || !strings.Contains(string(handed[0]), `"part":1`) {
		t.Fatalf("handed to RESCAN_FUNCTION: %s; want part 1 of %s", handed, resp.Rescans[0].Rescan)
	}
	// The scan function (here the first handler) runs the handed part.
	part, err := invoke(t, h, json.RawMessage(handed[0]))
	if err != nil || !strings.HasPrefix(part.(asyncResponse).Continuing, "part 1") {
		t.Fatalf("the handed part in the scan function: %+v, %v", part, err)
	}
	failHandOff = true
	out, err = invoke(t, watcher, batch(trail("DeleteBucketPolicy", "demo", "")))
	if err != nil {
		t.Fatal(err)
	}
	if f := out.(*watchResponse).BatchItemFailures; len(f) != 1 || f[0].ItemIdentifier != "m1" {
		t.Errorf("a hand-off that failed: batchItemFailures %v, want [m1]", f)
	}
}

// A watch's new findings go to an EventBridge bus and an SNS topic (fake
// endpoints: no EventBridge or SNS runs here), each as its record, signed
// as the function; an accepted finding raises no alert; when the bus
// fails, the invocation fails and the delivery sent again alerts.
func TestWatchAlertsInTheFunction(t *testing.T) {
	env := locals3.ForTest(t)
	seedDemo(t, env)
	var mu sync.Mutex
	var bus, topic []string
	busFails := true
	events := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" || !strings.Contains(r.Header.Get("Authorization"), "/events/aws4_request") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if busFails {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		bus = append(bus, string(body))
		_, _ = w.Write([]byte(`{"FailedEntryCount":0,"Entries":[{"EventId":"1"}]}`))
	}))
	defer events.Close()
	sns := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		defer mu.Unlock()
		topic = append(topic, r.Form.Get("Action")+" "+r.Form.Get("TopicArn")+" "+r.Form.Get("Message"))
		_, _ = w.Write([]byte(`<PublishResponse><PublishResult><MessageId>m</MessageId></PublishResult></PublishResponse>`))
	}))
	defer sns.Close()
	rules := "rules:\n  - {id: press, bucket: demo, key: \"shared/**\", findings: [public], reason: the press kit}\n"
	h := newTestHandler(t, env, env.HTTPURL, map[string]string{"ALLOWED_BUCKETS": "demo*", "FINDINGS_EVENT_BUS": "security",
		"FINDINGS_TOPIC_ARN": "arn:aws:sns:us-east-1:111122223333:alerts", "AWS_ENDPOINT_URL_EVENTBRIDGE": events.URL, "AWS_ENDPOINT_URL_SNS": sns.URL,
		"ACCEPT_RULES": rules})
	exposed := fmt.Sprintf(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"demo"},"object":{"key":"%s"}}}]}`,
		url.QueryEscape(firstDemoKeyWith(t, "authenticated")))
	if _, err := invoke(t, h, json.RawMessage(exposed)); err == nil || !strings.Contains(err.Error(), "send the findings") {
		t.Fatalf("with the bus failing: %v; want the invocation to fail", err)
	}
	mu.Lock()
	busFails = false
	mu.Unlock()
	out, err := invoke(t, h, json.RawMessage(exposed))
	if err != nil || out.(*watchResponse).Alerts != 1 {
		t.Fatalf("delivered again: %+v, %v; want the alert sent", out, err)
	}
	accepted := `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"demo"},"object":{"key":"shared%2Fpublic-report.pdf"}}}]}`
	if out, err := invoke(t, h, json.RawMessage(accepted)); err != nil || out.(*watchResponse).Alerts != 0 || out.(*watchResponse).Judged != 1 {
		t.Errorf("an accepted finding: %+v, %v; want judged, no alert", out, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bus) != 1 || !strings.Contains(bus[0], `"DetailType":"aclscan Finding"`) || !strings.Contains(bus[0], `"EventBusName":"security"`) {
		t.Errorf("the bus received %v", bus)
	}
	// The topic was reached on the failed attempt too: alerts are at
	// least once, never lost.
	if len(topic) != 2 || !strings.HasPrefix(topic[1], "Publish arn:aws:sns:us-east-1:111122223333:alerts {") {
		t.Errorf("the topic received %v", topic)
	}
}

// firstDemoKeyWith is a demo object whose finding is kind.
func firstDemoKeyWith(t *testing.T, kind string) string {
	t.Helper()
	for key, kinds := range locals3.DemoRisky {
		if slices.Contains(kinds, kind) {
			return key
		}
	}
	t.Fatalf("no demo object is %s", kind)
	return ""
}

// WATCH_FORMAT=ocsf: a watch's records are saved as OCSF Detection
// Findings (one per effective finding), for Security Lake and SIEMs.
func TestWatchRecordsInOCSF(t *testing.T) {
	env := locals3.ForTest(t)
	seedDemo(t, env)
	h := newTestHandler(t, env, env.HTTPURL, map[string]string{"ALLOWED_BUCKETS": "demo*", "WATCH_FORMAT": "ocsf"})
	records := `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"demo"},"object":{"key":"shared%2Fpublic-report.pdf"}}}]}`
	out, err := invoke(t, h, json.RawMessage(records))
	if err != nil {
		t.Fatal(err)
	}
	where := out.(*watchResponse).Records
	if !strings.HasSuffix(where, ".ocsf.jsonl") {
		t.Fatalf("records at %q; want an .ocsf.jsonl object", where)
	}
	key := strings.TrimPrefix(where, "s3://"+reportBucket+"/")
	got, err := env.Client(env.A).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(reportBucket), Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	body, _ := io.ReadAll(got.Body)
	if !strings.Contains(string(body), `"class_uid":2004`) || !strings.Contains(string(body), "shared/public-report.pdf") {
		t.Errorf("saved %s", body)
	}
	t.Setenv("WATCH_FORMAT", "xml")
	if _, err := newHandler(context.Background(), os.Getenv); err == nil || !strings.Contains(err.Error(), "WATCH_FORMAT must be jsonl or ocsf") {
		t.Errorf("WATCH_FORMAT=xml: %v", err)
	}
}

// An event may name a member account's role (role_arn): the function
// assumes it (once per environment) and reads the bucket through it, its
// records naming the account; a role outside ALLOWED_ROLES, or any role
// when it is not set, is refused before any request. radosgw tenants
// stand in for accounts, at the local S3's STS gateway.
func TestScanThroughMemberRole(t *testing.T) {
	env := locals3.ForTest(t)
	if env.STSURL == "" {
		t.Fatal("LOCAL_S3_STS_URL is not set: restart the local S3")
	}
	ctx := context.Background()
	tn, err := locals3.NewTenant(ctx, env, "fn")
	if err != nil {
		t.Fatal(err)
	}
	env.HTTPURL = env.STSURL
	owner := env.Client(tn.Owner)
	bucket := "b-" + tn.Name
	if err := locals3.CreateBucket(ctx, owner, bucket); err != nil {
		t.Fatal(err)
	}
	if err := locals3.PutObjects(ctx, owner, bucket, []string{"open.txt"}, locals3.PublicRead); err != nil {
		t.Fatal(err)
	}
	if err := locals3.PutObjects(ctx, owner, bucket, []string{"closed.txt"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := locals3.CreateBucket(ctx, env.Client(env.A), reportBucket); err != nil {
		t.Fatal(err)
	}
	h := newTestHandler(t, env, env.STSURL, map[string]string{"ALLOWED_BUCKETS": "b-*", "ALLOWED_ROLES": "arn:aws:iam::*:role/aclscan"})
	out, err := invoke(t, h, Event{Bucket: bucket, RoleARN: tn.RoleARN})
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(*Response)
	if resp.Objects != 2 || len(resp.Risky) != 1 || resp.Risky[0].Key != "open.txt" || resp.Risky[0].AccountID == nil || *resp.Risky[0].AccountID != tn.Name {
		t.Errorf("through the role: %d objects, risky %+v", resp.Objects, resp.Risky)
	}
	if _, err := invoke(t, h, Event{Bucket: bucket, RoleARN: "arn:aws:iam::" + tn.Name + ":role/admin"}); err == nil || !strings.Contains(err.Error(), "not one this function may assume") {
		t.Errorf("a role outside ALLOWED_ROLES: %v", err)
	}
	bare := newTestHandler(t, env, env.STSURL, map[string]string{"ALLOWED_BUCKETS": "b-*", "ALLOWED_ROLES": ""})
	if _, err := invoke(t, bare, Event{Bucket: bucket, RoleARN: tn.RoleARN}); err == nil || !strings.Contains(err.Error(), "set ALLOWED_ROLES") {
		t.Errorf("a role without ALLOWED_ROLES: %v", err)
	}
}
