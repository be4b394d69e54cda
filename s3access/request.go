package s3access

// The lean request engine: one GET or HEAD signed with the lean signer,
// sent on aclscan's own connections (internal/wire), retried under the
// throttling controller, redirected once to the bucket's Region, and its
// error answers read. Every lean call (GetObjectAcl, list pages, bucket
// settings, anonymous HEAD) goes through send.

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aclscan/aclscan/s3access/internal/wire"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyauth "github.com/aws/smithy-go/auth"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// leanRequest is one GET (or HEAD) on the lean path.
type leanRequest struct {
	op     string // the S3 operation, for errors
	method string // "" for GET
	// bucket names the bucket the endpoint was resolved for (its Region
	// is learnt again from an answer naming another).
	bucket string
	// anonymous sends the request unsigned, as anyone on the internet can.
	anonymous bool
	// maxAttempts bounds the failed attempts (throttled ones have their own budget).
	maxAttempts int
	ep          *bucketEndpoint
	key         string // "" for a bucket-level call
	rawQuery    string // in SigV4's canonical order
	maxBody     int64
	// parse reads a successful answer's body, valid only during the call.
	parse func([]byte) error
}

// send performs req with the client's retry policy and throttling
// controller.
func (c *Client) send(ctx context.Context, req *leanRequest) error {
	op := req.op
	// Throttling is the server pacing the scan, not a fault of the object:
	// throttled attempts have a budget of their own.
	maxAttempts := req.maxAttempts
	maxThrottled := maxAttempts * throttleAttemptsFactor
	throttled := 0
	redirected := false
	for attempt := 1; ; attempt++ {
		err := c.attempt(ctx, req)
		if err == nil {
			return nil
		}
		if c.correctSkew(err) && attempt < maxAttempts {
			continue // signed again with the server's clock, at once
		}
		if !redirected && c.followRegion(ctx, req, err) {
			redirected = true
			continue // once, at once, in the bucket's own Region
		}
		if IsThrottle(err) {
			throttled++
		} else if HTTPStatus(err) == 0 {
			c.purgeIdle()
		}
		failures := attempt - throttled
		if failures >= maxAttempts || throttled >= maxThrottled || ctx.Err() != nil || !c.retryer.IsErrorRetryable(err) {
			return &OperationError{Op: op, Attempts: attempt, Err: err}
		}
		delay, derr := c.retryer.RetryDelay(attempt, err)
		if derr != nil {
			return &OperationError{Op: op, Attempts: attempt, Err: err}
		}
		if c.limiter != nil && IsThrottle(err) {
			// The limiter already slows the whole client down; the
			// seconds-long standard backoff would only idle this request.
			delay = throttleBackoff(throttled)
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return &OperationError{Op: op, Attempts: attempt, Err: ctx.Err()}
		case <-timer.C:
		}
		c.retries.Add(1)
	}
}

// followRegion points req at the bucket's own Region when the answer
// names another (301 PermanentRedirect with x-amz-bucket-region, 400
// AuthorizationHeaderMalformed with <Region>), as the SDK's redirect
// does: the bucket's endpoint is resolved again and kept for its later
// requests.
func (c *Client) followRegion(ctx context.Context, req *leanRequest, err error) bool {
	var re *ResponseError
	if req.bucket == "" || !errors.As(err, &re) || re.Region == "" || re.Region == req.ep.signingRegion {
		return false
	}
	switch re.Code {
	case "PermanentRedirect", "TemporaryRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
	default:
		return false
	}
	ep, rerr := c.resolveEndpoint(ctx, req.bucket, re.Region)
	if rerr != nil || ep.useSDK {
		return false
	}
	c.endpoints.Store(req.bucket, ep)
	req.ep = ep
	return true
}

// correctSkew reads the server's clock from a RequestTimeTooSkewed answer
// and signs later requests with it, as the SDK does: a machine whose
// clock is off by more than 15 minutes would fail every request.
func (c *Client) correctSkew(err error) bool {
	var re *ResponseError
	if !errors.As(err, &re) || re.Code != "RequestTimeTooSkewed" || re.ServerTime.IsZero() {
		return false
	}
	c.skew.Store(int64(time.Until(re.ServerTime)))
	return true
}

// purgeIdle closes the idle kept-alive connections after a connection
// failed without an answer: when a server (or the proxy or load balancer
// in front of it) restarts, every idle connection to it is dead, and each
// retry would otherwise take the next dead one from the pool and fail
// again. At most once per purgeInterval: the pool refills by itself.
func (c *Client) purgeIdle() {
	if c.pool == nil {
		return
	}
	now, last := time.Now().UnixNano(), c.lastPurge.Load()
	if now-last < int64(purgeInterval) || !c.lastPurge.CompareAndSwap(last, now) {
		return
	}
	c.CloseIdleConnections()
}

const purgeInterval = 100 * time.Millisecond

