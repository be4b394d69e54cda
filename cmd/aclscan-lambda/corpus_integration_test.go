//go:build integration

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// AWS's own S3 Batch Operations events (aws-lambda-go's
// events/testdata, see testdata/aws/README.md), byte for byte, through
// the function's dispatch as Lambda delivers them. Their bucket,
// awsexamplebucket, exists in the local S3 with customerImage1.jpg
// public; the events name versions ("1", "jbo9_…") the unversioned
// bucket never had, so S3 answers that the version does not exist.
func TestAWSBatchOperationsEvents(t *testing.T) {
	env := locals3.ForTest(t)
	const bucket = "awsexamplebucket"
	seedPublicObject(t, env, bucket, "customerImage1.jpg")
	h := newTestHandler(t, env, env.HTTPURL, map[string]string{"BUCKET_NAME": bucket})
	dir := filepath.Join("..", "..", "testdata", "aws", "batch-operations")
	wantKeys := jsonKeys(t, readCorpus(t, filepath.Join(dir, "s3-batch-job-event-response.json")))
	for _, tc := range []struct{ file, schema string }{
		{"s3-batch-job-event-request-1.0.json", "1.0"}, // bucket as an ARN with Region and account
		{"s3-batch-job-event-request-2.0.json", "2.0"}, // bucket by name, userArguments
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw := readCorpus(t, filepath.Join(dir, tc.file))
			out, err := invoke(t, h, json.RawMessage(raw))
			if err != nil {
				t.Fatal(err)
			}
			resp, ok := out.(*events.S3BatchJobResponse)
			if !ok {
				t.Fatalf("answer %T, want an S3 Batch Operations response", out)
			}
			if resp.InvocationSchemaVersion != tc.schema || resp.InvocationID != "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo" {
				t.Errorf("response names %s / %s, want the event's schema and invocation", resp.InvocationSchemaVersion, resp.InvocationID)
			}
			if len(resp.Results) != 1 || resp.Results[0].TaskID != "dGFza2lkZ29lc2hlcmUK" {
				t.Fatalf("results %+v, want one for the event's task", resp.Results)
			}
			r := resp.Results[0]
			if r.ResultCode != succeeded || !strings.Contains(r.ResultString, `"status":"missing"`) {
				t.Errorf("task: %+v, want Succeeded with the version judged missing", r)
			}
			// The answer has the fields of AWS's own sample answer.
			b, _ := json.Marshal(resp)
			if got := jsonKeys(t, b); !reflect.DeepEqual(got, wantKeys) {
				t.Errorf("answer fields %v, AWS's sample has %v", got, wantKeys)
			}
		})
	}
}

// AWS's own Distributed Map items (the Step Functions Developer Guide's
// ItemReader examples, see testdata/aws/README.md), each delivered in a
// batch as the Map state sends it. The listing reader's item is judged
// from the object's ACL in the local S3; the inventory reader's item is a
// report without the ACL fields, refused with the one line that says
// which fields to add.
func TestAWSDistributedMapItems(t *testing.T) {
	env := locals3.ForTest(t)
	const bucket = "amzn-s3-demo-bucket"
	seedPublicObject(t, env, bucket, "processData/images/n02085620_1073.jpg")
	h := newTestHandler(t, env, env.HTTPURL, map[string]string{"ALLOWED_BUCKETS": "amzn-s3-demo-*"})
	dir := filepath.Join("..", "..", "testdata", "aws", "step-functions")
	run := fmt.Sprintf("corpus-%d", time.Now().UnixNano())

	listed := map[string]any{
		"BatchInput": map[string]string{"bucket": bucket, "run_id": run},
		"Items":      []json.RawMessage{readCorpus(t, filepath.Join(dir, "map-item-listing.json"))},
	}
	out, err := invoke(t, h, listed)
	if err != nil {
		t.Fatal(err)
	}
	if resp, ok := out.(*mapResponse); !ok || resp.Kind != "listing" || resp.Objects != 1 || resp.ByEffective["public"] != 1 {
		t.Errorf("the listing reader's item answered %+v; want its object judged public", out)
	}

	inventoried := map[string]any{
		"BatchInput": map[string]string{"run_id": run + "-inv"},
		"Items":      []json.RawMessage{readCorpus(t, filepath.Join(dir, "map-item-inventory.json"))},
	}
	if _, err := invoke(t, h, inventoried); err == nil || !strings.Contains(err.Error(), "ObjectAccessControlList") || strings.Contains(err.Error(), "\n") {
		t.Errorf("the inventory reader's item without ACL fields: err %v; want one line naming ObjectAccessControlList", err)
	} else {
		t.Logf("refused: %v", err)
	}
}

// seedPublicObject makes the bucket an AWS sample names, with its one
// object public-read, and the function's report bucket.
func seedPublicObject(t *testing.T, env locals3.Env, bucket, key string) {
	t.Helper()
	ctx := context.Background()
	a := env.Client(env.A)
	if err := locals3.CreateBucket(ctx, a, bucket); err != nil {
		t.Fatal(err)
	}
	if err := locals3.PutObjects(ctx, a, bucket, []string{key}, func(in *s3.PutObjectInput) {
		in.ACL = types.ObjectCannedACLPublicRead
	}); err != nil {
		t.Fatal(err)
	}
	if err := locals3.CreateBucket(ctx, a, reportBucket); err != nil {
		t.Fatal(err)
	}
}

func readCorpus(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonKeys lists an object's field names and its results' field names.
func jsonKeys(t *testing.T, b []byte) []string {
	t.Helper()
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range doc {
		keys = append(keys, k)
	}
	var results []map[string]any
	if err := json.Unmarshal(doc["results"], &results); err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		for k := range r {
			keys = append(keys, "results."+k)
		}
	}
	sort.Strings(keys)
	return keys
}
