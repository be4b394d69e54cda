package main

import (
	"context"
	"errors"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aclscan/aclscan/accounts"

	"github.com/aclscan/aclscan/accept"
	"github.com/aclscan/aclscan/batch"
	"github.com/aclscan/aclscan/fix"
	"github.com/aclscan/aclscan/internal/settings"
	"github.com/aclscan/aclscan/readiness"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
	"github.com/aclscan/aclscan/watch"
)

// Event is the invocation payload; every field is optional.
type Event struct {
	Bucket      string  `json:"bucket"`
	Prefix      *string `json:"prefix"`
	Strategy    string  `json:"strategy"`
	Concurrency int     `json:"concurrency"`
	// RoleARN, when set, is the role the bucket is read through (a member
	// account's); ALLOWED_ROLES bounds which.
	RoleARN string `json:"role_arn,omitempty"`
}

// Response is what an invocation returns.
type Response struct {
	report.SummaryRecord
	// Error says why the scan is incomplete.
	Error string `json:"error,omitempty"`
	// Risky holds the first risky objects; RiskyOmitted counts the others.
	Risky        []report.Record `json:"risky"`
	RiskyOmitted int64           `json:"risky_omitted"`
}

// config is read once per execution environment: the scan settings
// every event starts from, and the response's bound.
type config struct {
	scan       settings.Scan
	riskyLimit int
	// allowed are the buckets (names or globs) events may name
	// (ALLOWED_BUCKETS); empty: BUCKET_NAME only.
	allowed []string
	// reportBucket and reportPrefix are where batch and async reports go
	// (REPORT_BUCKET, REPORT_PREFIX); allRecords keeps every record of a
	// batch, not only the risky ones (RECORDS=all).
	reportBucket, reportPrefix string
	allRecords                 bool
	// partBytes bounds the records an async scan's part holds in memory
	// before it is written (an eighth of the function's memory, at most
	// 64 MiB): the part ends there and the scan goes on in the next.
	partBytes int
	// maxConcurrency bounds what an event may ask for (MAX_CONCURRENCY);
	// allowAll lets events ask for strategy all, one request per key at
	// once (ALLOW_STRATEGY_ALL); maxParts bounds an async scan's parts,
	// so its self-invocations end (MAX_PARTS).
	maxConcurrency, maxParts int
	allowAll                 bool
	// batchTimeout bounds a Distributed Map batch (BATCH_SECONDS).
	batchTimeout time.Duration
	// acceptInline is ACCEPT_RULES (the rules themselves), acceptKey
	// ACCEPT_RULES_KEY (their file in REPORT_BUCKET); trusted is
	// TRUSTED_ACCOUNTS.
	acceptInline, acceptKey string
	trusted                 []string
	// remediate is REMEDIATE: the findings a watch closes as soon as
	// found (nil: none).
	remediate *fix.Mode
	// findingsBus and findingsTopic are where a watch's new findings are
	// sent (FINDINGS_EVENT_BUS, FINDINGS_TOPIC_ARN); watchOCSF writes its
	// records as OCSF Detection Findings (WATCH_FORMAT=ocsf).
	findingsBus, findingsTopic string
	watchOCSF                  bool
	// rescanFunction is RESCAN_FUNCTION: the function that scans a bucket
	// again after a change of its settings (empty: this one).
	rescanFunction string
	// allowedRoles are the role ARNs (or globs) events may ask to read
	// through (ALLOWED_ROLES; empty: none), with EXTERNAL_ID.
	allowedRoles []string
	externalID   string
}

// Bounds on what whoever may invoke the function can ask of it.
const (
	defaultMaxConcurrency = 256
	defaultMaxParts       = 1000
	// defaultBatchSeconds stays under the batch task's TimeoutSeconds (80)
	// in deploy/statemachines, whose retries fit Express's 5 minutes.
	defaultBatchSeconds = 70
)

// Lambda's response limit is 6 MB; risky objects stay well under it.
const (
	defaultRiskyLimit = 1000
	riskyMaxBytes     = 4 << 20
	// deadlineMargin is kept back from the invocation's deadline to stop
	// the scan and still return what it found.
	deadlineMargin = 300 * time.Millisecond
)

// envNames are the environment variables (and event fields) that set
// what the library's messages point at.
var envNames = map[s3access.Setting]string{
	settings.Target:              "BUCKET_NAME (or the event's bucket)",
	settings.Strategy:            "STRATEGY (or the event's strategy)",
	s3access.SettingConcurrency:  "CONCURRENCY (or the event's concurrency)",
	settings.MaxAttempts:         "MAX_ATTEMPTS",
	s3access.SettingAllVersions:  "ALL_VERSIONS",
	s3access.SettingRegion:       "AWS_REGION",
	s3access.SettingEndpoint:     "AWS_ENDPOINT_URL_S3",
	s3access.SettingProfile:      "AWS_PROFILE",
	s3access.SettingCABundle:     "AWS_CA_BUNDLE",
	settings.BucketOwner:         "BUCKET_OWNER",
	settings.AccountID:           "ACCOUNT_ID",
	scan.SettingScanDisabledACLs: "SCAN_DISABLED_ACLS",
	scan.SettingVerifyPublic:     "VERIFY_PUBLIC (or a batch's verify_public)",
	// The function does not draft policies; the command line does.
	readiness.SettingPolicy: "aclscan scan --readiness-policy (the command line)",
}

