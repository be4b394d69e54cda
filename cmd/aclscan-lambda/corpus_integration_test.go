//go:build integration

package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

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
	ctx := context.Background()
	a := env.Client(env.A)
	const bucket = "awsexamplebucket"
	if err := locals3.CreateBucket(ctx, a, bucket); err != nil {
		t.Fatal(err)
	}
	if err := locals3.PutObjects(ctx, a, bucket, []string{"customerImage1.jpg"}, func(in *s3.PutObjectInput) {
		in.ACL = types.ObjectCannedACLPublicRead
	}); err != nil {
		t.Fatal(err)
	}
	if err := locals3.CreateBucket(ctx, a, reportBucket); err != nil {
		t.Fatal(err)
	}
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
