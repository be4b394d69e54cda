package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"time"
)

// The function runs its own loop over the Lambda Runtime API instead of
// aws-lambda-go's lambda.Start, for one reason: an async scan answers at
// once and keeps working in the same invocation, which needs the
// response posted before the loop asks for the next event (see the AWS
// Compute Blog, "Running code after returning a response from an AWS
// Lambda function"). lambda.Start posts the response only when the
// handler returns. The loop is the documented protocol
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):
// next, then response or error, per invocation.

// invocation is one event from the Runtime API.
type invocation struct {
	id       string
	deadline time.Time
	event    []byte
}

// outcome is what handling an event produced: the response to post, and
// work to do after it is posted (nil: none) within the same deadline.
type outcome struct {
	response any
	after    func(ctx context.Context)
}

// eventHandler handles one event.
type eventHandler func(ctx context.Context, inv *invocation) (outcome, error)

// typedError is an error with a name for the caller: Step Functions
// matches Retry and Catch on it (errorType).
type typedError interface {
	error
	ErrorType() string
}

// runtimeAPI talks to the Runtime API at addr (AWS_LAMBDA_RUNTIME_API).
type runtimeAPI struct {
	base   string
	client *http.Client
}

func newRuntimeAPI(addr string) *runtimeAPI {
	// No timeout: "next" blocks until an event arrives.
	return &runtimeAPI{base: "http://" + addr + "/2018-06-01/runtime", client: &http.Client{}}
}

// serve handles events until the Runtime API fails (the environment is
// being shut down) or ctx ends.
func (api *runtimeAPI) serve(ctx context.Context, handle eventHandler) error {
	for {
		inv, err := api.next(ctx)
		if err != nil {
			return err
		}
		api.run(ctx, inv, handle)
	}
}

func (api *runtimeAPI) run(ctx context.Context, inv *invocation, handle eventHandler) {
	ctx, cancel := context.WithDeadline(ctx, inv.deadline)
	defer cancel()
	out, err := callSafely(ctx, inv, handle)
	if err != nil {
		api.postError(ctx, inv.id, err)
		return
	}
	body, err := json.Marshal(out.response)
	if err != nil {
		api.postError(ctx, inv.id, fmt.Errorf("encode the response: %w", err))
		return
	}
	if err := api.post(ctx, "/invocation/"+inv.id+"/response", body, ""); err != nil {
		log.Printf("aclscan-lambda: post the response of %s: %v", inv.id, err)
	}
	if out.after != nil {
		func() {
			defer func() {
				if p := recover(); p != nil {
					log.Printf("aclscan-lambda: panic after the response of %s: %v\n%s", inv.id, p, debug.Stack())
				}
			}()
			out.after(ctx)
		}()
	}
}

// callSafely turns a panic into an error response, as lambda.Start does.
func callSafely(ctx context.Context, inv *invocation, handle eventHandler) (out outcome, err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Printf("aclscan-lambda: panic: %v\n%s", p, debug.Stack())
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return handle(ctx, inv)
}

func (api *runtimeAPI) next(ctx context.Context) (*invocation, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.base+"/invocation/next", nil)
	if err != nil {
		return nil, err
	}
	resp, err := api.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ask the Runtime API for the next event: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the next event: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the Runtime API answered %s to next: %.200s", resp.Status, body)
	}
	inv := &invocation{id: resp.Header.Get("Lambda-Runtime-Aws-Request-Id"), event: body}
	if inv.id == "" {
		return nil, errors.New("the Runtime API gave an event without a request id")
	}
	ms, err := strconv.ParseInt(resp.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("the Runtime API gave a bad deadline %q", resp.Header.Get("Lambda-Runtime-Deadline-Ms"))
	}
	inv.deadline = time.UnixMilli(ms)
	if trace := resp.Header.Get("Lambda-Runtime-Trace-Id"); trace != "" {
		os.Setenv("_X_AMZN_TRACE_ID", trace) // the SDK's tracing reads it
	}
	return inv, nil
}

func (api *runtimeAPI) postError(ctx context.Context, id string, err error) {
	errType := "Error"
	var te typedError
	if errors.As(err, &te) {
		errType = te.ErrorType()
	}
	body, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": errType})
	if perr := api.post(ctx, "/invocation/"+id+"/error", body, errType); perr != nil {
		log.Printf("aclscan-lambda: post the error of %s: %v", id, perr)
	}
}

// initError reports a failed start (bad settings) and is the last call.
func (api *runtimeAPI) initError(err error) {
	body, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": "Runtime.InitError"})
	_ = api.post(context.Background(), "/init/error", body, "Runtime.InitError")
}

func (api *runtimeAPI) post(ctx context.Context, path string, body []byte, errType string) error {
	// The response is posted even when the invocation's deadline has
	// passed: the Runtime API decides what a late answer means.
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, api.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if errType != "" {
		req.Header.Set("Lambda-Runtime-Function-Error-Type", errType)
	}
	resp, err := api.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the Runtime API answered %s", resp.Status)
	}
	return nil
}
