package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// The continuation is Lambda's Invoke as its API reference documents it
// (POST /2015-03-31/functions/NAME/invocations, X-Amz-Invocation-Type:
// Event, SigV4 for service "lambda"), checked against an httptest server
// standing in for Lambda.
func TestSelfInvokerSendsASignedEventInvoke(t *testing.T) {
	var got *http.Request
	var body string
	status := http.StatusAccepted
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, body = r, string(b)
		w.WriteHeader(status)
		w.Write([]byte(`{"Type":"User","message":"denied"}`))
	}))
	defer srv.Close()
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}
	invoke := asyncInvoker("stack-aclscan", cfg, srv.URL)
	if err := invoke(context.Background(), []byte(`{"async":true,"scan_id":"s","part":2}`)); err != nil {
		t.Fatal(err)
	}
	auth := got.Header.Get("Authorization")
	if got.Method != http.MethodPost || got.URL.Path != "/2015-03-31/functions/stack-aclscan/invocations" ||
		got.Header.Get("X-Amz-Invocation-Type") != "Event" || !strings.Contains(auth, "/eu-west-1/lambda/aws4_request") ||
		!strings.Contains(auth, "Credential=AKIDEXAMPLE/") || body != `{"async":true,"scan_id":"s","part":2}` {
		t.Errorf("request %s %s, headers %v, body %s", got.Method, got.URL.Path, got.Header, body)
	}
	status = http.StatusForbidden
	if err := invoke(context.Background(), []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "denied") {
		t.Errorf("a refused invoke: %v", err)
	}
	if err := asyncInvoker("", cfg, srv.URL)(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "AWS_LAMBDA_FUNCTION_NAME") {
		t.Errorf("no function name: %v", err)
	}
}