// throttleBackoff is the delay before the n-th throttled retry under the
// AIMD limiter: 100 ms doubling per retry, capped at 5 s, with jitter.
func throttleBackoff(n int) time.Duration {
	d := min(100*time.Millisecond<<min(n-1, 6), 5*time.Second)
	return d/2 + rand.N(d)
}

// throttleAttemptsFactor sizes the throttled attempts' budget: this many
// times MaxAttempts.
const throttleAttemptsFactor = 4

// attempt sends one request under the throttling controller.
func (c *Client) attempt(ctx context.Context, req *leanRequest) error {
	var err error
	switch {
	case c.limiter != nil:
		sent, aerr := c.limiter.acquire(ctx)
		if aerr != nil {
			return aerr
		}
		err = c.sendOnce(ctx, req)
		c.limiter.release(sent, IsThrottle(err))
	case c.attemptTokens != nil:
		release, aerr := c.attemptTokens.GetAttemptToken(ctx)
		if aerr != nil {
			return aerr
		}
		err = c.sendOnce(ctx, req)
		_ = release(err)
	default:
		err = c.sendOnce(ctx, req)
	}
	if IsThrottle(err) {
		c.throttles.Add(1)
	}
	return err
}

// OperationError is a failed lean-path call, after its attempts.
type OperationError struct {
	Op       string
	Attempts int
	Err      error
}