// envSpelling names settings as this function's environment does.
func envSpelling(s s3access.Setting, value string) string {
	name, ok := envNames[s]
	if !ok {
		return s3access.PlainSpelling(s, value)
	}
	if value != "" {
		return name + "=" + value
	}
	return name
}

// explainSetting is a settings problem in this function's words.
func explainSetting(err error) error {
	var usage *s3access.UsageError
	if errors.As(err, &usage) {
		return errors.New(usage.Explain(envSpelling))
	}
	return err
}

func configFromEnv(getenv func(string) string) (config, error) {
	c := config{scan: settings.Defaults(), riskyLimit: defaultRiskyLimit, partBytes: partBytes(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")),
		maxConcurrency: defaultMaxConcurrency, maxParts: defaultMaxParts}
	batchSeconds := defaultBatchSeconds
	s := &c.scan
	s.Bucket, s.Prefix, s.BucketOwner = getenv("BUCKET_NAME"), getenv("PREFIX"), getenv("BUCKET_OWNER")
	s.Concurrency = defaultConcurrency(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	if v := getenv("STRATEGY"); v != "" {
		s.Strategy = v
	}
	for name, dst := range map[string]*int{"CONCURRENCY": &s.Concurrency, "RISKY_LIMIT": &c.riskyLimit, "MAX_ATTEMPTS": &s.S3.MaxAttempts,
		"MAX_CONCURRENCY": &c.maxConcurrency, "MAX_PARTS": &c.maxParts, "BATCH_SECONDS": &batchSeconds} {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return c, fail("%s must be a positive integer, got %q", name, v)
			}
			*dst = n
		}
	}
	for name, dst := range map[string]*bool{"ALL_VERSIONS": &s.AllVersions, "VERIFY_PUBLIC": &s.VerifyPublic, "SCAN_DISABLED_ACLS": &s.ScanDisabledACLs,
		"ALLOW_STRATEGY_ALL": &c.allowAll} {
		if v := getenv(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return c, fail("%s must be true or false, got %q", name, v)
			}
			*dst = b
		}
	}
	s.S3.AccountID = getenv("ACCOUNT_ID")
	for _, b := range strings.Split(getenv("ALLOWED_BUCKETS"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			if _, err := path.Match(b, ""); err != nil {
				return c, fail("ALLOWED_BUCKETS: %q is not a name or glob: %v", b, err)
			}
			c.allowed = append(c.allowed, b)
		}
	}
	for _, r := range strings.Split(getenv("ALLOWED_ROLES"), ",") {
		if r = strings.TrimSpace(r); r != "" {
			if _, err := path.Match(r, ""); err != nil || !strings.HasPrefix(r, "arn:") {
				return c, fail("ALLOWED_ROLES: %q is not a role ARN or a glob of them (arn:aws:iam::*:role/aclscan-audit)", r)
			}
			c.allowedRoles = append(c.allowedRoles, r)
		}
	}
	c.externalID = getenv("EXTERNAL_ID")
	c.reportBucket, c.reportPrefix = getenv("REPORT_BUCKET"), strings.Trim(getenv("REPORT_PREFIX"), "/")
	if c.reportBucket != "" {
		if err := s3access.ValidateBucketName(c.reportBucket); err != nil {
			return c, fail("REPORT_BUCKET: %v", err)
		}
	}
	if c.reportPrefix == "" {
		c.reportPrefix = "aclscan"
	}
	switch v := getenv("RECORDS"); v {
	case "", "risky":
	case "all":
		c.allRecords = true
	default:
		return c, fail("RECORDS must be risky or all, got %q", v)
	}
	s.S3.PathStyle = getenv("S3_PATH_STYLE") == "true"
	if s.Bucket != "" { // else every event must name one
		if err := s3access.ValidateBucketName(s.Bucket); err != nil {
			return c, fail("BUCKET_NAME: %v", err)
		}
	}
	if _, err := s.ClientOptions(); err != nil {
		return c, explainSetting(err)
	}
	c.batchTimeout = time.Duration(batchSeconds) * time.Second
	c.acceptInline, c.acceptKey = getenv("ACCEPT_RULES"), getenv("ACCEPT_RULES_KEY")
	switch {
	case c.acceptInline != "" && c.acceptKey != "":
		return c, fail("ACCEPT_RULES and ACCEPT_RULES_KEY both set: give the rules, or their file in REPORT_BUCKET, not both")
	case c.acceptKey != "" && c.reportBucket == "":
		return c, fail("ACCEPT_RULES_KEY names a file in REPORT_BUCKET, which is not set")
	}
	c.findingsBus, c.findingsTopic = getenv("FINDINGS_EVENT_BUS"), getenv("FINDINGS_TOPIC_ARN")
	c.rescanFunction = getenv("RESCAN_FUNCTION")
	switch v := getenv("WATCH_FORMAT"); v {
	case "", "jsonl":
	case "ocsf":
		c.watchOCSF = true
	default:
		return c, fail("WATCH_FORMAT must be jsonl or ocsf, got %q", v)
	}
	if t := c.findingsTopic; t != "" && !strings.HasPrefix(t, "arn:") {
		return c, fail("FINDINGS_TOPIC_ARN: %q is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)", t)
	}
	if v := getenv("REMEDIATE"); v != "" {
		mode, err := fix.ParseKindList(v)
		if err != nil {
			return c, fail("REMEDIATE: %v", err)
		}
		if c.reportBucket == "" {
			return c, fail("REMEDIATE needs REPORT_BUCKET: every ACL is saved to an undo log there before it is changed")
		}
		c.remediate = &mode
	}
	for _, id := range strings.Split(getenv("TRUSTED_ACCOUNTS"), ",") {
		if id = strings.TrimSpace(id); id != "" {
			if err := accept.CheckTrusted(id); err != nil {
				return c, fail("TRUSTED_ACCOUNTS: %v", err)
			}
			c.trusted = append(c.trusted, id)
		}
	}
	return c, nil
}

