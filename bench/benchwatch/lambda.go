package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aclscan/aclscan/bench/internal/engines"
	"github.com/aclscan/aclscan/bench/internal/lambdasize"
	"github.com/aclscan/aclscan/bench/internal/toxiproxy"
	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Prices, us-east-1, as docs/watch.md cites them.
const (
	lambdaGBSecond   = 0.0000133334 // arm64
	lambdaRequest    = 0.20 / 1e6
	sqsRequest       = 0.40 / 1e6
	s3GetRequest     = 0.0004 / 1000
	s3PutRequest     = 0.005 / 1000
	eventsPerBatch   = 10
	millionEvents    = 1e6
	batchesPerMillon = millionEvents / eventsPerBatch
)

var reportDuration = regexp.MustCompile(`REPORT RequestId: \S+\s+Duration: ([0-9.]+) ms`)

// lambdaCell is the watch function at one memory size and one S3 latency.
type lambdaCell struct {
	memory, latencyMS int
	durations         []float64 // ms per batch of ten events, warm
}

// runLambda times the watch function under the Runtime Interface Emulator,
// its CPU limited as Lambda limits it at each memory size, on SQS batches
// of ten EventBridge "Object Created" events, with S3 answering directly
// and behind a latency like S3's seen from Lambda in-region; it writes
// the cost per million events.
func runLambda(batches int, out string) error {
	ctx := context.Background()
	env, err := locals3.Start(ctx)
	if err != nil {
		return err
	}
	a := env.Client(env.A)
	bucket := fmt.Sprintf("bench-watch-lambda-%d", time.Now().Unix())
	reports := bucket + "-reports"
	for _, b := range []string{bucket, reports} {
		if err := locals3.CreateBucket(ctx, a, b); err != nil {
			return err
		}
	}
	keys := locals3.Keys("obj/", batches*eventsPerBatch)
	acls := []types.ObjectCannedACL{types.ObjectCannedACLPrivate, types.ObjectCannedACLPublicRead, types.ObjectCannedACLAuthenticatedRead}
	// Called from several goroutines: the ACL follows from the key alone.
	if err := locals3.PutObjects(ctx, a, bucket, keys, func(in *s3.PutObjectInput) {
		in.ACL = acls[int((*in.Key)[len(*in.Key)-1])%3]
	}); err != nil {
		return err
	}
	repo, err := locals3.RepoRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "benchwatch-lambda-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tools := filepath.Join(repo, "bin", "tools")
	bootstrap, rie, err := engines.Build(ctx, repo, dir, tools)
	if err != nil {
		return err
	}
	toxiBin, err := toxiproxy.Install(ctx, tools)
	if err != nil {
		return err
	}
	toxi, err := toxiproxy.Start(ctx, toxiBin)
	if err != nil {
		return err
	}
	defer toxi.Stop()
	const latencyMS = 20
	proxy, err := toxi.NewProxy("s3-in-region", strings.TrimPrefix(env.HTTPURL, "http://"))
	if err != nil {
		return err
	}
	if err := toxiproxy.LatencyProxy(toxi.API, "s3-in-region", proxy.Listen, strings.TrimPrefix(env.HTTPURL, "http://"), latencyMS); err != nil {
		return err
	}
	var cells []lambdaCell
	for _, latency := range []int{0, latencyMS} {
		endpoint := env.HTTPURL
		if latency > 0 {
			endpoint = "http://" + proxy.Listen
		}
		for _, mb := range []int{128, 256, 512} {
			cell, err := timeWatchFunction(ctx, rie, bootstrap, dir, env, endpoint, bucket, reports, keys, mb)
			if err != nil {
				return fmt.Errorf("%d MB, %d ms: %w", mb, latency, err)
			}
			cell.latencyMS = latency
			cells = append(cells, cell)
			fmt.Fprintf(os.Stderr, "benchwatch: %d MB, S3 +%d ms: median %.1f ms per batch\n", mb, latency, median(cell.durations))
		}
	}
	return writeLambda(out, batches, cells)
}

