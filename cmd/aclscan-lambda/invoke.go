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

// selfInvoker invokes the function asynchronously (Lambda's Invoke,
// InvocationType Event), signed with the client's identity. It is one
// signed POST written here rather than aws-sdk-go-v2/service/lambda:
// that client's package initialization allocates 700 KB in 4,146
// allocations at every cold start (GODEBUG=inittrace=1), for a call an
// async scan makes once per 15 minutes. AWS_ENDPOINT_URL_LAMBDA points
// it elsewhere (tests).
func selfInvoker(function string, cfg aws.Config, endpoint string) func(ctx context.Context, event []byte) error {
	signer := v4.NewSigner()
	return func(ctx context.Context, event []byte) error {
		if function == "" {
			return errors.New("AWS_LAMBDA_FUNCTION_NAME is not set: the function cannot continue itself")
		}
		base := endpoint
		if base == "" {
			base = "https://lambda." + cfg.Region + ".amazonaws.com"
			if strings.HasPrefix(cfg.Region, "cn-") {
				base += ".cn"
			}
		}
		u := strings.TrimSuffix(base, "/") + "/2015-03-31/functions/" + url.PathEscape(function) + "/invocations"
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(event))
		if err != nil {
			return fmt.Errorf("invoke %s: %w", function, err)
		}
		req.Header.Set("X-Amz-Invocation-Type", "Event")
		req.Header.Set("Content-Type", "application/json")
		// The invocation's trace header (the runtime loop sets it for each
		// invocation): Lambda's recursive loop detection follows it and
		// stops a self-invocation loop that runs away.
		if trace := os.Getenv("_X_AMZN_TRACE_ID"); trace != "" {
			req.Header.Set("X-Amzn-Trace-Id", trace)
		}
		creds, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			return fmt.Errorf("invoke %s: credentials: %w", function, err)
		}
		sum := sha256.Sum256(event)
		if err := signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "lambda", cfg.Region, time.Now()); err != nil {
			return fmt.Errorf("invoke %s: sign: %w", function, err)
		}
		client := cfg.HTTPClient
		if client == nil {
			client = http.DefaultClient
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("invoke %s asynchronously: %w", function, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("invoke %s asynchronously: Lambda answered %s: %s", function, resp.Status, bytes.TrimSpace(body))
		}
		return nil
	}
}