// clientOptions are the options of the environment's one client: its
// connections are sized for the configured concurrency (an event asking
// for more opens the extra connections per invocation).
func (c config) clientOptions() s3access.Options {
	opts, _ := c.scan.ClientOptions() // checked by configFromEnv
	return opts
}

// partBytes is an eighth of the function's memory, at most 64 MiB (and
// 64 MiB outside Lambda).
func partBytes(memoryMB string) int {
	const most = 64 << 20
	if mb, err := strconv.Atoi(memoryMB); err == nil && mb > 0 {
		return min(most, mb<<20/8)
	}
	return most
}

// smallFunctionMB is the size below which a function gets a smaller pool.
const smallFunctionMB = 1024

// defaultConcurrency picks the pool size from the function's memory size,
// which sets its CPU share (1,769 MB = one vCPU). Under the benchmark's
// harness, 32 workers beat 64 at 128 MB, warm and cold (half the TLS
// handshakes on a small CPU share), and from 1,024 MB 64 is as fast or
// faster: docs/benchmarks/README.md, "Lambda pool size", has the figures.
func defaultConcurrency(memoryMB string) int {
	if mb, err := strconv.Atoi(memoryMB); err == nil && mb > 0 && mb < smallFunctionMB {
		return 32
	}
	return scan.DefaultConcurrency
}

type handler struct {
	client *s3access.Client
	config config
	// accept are the accepted-exposure rules and trusted the zone of
	// trust (nil: none), read when the environment starts.
	accept  *accept.Rules
	trusted accept.Trust
	// watcher judges announced objects, remembering across invocations
	// what each object's last record said.
	watchOnce sync.Once
	watcher   *watch.Watcher
	// publisher sends a watch's new findings (nil: not asked).
	publisher *publisher
	undoLogs  atomic.Int64
	contexts  *batch.Contexts
	// invoke starts the function again asynchronously with an event (an
	// async scan's next part).
	invoke func(ctx context.Context, event []byte) error
	// rescan starts an async scan's first part in RESCAN_FUNCTION (or in
	// this function) after a change of a bucket's settings.
	rescan func(ctx context.Context, event []byte) error
	// sessions and roleClients read through member accounts' roles.
	rolesMu     sync.Mutex
	sessions    *accounts.Sessions
	roleClients map[string]*s3access.Client
	// store is where a run's reports go (nil: an S3 store in REPORT_BUCKET).
	store func(run string) batch.Store
}

