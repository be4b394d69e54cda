// Command aclscan-lambda is aclscan as an AWS Lambda function (custom
// runtime provided.al2023: build it as "bootstrap" with -tags lambda.norpc).
//
// Configuration comes from the environment, as in the original experiment:
// BUCKET_NAME (required unless every event names a bucket), PREFIX,
// STRATEGY (serial|pool|all), CONCURRENCY, ALL_VERSIONS, BUCKET_OWNER,
// RISKY_LIMIT, MAX_ATTEMPTS (per request), and the SDK's usual variables (AWS_REGION,
// AWS_ENDPOINT_URL_S3, AWS_CA_BUNDLE, ...). An event may override
// {"bucket", "prefix", "strategy", "concurrency"}. The function returns a
// JSON summary and the first risky objects.
//
// It also takes, told apart by their shape: Step Functions Distributed
// Map batches, S3 Batch Operations events and async scans (answered at
// once, then worked on and continued across invocations); their reports
// go to REPORT_BUCKET under REPORT_PREFIX. Events may only name the
// buckets of ALLOWED_BUCKETS (names or globs; empty: BUCKET_NAME).
// docs/scale-out.md has the event shapes and the deployment.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/aclscan/aclscan/accept"
	"github.com/aclscan/aclscan/batch"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func main() {
	tuneGC(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	api := newRuntimeAPI(os.Getenv("AWS_LAMBDA_RUNTIME_API"))
	h, err := newHandler(context.Background(), os.Getenv)
	if err != nil {
		api.initError(err)
		log.Fatalf("aclscan-lambda: %v", err)
	}
	if err := api.serve(context.Background(), h.dispatch); err != nil {
		log.Fatalf("aclscan-lambda: %v", err)
	}
}

// newHandler reads the settings and makes what lives as long as the
// execution environment: the client and its connection pool (warm
// invocations reuse kept-alive connections), the bucket contexts read.
func newHandler(ctx context.Context, getenv func(string) string) (*handler, error) {
	cfg, err := configFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	client, err := s3access.New(ctx, cfg.clientOptions())
	if err != nil {
		return nil, explainSetting(err)
	}
	h := &handler{client: client, config: cfg, contexts: &batch.Contexts{Read: client.BucketContext}}
	if h.accept, err = loadAccepted(ctx, client, cfg, time.Now()); err != nil {
		return nil, err
	}
	h.trusted = h.accept.Trust(cfg.trusted)
	h.publisher = newPublisher(client.AWSConfig(), cfg.findingsBus, cfg.findingsTopic, getenv("AWS_ENDPOINT_URL_EVENTBRIDGE"), getenv("AWS_ENDPOINT_URL_SNS"))
	h.invoke = asyncInvoker(getenv("AWS_LAMBDA_FUNCTION_NAME"), client.AWSConfig(), getenv("AWS_ENDPOINT_URL_LAMBDA"))
	h.rescan = h.invoke
	if cfg.rescanFunction != "" {
		h.rescan = asyncInvoker(cfg.rescanFunction, client.AWSConfig(), getenv("AWS_ENDPOINT_URL_LAMBDA"))
	}
	return h, nil
}

// tuneGC trades the function's idle memory for CPU: a scan's live heap is
// a few megabytes, and with the default GOGC=100 the collector would run
// every few hundred requests, on a CPU share as small as 7% at 128 MB.
// The soft memory limit keeps the heap well inside the function's memory.
func tuneGC(memoryMB string) {
	mb, err := strconv.Atoi(memoryMB)
	if err != nil || mb <= 0 || os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(int64(mb) << 20 * 6 / 10)
}

// fail formats an invocation error.
func fail(format string, args ...any) error { return fmt.Errorf(format, args...) }

// loadAccepted reads the accepted-exposure rules the environment names:
// ACCEPT_RULES (the YAML itself) or ACCEPT_RULES_KEY (a file in
// REPORT_BUCKET), once per environment; expiry dates are judged then. A
// rules file that cannot be read or is malformed stops the environment
// with one line: a function that ignored it would fail on accepted
// exposure, or worse, let a changed file go unnoticed.
func loadAccepted(ctx context.Context, client *s3access.Client, cfg config, now time.Time) (*accept.Rules, error) {
	var data []byte
	name := "ACCEPT_RULES"
	switch {
	case cfg.acceptInline != "":
		data = []byte(cfg.acceptInline)
	case cfg.acceptKey != "":
		name = "s3://" + cfg.reportBucket + "/" + cfg.acceptKey
		out, err := client.SDK().GetObject(ctx, &s3.GetObjectInput{Bucket: &cfg.reportBucket, Key: &cfg.acceptKey})
		if err != nil {
			return nil, fail("ACCEPT_RULES_KEY: %s", s3access.Explain("read "+name, err, envSpelling))
		}
		defer out.Body.Close()
		if data, err = io.ReadAll(io.LimitReader(out.Body, maxRulesBytes+1)); err != nil {
			return nil, fail("ACCEPT_RULES_KEY: read %s: %v", name, err)
		}
		if len(data) > maxRulesBytes {
			return nil, fail("ACCEPT_RULES_KEY: %s is larger than %d bytes: not a rules file", name, maxRulesBytes)
		}
	default:
		return nil, nil
	}
	rules, err := accept.Parse(data, now)
	if err != nil {
		return nil, fail("%s: %v", name, err)
	}
	rules.Path = name
	return rules, nil
}

// maxRulesBytes bounds a rules file read from S3.
const maxRulesBytes = 1 << 20

// version is the function's version, set by the build (-X main.version);
// OCSF findings name it.
var version = "dev"
