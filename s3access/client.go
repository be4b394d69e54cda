// Package s3access builds the S3 client aclscan uses: AWS configuration
// from the standard chain, an HTTP transport tuned for many concurrent
// requests, endpoint, CA and path-style handling, retries, and the
// translation of errors into one actionable line.
package s3access

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aclscan/aclscan/s3access/internal/wire"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
)

// Options configure the client. The zero value means: the SDK's default
// chain for everything, 64 kept-alive connections, 5 attempts.
type Options struct {
	// EndpointURL overrides the S3 endpoint (also AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL).
	EndpointURL string
	// PathStyle forces path-style addressing. It is switched on by itself
	// for endpoints that are IP addresses or localhost.
	PathStyle bool
	Region    string
	Profile   string
	// CABundle is a PEM file of extra trusted CAs (also AWS_CA_BUNDLE).
	CABundle string
	// Connections is how many connections to keep alive to the endpoint;
	// it should be at least the number of concurrent requests, or every
	// request beyond it opens (and TLS-handshakes) a new connection.
	// Negative means no limit on open or idle connections.
	Connections int
	// MaxAttempts bounds the attempts per request (first try included).
	MaxAttempts int
	// RequestTimeout bounds one attempt, from sending to reading the body.
	RequestTimeout time.Duration
	// SDKObjectACL sends GetObjectAcl through the SDK's full middleware
	// stack instead of the lean path (for comparison and as a fallback).
	SDKObjectACL bool
	// StdTransport sends the lean path's requests through net/http's
	// Transport instead of aclscan's own connection pool (internal/wire), for
	// comparison and as a fallback.
	StdTransport bool
	// UserAgent is sent by the lean path (default "aclscan").
	UserAgent string
	// Throttling is how GetObjectAcl reacts to S3 asking it to slow down:
	// ThrottleAIMD (default), ThrottleAdaptive or ThrottleOff.
	Throttling string
	// InsecureSkipVerify accepts any TLS certificate. Only an explicit
	// choice (a test endpoint with a throw-away certificate) sets it: the
	// command line warns, and nothing falls back to it.
	InsecureSkipVerify bool
	// Credentials, when set, sign every request instead of the default
	// chain's (environment, profiles, roles): a library user's own keys or
	// provider, or a test's, without touching the process environment.
	// StaticCredentials makes one from keys.
	Credentials aws.CredentialsProvider
	// Backoff replaces the retry policy's delays (tests use it to retry
	// without waiting).
	Backoff retry.BackoffDelayer

	// AccountID is the account whose Block Public Access settings apply
	// ("" asks STS GetCallerIdentity for the caller's).
	AccountID string
	// STSEndpointURL and ControlEndpointURL override the endpoints of STS
	// and S3 Control, which hold the account-level settings (also
	// AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_S3_CONTROL). With a custom S3
	// endpoint and neither given, the account settings are not read: they
	// are AWS's, and the credentials are the custom endpoint's.
	STSEndpointURL     string
	ControlEndpointURL string
}

// DefaultConnections is the number of kept-alive connections when
// Options.Connections is zero.
const DefaultConnections = 64

// DefaultMaxAttempts is the bound on attempts per request.
const DefaultMaxAttempts = 5

// DefaultRequestTimeout bounds a single attempt.
const DefaultRequestTimeout = 60 * time.Second

// Client is aclscan's S3 client: each exported method is one promise
// (GetObjectACL, ListPage, BucketContext, PutObjectACL, ...), on the lean
// path or through the SDK as the options say, with a count of the HTTP
// requests sent (retries included). The AWS SDK client it is built on is
// not embedded: a promoted SDK method beside aclscan's own of the same
// name would silently do something else. SDK hands it out for the calls
// aclscan does not wrap.
type Client struct {
	sdk *s3.Client
	// Endpoint is the endpoint in use, "" for AWS's default.
	Endpoint string
	Region   string
	// awsConfig builds the clients of the account-level calls (STS, S3
	// Control) with the same credentials, HTTP client and retries.
	awsConfig aws.Config
	account   accountOptions
	requests  *atomic.Int64
	answered  *atomic.Bool

	// The lean GetObjectAcl path's parts, shared with the SDK client.
	sdkObjectACL bool
	httpClient   aws.HTTPClient
	credentials  aws.CredentialsProvider
	signer       *wire.Signer
	retryer      aws.Retryer
	userAgent    string
	endpoints    sync.Map  // bucket -> *bucketEndpoint
	buffers      sync.Pool // *bytes.Buffer for response bodies
	// pool is the HTTP client's connection pool (nil if not reachable),
	// emptied of idle connections after a connection fails; lastPurge is
	// when, in UnixNano.
	pool      *http.Transport
	lastPurge atomic.Int64
	// conns sends the lean path's requests on the pool's dialer and TLS
	// settings without its goroutines (nil: through httpClient).
	conns *wire.Pool

	// Throttling: limiter (aimd) or attemptTokens (adaptive), or neither.
	limiter       *aimdLimiter
	attemptTokens aws.RetryerV2
	retries       atomic.Int64
	throttles     atomic.Int64
	// skew is how far the server's clock is ahead of this machine's (ns),
	// learnt from a RequestTimeTooSkewed answer.
	skew atomic.Int64
}