func (e *OperationError) Error() string {
	if e.Attempts > 1 {
		return fmt.Sprintf("%s failed after %d attempts: %v", e.Op, e.Attempts, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Op, e.Err)
}

func (e *OperationError) Unwrap() error { return e.Err }

// ResponseError is an error answer of S3 (a non-2xx status with an XML
// <Error> body, or none). It implements smithy.APIError and the SDK's
// retry interfaces, so the standard retry policy judges it as it would the
// SDK's own errors.
type ResponseError struct {
	Status    int
	Code      string
	Message   string
	RequestID string
	// Region is the bucket's region when the server names it (a request
	// sent to the wrong region).
	Region string
	// ServerTime is the answer's Date (read for RequestTimeTooSkewed).
	ServerTime time.Time
}

func (e *ResponseError) Error() string {
	msg := fmt.Sprintf("api error %s (HTTP %d)", e.Code, e.Status)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

func (e *ResponseError) ErrorCode() string    { return e.Code }
func (e *ResponseError) ErrorMessage() string { return e.Message }
func (e *ResponseError) HTTPStatusCode() int  { return e.Status }

// ErrorFault is part of smithy.APIError: 5xx are the server's fault.
func (e *ResponseError) ErrorFault() smithy.ErrorFault {
	if e.Status >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

// bucketEndpoint is where and how requests for one bucket are sent.
type bucketEndpoint struct {
	base          url.URL // scheme, host and the path up to the key ("/bucket" in path style)
	headers       http.Header
	signingName   string
	signingRegion string
	// useSDK is set when the endpoint needs more than SigV4 (e.g. SigV4a
	// for multi-region access points): the SDK path handles those.
	useSDK bool
}

func (c *Client) bucketEndpoint(ctx context.Context, bucket string) (*bucketEndpoint, error) {
	if v, ok := c.endpoints.Load(bucket); ok {
		return v.(*bucketEndpoint), nil
	}
	ep, err := c.resolveEndpoint(ctx, bucket, c.sdk.Options().Region)
	if err != nil {
		return nil, err
	}
	actual, _ := c.endpoints.LoadOrStore(bucket, ep)
	return actual.(*bucketEndpoint), nil
}

// resolveEndpoint resolves where the bucket's requests go in a Region.
func (c *Client) resolveEndpoint(ctx context.Context, bucket, region string) (*bucketEndpoint, error) {
	opts := c.sdk.Options()
	params := s3.EndpointParameters{
		Bucket:         aws.String(bucket),
		Region:         aws.String(region),
		ForcePathStyle: aws.Bool(opts.UsePathStyle),
		Accelerate:     aws.Bool(opts.UseAccelerate),
		UseFIPS:        aws.Bool(opts.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
		UseDualStack:   aws.Bool(opts.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled),
		Endpoint:       opts.BaseEndpoint,
	}
	resolved, err := opts.EndpointResolverV2.ResolveEndpoint(ctx, params.WithDefaults())
	if err != nil {
		return nil, err
	}
	ep := &bucketEndpoint{base: resolved.URI, headers: resolved.Headers, signingName: "s3", signingRegion: region}
	if schemes, ok := smithyauth.GetAuthOptions(&resolved.Properties); ok && len(schemes) > 0 {
		scheme := schemes[0]
		// Endpoint rules name schemes "sigv4", "sigv4a", "sigv4-s3express".
		if scheme.SchemeID != "sigv4" && scheme.SchemeID != smithyauth.SchemeIDSigV4 {
			ep.useSDK = true
		}
		if name, ok := smithyhttp.GetSigV4SigningName(&scheme.SignerProperties); ok {
			ep.signingName = name
		}
		if region, ok := smithyhttp.GetSigV4SigningRegion(&scheme.SignerProperties); ok {
			ep.signingRegion = region
		}
	}
	ep.base.Path = strings.TrimSuffix(ep.base.Path, "/")
	ep.base.RawPath = ""
	return ep, nil
}

// pooledBufferLimit keeps a rare huge response's buffer out of the pool.
const pooledBufferLimit = 64 << 10

func (c *Client) sendOnce(ctx context.Context, lr *leanRequest) error {
	ep, key, maxBody := lr.ep, lr.key, lr.maxBody
	u := ep.base
	if key != "" {
		u.Path = ep.base.Path + "/" + key
		u.RawPath = ep.base.Path + "/" + wire.Escape(key, true)
	} else if u.Path == "" {
		u.Path = "/"
	}
	u.RawQuery = lr.rawQuery
	// The URL is built, not parsed: set it on the request directly.
	method := lr.method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, "", nil)
	if err != nil {
		return err
	}
	req.URL, req.Host = &u, u.Host
	for name, values := range ep.headers {
		req.Header[name] = values
	}
	req.Header.Set("User-Agent", c.userAgent)
	if !lr.anonymous {
		if err := c.sign(ctx, req, ep); err != nil {
			return err
		}
	}
	resp, err := c.roundTrip(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf, _ := c.buffers.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	defer func() {
		if buf.Cap() <= pooledBufferLimit {
			c.buffers.Put(buf)
		}
	}()
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("read response (HTTP %d): %w", resp.StatusCode, err)
	}
	if n > maxBody {
		return fmt.Errorf("response larger than %d bytes (HTTP %d): not what was asked for", maxBody, resp.StatusCode)
	}
	if resp.StatusCode/100 != 2 {
		return parseErrorResponse(resp, buf.Bytes())
	}
	if lr.parse == nil {
		return nil
	}
	if err := lr.parse(buf.Bytes()); err != nil {
		if looksLikeHTML(resp.Header.Get("Content-Type"), buf.Bytes()) {
			return errNotS3
		}
		return err
	}
	return nil
}

// roundTrip sends a lean request on the client's own connections, or
// through the HTTP client when those do not take it.
func (c *Client) roundTrip(ctx context.Context, req *http.Request) (*http.Response, error) {
	if c.conns == nil {
		return c.httpClient.Do(req)
	}
	resp, err := c.conns.Do(ctx, req)
	if err == wire.ErrNotPooled {
		return c.httpClient.Do(req)
	}
	c.requests.Add(1)
	if err == nil && !c.answered.Load() {
		c.answered.Store(true)
	}
	return resp, err
}

// sign signs req with the client's credentials (SigV4, empty payload;
// the path as sent, S3's way), with the lean signer (internal/wire).
func (c *Client) sign(ctx context.Context, req *http.Request, ep *bucketEndpoint) error {
	req.Header.Set("X-Amz-Content-Sha256", wire.EmptyPayloadSHA256)
	creds, err := c.credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("failed to retrieve credentials: %w", err)
	}
	c.signer.Sign(req, creds, wire.EmptyPayloadSHA256, ep.signingName, ep.signingRegion, time.Now().Add(time.Duration(c.skew.Load())))
	return nil
}

// errNotS3 is a 200 answer that is a web page: something other than S3
// answered.
var errNotS3 = errors.New("the endpoint answered with an HTML page, not S3's XML (a proxy, a captive portal, or the wrong endpoint URL?)")

func looksLikeHTML(contentType string, body []byte) bool {
	if strings.Contains(strings.ToLower(contentType), "html") {
		return true
	}
	head := bytes.ToLower(bytes.TrimSpace(body[:min(len(body), 64)]))
	return bytes.HasPrefix(head, []byte("<!doctype html")) || bytes.HasPrefix(head, []byte("<html"))
}

func parseErrorResponse(resp *http.Response, body []byte) error {
	e := &ResponseError{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Amz-Request-Id"), Region: resp.Header.Get("X-Amz-Bucket-Region")}
	var doc struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
		// Region: AuthorizationHeaderMalformed names the bucket's.
		Region string `xml:"Region"`
	}
	if xml.Unmarshal(body, &doc) == nil {
		e.Code, e.Message = doc.Code, doc.Message
		if e.Region == "" {
			e.Region = doc.Region
		}
	}
	if e.Code == "RequestTimeTooSkewed" {
		e.ServerTime, _ = http.ParseTime(resp.Header.Get("Date"))
	}
	if e.Code == "" {
		// No parsable body: name the status as S3 does for HEAD-style errors.
		switch resp.StatusCode {
		case 403:
			e.Code = "AccessDenied"
		case 404:
			e.Code = "NotFound"
		case 503:
			e.Code = "ServiceUnavailable"
		default:
			e.Code = strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "")
			if e.Code == "" {
				e.Code = "HTTP" + strconv.Itoa(resp.StatusCode)
			}
		}
	}
	return e
}