func timeWatchFunction(ctx context.Context, rie, bootstrap, dir string, env locals3.Env, endpoint, bucket, reports string, keys []string, mb int) (lambdaCell, error) {
	cell := lambdaCell{memory: mb}
	lim, err := lambdasize.New("watch", mb)
	if err != nil {
		return cell, err
	}
	defer lim.Remove()
	em := engines.NewEmulator(rie, bootstrap, []string{
		"AWS_ENDPOINT_URL_S3=" + endpoint, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + env.A.AccessKey, "AWS_SECRET_ACCESS_KEY=" + env.A.SecretKey,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"ALLOWED_BUCKETS=" + bucket, "REPORT_BUCKET=" + reports,
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", mb), "AWS_LAMBDA_FUNCTION_TIMEOUT=60",
	})
	if em.Wrap, err = lim.Wrapper(dir); err != nil {
		return cell, err
	}
	if err := em.Start(); err != nil {
		return cell, err
	}
	defer em.Kill()
	for b := 0; b*eventsPerBatch < len(keys); b++ {
		var msgs []string
		for _, key := range keys[b*eventsPerBatch : (b+1)*eventsPerBatch] {
			ev := fmt.Sprintf(`{"version":"0","id":"%s","detail-type":"Object Created","source":"aws.s3","account":"111122223333","time":"2026-12-07T00:00:00Z","region":"us-east-1","resources":["arn:aws:s3:::%s"],"detail":{"version":"0","bucket":{"name":"%s"},"object":{"key":"%s","size":5},"reason":"PutObject"}}`,
				key, bucket, bucket, key)
			msg, _ := json.Marshal(map[string]string{"messageId": key, "eventSource": "aws:sqs", "body": ev})
			msgs = append(msgs, string(msg))
		}
		answer, err := em.Invoke(ctx, []byte(`{"Records":[`+strings.Join(msgs, ",")+`]}`))
		if err != nil {
			return cell, fmt.Errorf("batch %d: %w", b, err)
		}
		var resp struct {
			Judged   int               `json:"judged"`
			Failures []json.RawMessage `json:"batchItemFailures"`
		}
		if json.Unmarshal(answer, &resp) != nil || resp.Judged != eventsPerBatch || len(resp.Failures) != 0 {
			return cell, fmt.Errorf("batch %d answered %s", b, answer)
		}
	}
	for _, m := range reportDuration.FindAllStringSubmatch(em.Log(), -1) {
		d, _ := strconv.ParseFloat(m[1], 64)
		cell.durations = append(cell.durations, d)
	}
	if len(cell.durations) < 2 {
		return cell, fmt.Errorf("no REPORT lines in the emulator's log")
	}
	cell.durations = cell.durations[1:] // the first holds the cold start
	return cell, nil
}

func median(d []float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func p99(d []float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*99/100)]
}

// costPerMillion is the cost of a million events at a batch's billed
// duration: Lambda (compute, requests), SQS (EventBridge's SendMessage per
// event, Lambda's receive and delete per batch), S3 (a GetObjectAcl per
// event, a PutObject of the records per batch). EventBridge's S3 events
// and the rules' delivery to SQS cost nothing.
func costPerMillion(mb int, billedMS float64) (compute, rest float64) {
	compute = batchesPerMillon * billedMS / 1000 * float64(mb) / 1024 * lambdaGBSecond
	rest = batchesPerMillon*lambdaRequest + (millionEvents+2*batchesPerMillon)*sqsRequest + millionEvents*s3GetRequest + batchesPerMillon*s3PutRequest
	return compute, rest
}

func writeLambda(out string, batches int, cells []lambdaCell) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Watch on Lambda: time per SQS batch and cost per million events\n\n")
	fmt.Fprintf(&b, "Measured %s on this 2-core machine with `go run ./bench/benchwatch -lambda` (`make bench-watch-lambda`).\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "The watch function (the release build of cmd/aclscan-lambda) under the Runtime Interface Emulator, its CPU limited\n")
	fmt.Fprintf(&b, "as Lambda's memory size gives it (cgroup quota, 1,769 MB = one vCPU), judges %d SQS batches of ten EventBridge\n", batches)
	fmt.Fprintf(&b, "\"Object Created\" events (objects private, public-read, authenticated-read in turn) and saves each batch's records\n")
	fmt.Fprintf(&b, "to the report bucket, against the local radosgw: directly, then through toxiproxy adding 20 ms per request,\n")
	fmt.Fprintf(&b, "like S3 seen from Lambda in-region. Duration is the emulator's REPORT line, the first (cold) invocation left out.\n\n")
	b.WriteString("| memory | S3 latency added | batch p50 | batch p99 | Lambda compute per 1M events | total per 1M events |\n|---|---|---|---|---|---|\n")
	for _, c := range cells {
		med := median(c.durations)
		compute, rest := costPerMillion(c.memory, float64(int(med)+1))
		fmt.Fprintf(&b, "| %d MB | %d ms | %.1f ms | %.1f ms | $%.3f | $%.2f |\n", c.memory, c.latencyMS, med, p99(c.durations), compute, compute+rest)
	}
	_, rest := costPerMillion(128, 0)
	fmt.Fprintf(&b, "\nThe rest of a million events, whatever the memory: $%.2f = Lambda requests $%.2f (100,000 batches) + SQS $%.2f\n",
		rest, batchesPerMillon*lambdaRequest, (millionEvents+2*batchesPerMillon)*sqsRequest)
	fmt.Fprintf(&b, "(1,000,000 SendMessage by the rule, 100,000 receives and 100,000 batch deletes by Lambda's poller) + S3 GetObjectAcl $%.2f\n",
		millionEvents*s3GetRequest)
	fmt.Fprintf(&b, "+ S3 PutObject of the records $%.2f (one per batch). EventBridge: $0 (S3's events on the default bus, rules and\n", batchesPerMillon*s3PutRequest)
	b.WriteString("delivery to SQS are free); alerts sent to a custom bus are $1.00 per million findings, SNS $0.50 per million.\n")
	b.WriteString("Not counted: CloudWatch Logs (a few lines per batch), the queue's empty receives while idle, the free tiers.\n")
	b.WriteString("Prices: us-east-1, the sources in docs/watch.md.\n")
	return os.WriteFile(out, []byte(b.String()), 0o644)
}