// PlainHTTPSessionCredentials reports whether the client sends temporary
// (session) credentials' requests over plain http://: the signature does
// not expose the secret, but the token travels in the clear and can be
// replayed by anyone on the path until it expires.
func (c *Client) PlainHTTPSessionCredentials(ctx context.Context) bool {
	if !strings.HasPrefix(strings.ToLower(c.Endpoint), "http://") || c.credentials == nil {
		return false
	}
	creds, err := c.credentials.Retrieve(ctx)
	return err == nil && creds.SessionToken != ""
}

// SDK is the AWS SDK client with the same configuration (credentials,
// endpoint, transport, retries), for the calls aclscan does not wrap:
// reading and writing report files and inventory manifests. Its listings
// are the SDK's own (Delimiter and CommonPrefixes honoured), not the lean
// ones behind ListPage.
func (c *Client) SDK() *s3.Client { return c.sdk }

// Requests returns how many HTTP requests the client has sent.
func (c *Client) Requests() int64 { return c.requests.Load() }

// Retries returns how many GetObjectAcl attempts were retries.
func (c *Client) Retries() int64 { return c.retries.Load() }

// Throttles returns how many GetObjectAcl answers asked to slow down.
func (c *Client) Throttles() int64 { return c.throttles.Load() }

// CloseIdleConnections closes the kept-alive connections not in use. A
// client kept between scans (a Lambda environment, a soak run) can call
// it when it goes quiet.
func (c *Client) CloseIdleConnections() {
	if c.pool != nil {
		c.pool.CloseIdleConnections()
	}
	if c.conns != nil {
		c.conns.CloseIdle()
	}
}

// ConcurrencyLimit returns the cap the AIMD controller puts on requests
// in flight now (0 when it is not in use).
func (c *Client) ConcurrencyLimit() int {
	if c.limiter == nil {
		return 0
	}
	return c.limiter.current()
}

// retryCutShort makes a connection closed before a whole answer (EOF
// mid-response, or before any: a proxy or load balancer whose backend is
// down, a server that restarted while the connection sat idle) a
// retryable failure, which the SDK's own checks do not. aclscan only
// reads: every request is safe to repeat.
var retryCutShort = retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isIdleConnClosed(err) {
		return aws.TrueTernary
	}
	return aws.UnknownTernary
})

// UsageError marks an error in the options the user gave (exit code 2).
// Setting names the option, when one is at fault; Msg does not name it
// in any shell's words (see Setting).
type UsageError struct {
	Setting Setting
	Msg     string
}

// New loads the AWS configuration and builds a client. Create it once and
// reuse it: it owns the connection pool.
func New(ctx context.Context, opts Options) (*Client, error) {
	endpoint, err := resolveEndpoint(opts.EndpointURL)
	if err != nil {
		return nil, err
	}
	opts, err = opts.withDefaults()
	if err != nil {
		return nil, err
	}
	answered := new(atomic.Bool)
	cfg, err := loadConfig(ctx, opts, answered)
	if err != nil {
		return nil, err
	}
	pool := ownTransport(&cfg, opts.RequestTimeout)
	counter := new(atomic.Int64)
	cfg.HTTPClient = countingClient{inner: cfg.HTTPClient, n: counter, answered: answered}

	pathStyle := opts.PathStyle || needsPathStyle(endpoint)
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = pathStyle
	})
	c := &Client{
		sdk:          client,
		Endpoint:     endpoint,
		Region:       cfg.Region,
		awsConfig:    cfg,
		account:      accountOptions{id: opts.AccountID, stsEndpoint: opts.STSEndpointURL, controlEndpoint: opts.ControlEndpointURL},
		requests:     counter,
		answered:     answered,
		sdkObjectACL: opts.SDKObjectACL,
		httpClient:   cfg.HTTPClient,
		credentials:  cfg.Credentials,
		signer:       &wire.Signer{},
		retryer:      cfg.Retryer(),
		userAgent:    opts.UserAgent,
		pool:         pool,
	}
	if pool != nil && !opts.StdTransport {
		c.conns = wire.NewPool(pool, opts.RequestTimeout)
	}
	switch opts.Throttling {
	case ThrottleAIMD:
		c.limiter = newAIMDLimiter(aimdCeiling)
	case ThrottleAdaptive:
		c.attemptTokens, _ = c.retryer.(aws.RetryerV2)
	}
	return c, nil
}

