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

	"github.com/aclscan/aclscan/s3access"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	settings, err := settingsFromEnv(os.Getenv)
	if err != nil {
		log.Fatalf("aclscan-lambda: %v", err)
	}
	// The client and its connection pool live as long as the execution
	// environment: warm invocations reuse kept-alive connections.
	client, err := s3access.New(context.Background(), settings.s3)
	if err != nil {
		log.Fatalf("aclscan-lambda: %v", err)
	}
	h := &handler{client: client, settings: settings}
	lambda.Start(h.handle)
}

// fail formats an invocation error.
func fail(format string, args ...any) error { return fmt.Errorf(format, args...) }
