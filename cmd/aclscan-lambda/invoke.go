package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// awsCall is one signed POST to an AWS service, written here rather than
// with the service's SDK client: the Lambda, EventBridge and SNS clients'
// package initialization allocates hundreds of kilobytes at every cold
// start (the Lambda client 700 KB in 4,146 allocations,
// GODEBUG=inittrace=1), for calls the function makes rarely.
type awsCall struct {
	cfg    aws.Config
	signer *v4.Signer
	// service is the signing name ("lambda", "events", "sns"); endpoint
	// overrides https://SERVICE.REGION.amazonaws.com (tests).
	service, endpoint string
}

func newAWSCall(cfg aws.Config, service, endpoint string) *awsCall {
	return &awsCall{cfg: cfg, signer: v4.NewSigner(), service: service, endpoint: endpoint}
}

// post sends body to path with headers, and returns the answer's status
// and (the first 4 KiB of) its body.
func (c *awsCall) post(ctx context.Context, path string, headers map[string]string, body []byte) (int, []byte, error) {
	base := c.endpoint
	if base == "" {
		base = "https://" + c.service + "." + c.cfg.Region + ".amazonaws.com"
		if strings.HasPrefix(c.cfg.Region, "cn-") {
			base += ".cn"
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	creds, err := c.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), c.service, c.cfg.Region, time.Now()); err != nil {
		return 0, nil, fmt.Errorf("sign: %w", err)
	}
	client := c.cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, bytes.TrimSpace(answer), nil
}

// asyncInvoker invokes a function (this one, or RESCAN_FUNCTION)
// asynchronously (Lambda's Invoke, InvocationType Event), signed with the
// client's identity.
// AWS_ENDPOINT_URL_LAMBDA points it elsewhere (tests).
func asyncInvoker(function string, cfg aws.Config, endpoint string) func(ctx context.Context, event []byte) error {
	call := newAWSCall(cfg, "lambda", endpoint)
	return func(ctx context.Context, event []byte) error {
		if function == "" {
			return errors.New("AWS_LAMBDA_FUNCTION_NAME is not set: the function cannot continue itself")
		}
		headers := map[string]string{"X-Amz-Invocation-Type": "Event", "Content-Type": "application/json"}
		// The invocation's trace header (the runtime loop sets it for each
		// invocation): Lambda's recursive loop detection follows it and
		// stops a self-invocation loop that runs away.
		if trace := os.Getenv("_X_AMZN_TRACE_ID"); trace != "" {
			headers["X-Amzn-Trace-Id"] = trace
		}
		status, body, err := call.post(ctx, "/2015-03-31/functions/"+url.PathEscape(function)+"/invocations", headers, event)
		if err != nil {
			return fmt.Errorf("invoke %s asynchronously: %w", function, err)
		}
		if status != http.StatusAccepted {
			return fmt.Errorf("invoke %s asynchronously: Lambda answered %d: %s", function, status, body)
		}
		return nil
	}
}
