// Command aclscan-lambda is aclscan as an AWS Lambda function (custom
// runtime provided.al2023: build it as "bootstrap" with -tags lambda.norpc).
//
// Configuration comes from the environment, as in the original experiment:
// BUCKET_NAME (required unless every event names a bucket), PREFIX,
// STRATEGY (serial|pool|all), CONCURRENCY, ALL_VERSIONS, BUCKET_OWNER,
// RISKY_LIMIT, and the SDK's usual variables (AWS_REGION,
// AWS_ENDPOINT_URL_S3, AWS_CA_BUNDLE, ...). An event may override
// {"bucket", "prefix", "strategy", "concurrency"}. The function returns a
// JSON summary and the first risky objects.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/aclscan/aclscan/s3access"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	tuneGC(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		log.Fatalf("aclscan-lambda: %v", err)
	}
	// The client and its connection pool live as long as the execution
	// environment: warm invocations reuse kept-alive connections.
	client, err := s3access.New(context.Background(), cfg.clientOptions())
	if err != nil {
		log.Fatalf("aclscan-lambda: %v", explainSetting(err))
	}
	h := &handler{client: client, config: cfg}
	lambda.Start(h.handle)
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
