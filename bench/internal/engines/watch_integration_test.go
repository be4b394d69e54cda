//go:build integration

package engines

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aclscan/aclscan/batch"
	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// fixture reads one of AWS's samples (testdata/aws/events, sources in
// its README).
func fixture(t *testing.T, repo, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "testdata", "aws", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The watch function as the deployment runs it (template.yaml's
// WatchFunction: RESCAN_FUNCTION, an SQS batch with
// ReportBatchItemFailures), under the Runtime Interface Emulator, fed
// AWS's own event shapes: aws-lambda-go's SQS batch carrying its S3
// notification record, the User Guide's EventBridge "Object Created"
// (once with its version-id, which names no version here, and once
// without), CloudTrail's record of a bucket policy put (no AWS sample was
// found: built to the documented EventBridge envelope), and the SQS
// sample's own body, which is no event. The settings change is handed to
// the scan function (a second emulator behind a stand-in of Lambda's
// Invoke API), which scans the bucket.
func TestWatchEventsUnderTheEmulator(t *testing.T) {
	env, repo, bootstrap, rie := buildFunction(t)
	ctx := context.Background()
	a := env.Client(env.A)
	// The buckets and keys AWS's samples name.
	for _, b := range []string{"sourcebucket", "amzn-s3-demo-bucket1", reportsBucket} {
		if err := locals3.CreateBucket(ctx, a, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := locals3.PutObjects(ctx, a, "sourcebucket", []string{"HappyFace.jpg"}, locals3.PublicRead); err != nil {
		t.Fatal(err)
	}
	if err := locals3.PutObjects(ctx, a, "amzn-s3-demo-bucket1", []string{"example-key"}, func(in *s3.PutObjectInput) {
		in.ACL = types.ObjectCannedACLAuthenticatedRead
	}); err != nil {
		t.Fatal(err)
	}

	service, err := StartLambdaService()
	if err != nil {
		t.Fatal(err)
	}
	defer service.Close()
	common := []string{
		"AWS_ENDPOINT_URL_S3=" + env.HTTPURL, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + env.A.AccessKey, "AWS_SECRET_ACCESS_KEY=" + env.A.SecretKey,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"REPORT_BUCKET=" + reportsBucket, "AWS_ENDPOINT_URL_LAMBDA=" + service.URL,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256", "AWS_LAMBDA_FUNCTION_TIMEOUT=60",
	}
	watcher := NewEmulator(rie, bootstrap, append(slices.Clone(common), "ALLOWED_BUCKETS=sourcebucket,amzn-s3-demo-bucket1",
		"RESCAN_FUNCTION=stack-aclscan", "AWS_LAMBDA_FUNCTION_NAME=stack-aclscan-watch"))
	scanner := NewEmulator(rie, bootstrap, append(slices.Clone(common), "ALLOWED_BUCKETS=*", "AWS_LAMBDA_FUNCTION_NAME=stack-aclscan"))
	for _, em := range []*Emulator{watcher, scanner} {
		if err := em.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(em.Kill)
	}
	service.Run(scanner, nil)

	// The SQS batch: aws-lambda-go's message, its body replaced by each
	// event in turn (the first keeps the sample's own body).
	var sample struct {
		Records []map[string]any `json:"Records"`
	}
	if err := json.Unmarshal(fixture(t, repo, "sqs-event.json"), &sample); err != nil {
		t.Fatal(err)
	}
	var created map[string]any
	if err := json.Unmarshal(fixture(t, repo, "eventbridge-object-created.json"), &created); err != nil {
		t.Fatal(err)
	}
	unversioned := clone(t, created)
	delete(unversioned["detail"].(map[string]any)["object"].(map[string]any), "version-id")
	var record map[string]any
	if err := json.Unmarshal(fixture(t, repo, "s3-event.json"), &record); err != nil {
		t.Fatal(err)
	}
	unversionedRecord := clone(t, record)
	delete(unversionedRecord["Records"].([]any)[0].(map[string]any)["s3"].(map[string]any)["object"].(map[string]any), "versionId")
	trail := `{"version":"0","id":"3c1a3ba8-2c5e-4a2f-9a5e-7e1c0e6b4a11","detail-type":"AWS API Call via CloudTrail","source":"aws.s3",` +
		`"account":"111122223333","time":"2026-12-07T10:00:00Z","region":"us-east-1","resources":[],` +
		`"detail":{"eventVersion":"1.09","eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy","awsRegion":"us-east-1",` +
		`"requestParameters":{"bucketName":"sourcebucket","Host":"sourcebucket.s3.amazonaws.com","policy":""},"readOnly":false,"eventType":"AwsApiCall"}}`
	bodies := []string{"", string(fixture(t, repo, "s3-event.json")), mustJSON(t, unversionedRecord), mustJSON(t, created), mustJSON(t, unversioned), trail}
	var messages []map[string]any
	for i, body := range bodies {
		m := clone(t, sample.Records[0])
		m["messageId"] = "m" + string(rune('1'+i))
		if body != "" {
			m["body"] = body
		}
		messages = append(messages, m)
	}
	out, err := watcher.Invoke(ctx, []byte(mustJSON(t, map[string]any{"Records": messages})))
	if err != nil {
		t.Fatalf("%v\n%s", err, watcher.Log())
	}
	var resp struct {
		Judged, Unchanged, Ignored int
		Records                    string
		Risky                      []struct {
			Bucket, Key, Status string
			Effective           []string
		}
		Rescans []struct {
			Event, Bucket, Rescan string
		}
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("answer %s: %v", out, err)
	}
	t.Logf("answer: %s", out)
	if resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 {
		t.Errorf("batchItemFailures %v: want an empty list (every message judged)", resp.BatchItemFailures)
	}
	// Judged: each sample's object, at the version it names (none here:
	// missing) and without one; the SQS sample's own body is ignored.
	if resp.Judged != 4 || resp.Ignored != 1 || !strings.HasPrefix(resp.Records, "s3://"+reportsBucket+"/aclscan/watch/") {
		t.Errorf("judged %d, ignored %d, records %q: want 3, 1 and the report bucket", resp.Judged, resp.Ignored, resp.Records)
	}
	found := map[string]string{}
	for _, r := range resp.Risky {
		found[r.Bucket+"/"+r.Key] = r.Status + " " + strings.Join(r.Effective, ",")
	}
	if found["sourcebucket/HappyFace.jpg"] != "ok public" || found["amzn-s3-demo-bucket1/example-key"] != "ok authenticated" {
		t.Errorf("risky records %v: want HappyFace.jpg public and example-key authenticated", found)
	}
	if len(resp.Rescans) != 1 || resp.Rescans[0].Bucket != "sourcebucket" || !strings.HasPrefix(resp.Rescans[0].Rescan, "scan-") {
		t.Fatalf("rescans %+v: want one of sourcebucket", resp.Rescans)
	}
	// The scan function ran the handed part and finished the scan.
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := service.Wait(waitCtx); err != nil {
		t.Fatal(err)
	}
	st, err := batch.LoadScanState(ctx, batch.NewS3Store(a, reportsBucket, "aclscan/"+resp.Rescans[0].Rescan+"/"))
	if err != nil {
		t.Fatalf("the rescan's state: %v\n%s", err, scanner.Log())
	}
	if !st.Done || st.Error != "" || st.Summary == nil || st.Summary.Objects != 1 {
		t.Errorf("the rescan: done %v, error %q, summary %+v", st.Done, st.Error, st.Summary)
	}
	// The saved records hold the versions the samples name as missing,
	// each with its version.
	body, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(reportsBucket), Key: aws.String(strings.TrimPrefix(resp.Records, "s3://"+reportsBucket+"/"))})
	if err != nil {
		t.Fatal(err)
	}
	defer body.Body.Close()
	missing := map[string]string{}
	dec := json.NewDecoder(body.Body)
	for dec.More() {
		var rec struct {
			Key, Status string
			VersionID   *string `json:"version_id"`
		}
		if err := dec.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		if rec.Status == "missing" && rec.VersionID != nil {
			missing[rec.Key] = *rec.VersionID
		}
	}
	if want := map[string]string{"HappyFace.jpg": "version", "example-key": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"}; !maps.Equal(missing, want) {
		t.Errorf("missing versions recorded %v, want %v", missing, want)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func clone(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal([]byte(mustJSON(t, m)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}