// scanConfig is the environment's settings with the event's overrides.
func (h *handler) scanConfig(ev Event) (scan.Config, error) {
	s := h.config.scan
	if ev.Bucket != "" {
		s.Bucket = ev.Bucket
	}
	if ev.Prefix != nil {
		s.Prefix = *ev.Prefix
	}
	if ev.Strategy != "" {
		if ev.Strategy == scan.All.String() && !h.config.allowAll {
			return scan.Config{}, refuse("event strategy all (one request per key, all at once) is not allowed here: set ALLOW_STRATEGY_ALL=true to let events ask for it")
		}
		s.Strategy = ev.Strategy
	}
	if ev.Concurrency < 0 {
		return scan.Config{}, fail("event concurrency must be positive, got %d", ev.Concurrency)
	}
	if ev.Concurrency > h.config.maxConcurrency {
		return scan.Config{}, refuse("event concurrency %d is over this function's bound MAX_CONCURRENCY=%d", ev.Concurrency, h.config.maxConcurrency)
	}
	if ev.Concurrency > 0 {
		s.Concurrency = ev.Concurrency
	}
	if s.Bucket == "" {
		return scan.Config{}, fail("no bucket: set BUCKET_NAME or send {\"bucket\": \"...\"}")
	}
	cfg, _, err := s.Build()
	if err != nil {
		return cfg, explainSetting(err)
	}
	cfg.Accept, cfg.Trusted = h.accept, h.trusted
	if ev.RoleARN != "" {
		account, err := h.config.checkRole(ev.RoleARN)
		if err != nil {
			return cfg, err
		}
		cfg.Account = &scan.Account{ID: account}
	}
	return cfg, h.config.checkBucket(cfg.Bucket)
}

// checkRole refuses a role outside ALLOWED_ROLES: whoever may invoke the
// function must not make it assume roles it was not deployed to read
// through. It returns the role's account.
func (c *config) checkRole(arn string) (string, error) {
	account, err := accounts.ParseRoleARN(arn)
	if err != nil {
		return "", refuse("role_arn: %v", err)
	}
	for _, pattern := range c.allowedRoles {
		if ok, _ := path.Match(pattern, arn); ok {
			return account, nil
		}
	}
	if len(c.allowedRoles) == 0 {
		return "", refuse("role_arn %s: this function reads through no role (set ALLOWED_ROLES to the member roles it may assume)", arn)
	}
	return "", refuse("role_arn %s is not one this function may assume (ALLOWED_ROLES=%s)", arn, strings.Join(c.allowedRoles, ","))
}

// sessionsFor is the environment's sessions of member roles, made once.
func (h *handler) sessionsFor() *accounts.Sessions {
	h.rolesMu.Lock()
	defer h.rolesMu.Unlock()
	if h.sessions == nil {
		endpoint := accounts.STSEndpoint(os.Getenv, h.config.clientOptions().EndpointURL)
		h.sessions = &accounts.Sessions{STS: accounts.NewSTS(h.client.AWSConfig(), endpoint), SessionName: "aclscan-lambda"}
		h.roleClients = map[string]*s3access.Client{}
	}
	return h.sessions
}

// apiFor is the client that reads through role (h.client without one):
// one per role, its session assumed once and renewed before it expires.
func (h *handler) apiFor(ctx context.Context, role string) (*s3access.Client, error) {
	if role == "" {
		return h.client, nil
	}
	sessions := h.sessionsFor()
	h.rolesMu.Lock()
	defer h.rolesMu.Unlock()
	if c := h.roleClients[role]; c != nil {
		return c, nil
	}
	account, _ := accounts.ParseRoleARN(role)
	a := accounts.Account{ID: account, RoleARN: role, ExternalID: h.config.externalID}
	if err := sessions.Open(ctx, a); err != nil {
		return nil, err
	}
	opts := h.config.clientOptions()
	opts.Credentials, opts.AccountID = sessions.For(a), account
	c, err := s3access.New(ctx, opts)
	if err != nil {
		return nil, explainSetting(err)
	}
	h.roleClients[role] = c
	return c, nil
}

func (h *handler) handle(ctx context.Context, ev Event) (*Response, error) {
	cfg, err := h.scanConfig(ev)
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-deadlineMargin))
		defer cancel()
	}
	api, err := h.apiFor(ctx, ev.RoleARN)
	if err != nil {
		return nil, err
	}
	risky := &report.Risky{Limit: h.config.riskyLimit, MaxBytes: riskyMaxBytes}
	sum, err := scan.Run(ctx, api, cfg, risky, nil)
	if sum == nil {
		return nil, err
	}
	if sum.AcceptRules = scan.AcceptOutcome(h.accept); sum.AcceptRules != nil {
		// The environment's rules serve many invocations: which matched
		// nothing is not this scan's to say.
		sum.AcceptRules.Unmatched = []string{}
	}
	resp := &Response{
		SummaryRecord: report.NewSummaryRecord(sum, envSpelling),
		Risky:         risky.Records,
		RiskyOmitted:  risky.Omitted(),
	}
	if resp.Risky == nil {
		resp.Risky = []report.Record{}
	}
	if err != nil {
		resp.Error = explain(err)
	}
	return resp, nil
}

func explain(err error) string {
	var se *scan.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "stopped before the function's timeout: raise the timeout or scan a narrower prefix"
	case errors.As(err, &se):
		return se.Explain(envSpelling)
	}
	return err.Error()
}
