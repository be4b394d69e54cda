package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// SessionDuration is how long an assumed role's session is asked for:
// one hour, the most STS grants a chained session (a role assumed with
// another role's credentials, as a Lambda function's are).
const SessionDuration = time.Hour

// RefreshBefore is how long before a session expires it is assumed
// again: a request signed with it never meets an expired token.
const RefreshBefore = 10 * time.Minute

// Sessions assumes each account's role once and keeps the session,
// assuming it again before it expires.
type Sessions struct {
	// STS is the client that assumes the roles, with the caller's
	// credentials. Its retryer backs off on STS's throttling.
	STS stscreds.AssumeRoleAPIClient
	// SessionName names the sessions in the accounts' CloudTrail
	// ("aclscan" when empty).
	SessionName string

	mu    sync.Mutex
	cache map[string]*aws.CredentialsCache
	calls map[string]*countingSTS
}

// NewSTS makes the STS client Sessions uses from the caller's config:
// STS's throttling is retried with backoff, up to 10 attempts.
func NewSTS(cfg aws.Config, endpoint string) *sts.Client {
	return sts.NewFromConfig(cfg, func(o *sts.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.Retryer = retry.NewStandard(func(s *retry.StandardOptions) {
			s.MaxAttempts = 10
			s.MaxBackoff = 20 * time.Second
		})
	})
}

// countingSTS counts an account's AssumeRole calls (the figures).
type countingSTS struct {
	api stscreds.AssumeRoleAPIClient
	mu  sync.Mutex
	n   int
}

func (c *countingSTS) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, opts ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.api.AssumeRole(ctx, in, opts...)
}

// For returns the credentials of a's role: assumed at the first request,
// kept, and assumed again RefreshBefore its expiry.
func (s *Sessions) For(a Account) aws.CredentialsProvider {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.cache[a.RoleARN+"\x00"+a.ExternalID]; c != nil {
		return c
	}
	if s.cache == nil {
		s.cache, s.calls = map[string]*aws.CredentialsCache{}, map[string]*countingSTS{}
	}
	name := s.SessionName
	if name == "" {
		name = "aclscan"
	}
	counted := &countingSTS{api: s.STS}
	provider := stscreds.NewAssumeRoleProvider(counted, a.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = name
		o.Duration = SessionDuration
		if a.ExternalID != "" {
			o.ExternalID = aws.String(a.ExternalID)
		}
	})
	c := aws.NewCredentialsCache(provider, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = RefreshBefore
		o.ExpiryWindowJitterFrac = 0.2 // accounts' sessions do not all renew at once
	})
	key := a.RoleARN + "\x00" + a.ExternalID
	s.cache[key], s.calls[key] = c, counted
	return c
}

// Calls is how many AssumeRole calls a's sessions took so far.
func (s *Sessions) Calls(a Account) int {
	s.mu.Lock()
	c := s.calls[a.RoleARN+"\x00"+a.ExternalID]
	s.mu.Unlock()
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// Open assumes a's role now: an account whose role cannot be assumed
// fails here, in seconds and one line, before any of its buckets.
func (s *Sessions) Open(ctx context.Context, a Account) error {
	if _, err := s.For(a).Retrieve(ctx); err != nil {
		return &DeniedError{Account: a, Err: err}
	}
	return nil
}

// DeniedError is an account whose role could not be assumed.
type DeniedError struct {
	Account Account
	Err     error
}

func (e *DeniedError) Error() string {
	why := e.Err.Error()
	var api smithy.APIError
	if errors.As(e.Err, &api) {
		why = api.ErrorCode()
		if msg := api.ErrorMessage(); msg != "" {
			why += ": " + msg
		}
	}
	hint := ""
	if strings.Contains(why, "AccessDenied") {
		hint = " (does the role exist, and does its trust policy name this caller" + map[bool]string{true: " and the external ID", false: ""}[e.Account.ExternalID != ""] + "?)"
	}
	return fmt.Sprintf("cannot assume %s in account %s: %s%s", e.Account.RoleARN, e.Account.ID, oneLine(why), hint)
}

func (e *DeniedError) Unwrap() error { return e.Err }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// STSEndpoint is where roles are assumed: AWS_ENDPOINT_URL_STS, or the
// S3 endpoint of an S3-compatible server (given, or AWS_ENDPOINT_URL_S3,
// AWS_ENDPOINT_URL: radosgw serves STS there), or "" for AWS's own.
func STSEndpoint(getenv func(string) string, s3Endpoint string) string {
	for _, e := range []string{getenv("AWS_ENDPOINT_URL_STS"), s3Endpoint, getenv("AWS_ENDPOINT_URL_S3"), getenv("AWS_ENDPOINT_URL")} {
		if e != "" {
			return e
		}
	}
	return ""
}