// withDefaults fills the zero values and checks the rest.
func (opts Options) withDefaults() (Options, error) {
	if opts.Connections == 0 {
		opts.Connections = DefaultConnections
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "aclscan"
	}
	var err error
	opts.Throttling, err = ParseThrottling(opts.Throttling)
	return opts, err
}

// loadConfig loads the SDK's configuration from the standard chain, with
// aclscan's HTTP client, retry policy and the options' overrides.
func loadConfig(ctx context.Context, opts Options, answered *atomic.Bool) (aws.Config, error) {
	loadOpts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(newHTTPClient(opts)),
		// The SDK's own log lines (e.g. "WARN falling back to IMDSv1" when
		// no credentials are set) would break aclscan's one-line errors;
		// what they say reaches the user through the error that follows.
		config.WithLogger(logging.Nop{}),
		config.WithRetryer(func() aws.Retryer { return newRetryer(opts, answered) }),
	}
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	if opts.Profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(opts.Profile))
	}
	if opts.Credentials != nil {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(opts.Credentials))
	}
	if opts.CABundle != "" {
		f, err := os.Open(opts.CABundle)
		if err != nil {
			return aws.Config{}, &UsageError{Setting: SettingCABundle, Msg: fmt.Sprintf("cannot read the CA bundle: %v", err)}
		}
		defer f.Close()
		loadOpts = append(loadOpts, config.WithCustomCABundle(f))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return aws.Config{}, explainConfigError(err, opts)
	}
	if cfg.Region == "" {
		// Any region signs requests to a custom endpoint; on AWS, us-east-1
		// is where the global endpoint lives.
		cfg.Region = "us-east-1"
	}
	return cfg, nil
}

// newHTTPClient is the SDK's buildable client with a pool sized for the
// requests in flight.
func newHTTPClient(opts Options) *awshttp.BuildableClient {
	conns := opts.Connections
	return awshttp.NewBuildableClient().WithTimeout(opts.RequestTimeout).WithTransportOptions(func(t *http.Transport) {
		if opts.InsecureSkipVerify {
			if t.TLSClientConfig == nil {
				t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			t.TLSClientConfig.InsecureSkipVerify = true
		}
		if conns < 0 {
			t.MaxConnsPerHost = 0
			t.MaxIdleConns = 0
			t.MaxIdleConnsPerHost = 1 << 16
			return
		}
		// Each concurrent request keeps its own connection alive; the
		// SDK's default of 10 idle per host would close and reopen the rest.
		t.MaxIdleConns = conns + 8
		t.MaxIdleConnsPerHost = conns + 8
	})
}

// newRetryer is the SDK's standard (or adaptive) retry policy with
// aclscan's attempts, no client-side retry quota, connections cut short
// counted as retryable, and short delays while the endpoint has never
// answered (see neverAnsweredBackoff).
func newRetryer(opts Options, answered *atomic.Bool) aws.Retryer {
	standard := func(o *retry.StandardOptions) {
		o.MaxAttempts = opts.MaxAttempts
		// The client-side retry quota would turn a burst of throttling
		// into hard failures; backoff bounds retries.
		o.RateLimiter = ratelimit.None
		o.Retryables = append([]retry.IsErrorRetryable{retryCutShort}, o.Retryables...)
		then := opts.Backoff
		if then == nil {
			// The standard policy's own (not yet set when options apply).
			then = retry.NewExponentialJitterBackoff(cmp.Or(o.MaxBackoff, retry.DefaultMaxBackoff))
		}
		o.Backoff = neverAnsweredBackoff{answered: answered, then: then}
	}
	if opts.Throttling == ThrottleAdaptive {
		return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
			o.StandardOptions = append(o.StandardOptions, standard)
		})
	}
	return retry.NewStandard(standard)
}

// ownTransport replaces the SDK's HTTP client (which holds the CA bundle
// by now) with a plain one on the same transport, to keep a hold of the
// connection pool, and returns the pool (nil if not reachable).
func ownTransport(cfg *aws.Config, timeout time.Duration) *http.Transport {
	b, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		return nil
	}
	pool := b.GetTransport()
	cfg.HTTPClient = &http.Client{
		Transport: pool,
		Timeout:   timeout,
		// A redirect is an answer to explain (the bucket's region),
		// not to follow with credentials to another host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return pool
}

