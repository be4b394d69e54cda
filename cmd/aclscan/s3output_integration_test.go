//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aclscan/aclscan/batch"
	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/report"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// -o s3://... streams the report to S3: the object appears when the scan
// completes; an interrupted scan leaves neither an object nor a pending
// multipart upload.
func TestIntegrationReportToS3(t *testing.T) {
	t.Parallel()
	env := demoEnv(t)
	ctx := context.Background()
	a := env.Client(env.A)
	dest := locals3.NewBucket(t, env, "reports")
	code, _, stderr := runLocal(t, env, "scan", "s3://demo", "-o", "s3://"+dest+"/demo.jsonl", "--summary-json", "s3://"+dest+"/summary.json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	get := func(key string) []byte {
		out, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: &dest, Key: &key})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		defer out.Body.Close()
		b, _ := io.ReadAll(out.Body)
		return b
	}
	var n int
	if err := report.ReadJSONL(bytes.NewReader(get("demo.jsonl")), func(report.Record) error { n++; return nil }); err != nil || n != 104 {
		t.Errorf("the uploaded report: %d records, %v; want 104", n, err)
	}
	var sum report.SummaryRecord
	if err := json.Unmarshal(get("summary.json"), &sum); err != nil || sum.Objects != 104 || !sum.Complete {
		t.Errorf("the uploaded summary: %+v, %v", sum, err)
	}

	// The same command again: the report is there, and stays.
	code, _, stderr = runLocal(t, env, "scan", "s3://demo", "-o", "s3://"+dest+"/demo.jsonl")
	if code != exitUsage || !strings.Contains(stderr, "-o s3://"+dest+"/demo.jsonl exists: give --overwrite") {
		t.Errorf("an existing report: exit %d, %q", code, stderr)
	}
	code, _, stderr = runLocal(t, env, "scan", "s3://demo", "-o", "s3://"+dest+"/demo.jsonl", "--overwrite")
	if code != exitOK {
		t.Errorf("--overwrite: exit %d, %q", code, stderr)
	}

	// Interrupted: nothing appears, nothing is left pending.
	bucket := interruptBucket(t)
	bin := buildCLI(t)
	code, stderr = startAndSignal(t, bin, os.Interrupt, 400*time.Millisecond, "scan", "s3://"+bucket, "--concurrency", "2", "-o", "s3://"+dest+"/interrupted.jsonl")
	if code != exitIncomplete || !strings.Contains(stderr, "the report was not uploaded") {
		t.Fatalf("interrupted: exit %d, stderr %q", code, stderr)
	}
	if _, err := a.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &dest, Key: aws.String("interrupted.jsonl")}); err == nil {
		t.Error("an interrupted scan's report appeared")
	}
	uploads, err := a.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &dest})
	if err != nil || len(uploads.Uploads) != 0 {
		t.Errorf("pending multipart uploads: %v, %v", uploads.Uploads, err)
	}
	// A checkpoint needs a local report.
	code, _, stderr = runLocal(t, env, "scan", "s3://demo", "-o", "s3://"+dest+"/x.jsonl", "--checkpoint", t.TempDir()+"/c")
	if code != exitUsage || !strings.Contains(stderr, "--checkpoint needs the report in a local file") {
		t.Errorf("checkpoint with an S3 report: exit %d, %q", code, stderr)
	}
}

// aclscan report reads a run's folder from S3 (and its ResultWriter
// manifest.json form) and writes the merged report back to S3.
func TestReportFromS3(t *testing.T) {
	env := locals3.ForTest(t)
	ctx := context.Background()
	a := env.Client(env.A)
	const bucket = "report-merge"
	if err := locals3.CreateBucket(ctx, a, bucket); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	items := writeBatch(t, dir, map[string]bool{"x": true, "y": false})
	run := fmt.Sprintf("run-%d", time.Now().UnixNano()) // the bucket outlives test runs
	store := batch.NewS3Store(a, bucket, "aclscan/"+run+"/")
	keys, _ := batch.DirStore{Dir: dir}.List(ctx, "")
	for _, k := range keys {
		b, _ := batch.DirStore{Dir: dir}.Get(ctx, k)
		if err := store.Put(ctx, k, b); err != nil {
			t.Fatal(err)
		}
	}
	// A Map Run that names no batch: nothing merged, and said (exit 1).
	if err := store.Put(ctx, "results/m/manifest.json", []byte(`{"MapRunArn":"a","ResultFiles":{"FAILED":[],"PENDING":[],"SUCCEEDED":[]}}`)); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runLocal(t, env, "report", "s3://"+bucket+"/aclscan/"+run+"/", "--format", "jsonl", "-o", "s3://"+bucket+"/merged.jsonl", "--overwrite"); code != exitIncomplete ||
		!strings.Contains(stderr, "the Map Run's results do not name it") || !strings.Contains(stderr, "no batch of the run was merged") {
		t.Errorf("a Map Run naming no batch: exit %d: %s", code, stderr)
	}
	// The ResultWriter's files name the batch.
	succeeded, _ := json.Marshal([]map[string]string{succeededChild(items)})
	if err := store.Put(ctx, "results/m/SUCCEEDED_0.json", succeeded); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, "results/m/manifest.json", []byte(`{"MapRunArn":"a","ResultFiles":{"FAILED":[],"PENDING":[],"SUCCEEDED":[{"Key":"aclscan/`+run+`/results/m/SUCCEEDED_0.json"}]}}`)); err != nil {
		t.Fatal(err)
	}
	for _, loc := range []string{"s3://" + bucket + "/aclscan/" + run + "/", "s3://" + bucket + "/aclscan/" + run + "/results/m/manifest.json"} {
		code, _, stderr := runLocal(t, env, "report", loc, "--format", "jsonl", "-o", "s3://"+bucket+"/merged.jsonl", "--overwrite") // the bucket is reused between runs
		if code != 0 {
			t.Fatalf("report %s: exit %d: %s", loc, code, stderr)
		}
		out, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("merged.jsonl")})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if strings.Count(string(body), "\n") != 2 || !strings.Contains(string(body), `"key":"x"`) {
			t.Errorf("merged report from %s:\n%s", loc, body)
		}
	}
}