// aimdCeiling bounds the AIMD limit's growth. Requests in flight are
// bounded by the caller's workers; the limit only matters once S3
// throttles, and then it is cut from the requests actually in flight.
const aimdCeiling = 1 << 16

// StaticCredentials returns a provider of fixed keys, for Options.Credentials.
func StaticCredentials(accessKeyID, secretAccessKey, sessionToken string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, sessionToken)
}

// resolveEndpoint picks the endpoint from the flag or the SDK's standard
// variables and checks that it is a usable URL.
func resolveEndpoint(flag string) (string, error) {
	endpoint, source := flag, ""
	for _, name := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if endpoint != "" {
			break
		}
		endpoint, source = os.Getenv(name), name+" "
	}
	if endpoint == "" {
		return "", nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		e := &UsageError{Msg: fmt.Sprintf("%s%q is not a URL like https://s3.example.com:9000", source, endpoint)}
		if source == "" {
			e.Setting = SettingEndpoint
		}
		return "", e
	}
	return strings.TrimSuffix(endpoint, "/"), nil
}

// needsPathStyle reports whether virtual-hosted addressing cannot work:
// bucket.127.0.0.1 does not resolve.
func needsPathStyle(endpoint string) bool {
	if endpoint == "" {
		return false
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	host := u.Hostname()
	return host == "localhost" || net.ParseIP(host) != nil
}

func explainConfigError(err error, opts Options) error {
	msg := err.Error()
	switch {
	case opts.Profile != "" && strings.Contains(msg, "failed to get shared config profile"):
		return &UsageError{Setting: SettingProfile, Msg: fmt.Sprintf("AWS profile %q not found in the shared config or credentials file", opts.Profile)}
	case strings.Contains(msg, "custom CA bundle") || strings.Contains(msg, "CA bundle"):
		return &UsageError{Setting: SettingCABundle, Msg: fmt.Sprintf("the CA bundle is not a valid PEM file: %v", err)}
	}
	return fmt.Errorf("load AWS configuration: %w", err)
}

// countingClient counts every HTTP request the SDK sends, retries
// included, and records that the endpoint answered once any response
// arrives.
type countingClient struct {
	inner    aws.HTTPClient
	n        *atomic.Int64
	answered *atomic.Bool
}

func (c countingClient) Do(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	resp, err := c.inner.Do(req)
	if err == nil && !c.answered.Load() {
		c.answered.Store(true)
	}
	return resp, err
}

// neverAnsweredBackoff keeps retries short while the endpoint has not
// answered a single request: a connection refused, reset or timed out on
// an endpoint that never answered is far more often a mistyped endpoint
// than an outage, and the user should hear so in seconds (100 ms doubling,
// 1.5 s over five attempts). Once it has answered, failures are retried
// with the standard backoff, which rides out a restart.
type neverAnsweredBackoff struct {
	answered *atomic.Bool
	then     retry.BackoffDelayer
}

func (b neverAnsweredBackoff) BackoffDelay(attempt int, err error) (time.Duration, error) {
	if b.answered.Load() || HTTPStatus(err) != 0 {
		return b.then.BackoffDelay(attempt, err)
	}
	return min(100*time.Millisecond<<min(attempt-1, 4), time.Second), nil
}

// Answered reports whether the endpoint has answered any request of this
// client (any HTTP status). Until it has, a failure to connect is not an
// outage to wait out.
func (c *Client) Answered() bool { return c.answered.Load() }

// isIdleConnClosed reports net/http's error for a kept-alive connection
// the server closed under a request (the error is not exported).
func isIdleConnClosed(err error) bool {
	return strings.Contains(err.Error(), "server closed idle connection")
}

// BucketOwner reads the bucket's ACL (GetBucketAcl) for its owner's
// canonical ID ("" when the answer names none).
func (c *Client) BucketOwner(ctx context.Context, bucket string) (string, error) {
	out, err := c.sdk.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: &bucket})
	if err != nil || out.Owner == nil {
		return "", err
	}
	return aws.ToString(out.Owner.ID), nil
}

// VersionExists asks (HeadObject) whether a version of key exists: false
// when the server answers that it does not, or that it is a delete marker.
func (c *Client) VersionExists(ctx context.Context, bucket, key, versionID string) (bool, error) {
	_, err := c.sdk.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key, VersionId: &versionID})
	switch status := HTTPStatus(err); {
	case err == nil:
		return true, nil
	case status == http.StatusNotFound, status == http.StatusMethodNotAllowed:
		return false, nil
	}
	return false, err
}

// AWSConfig is the configuration the client was made from (region,
// credentials, HTTP client): for a shell's calls to other AWS services
// with the same identity.
func (c *Client) AWSConfig() aws.Config { return c.awsConfig }
