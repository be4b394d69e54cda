package main

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
)

// Event is the invocation payload; every field is optional.
type Event struct {
	Bucket      string  `json:"bucket"`
	Prefix      *string `json:"prefix"`
	Strategy    string  `json:"strategy"`
	Concurrency int     `json:"concurrency"`
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

// settings are read once per execution environment.
type settings struct {
	s3          s3access.Options
	bucket      string
	prefix      string
	strategy    scan.Strategy
	concurrency int
	allVersions bool
	bucketOwner string
	riskyLimit  int
}

// Lambda's response limit is 6 MB; risky objects stay well under it.
const (
	defaultRiskyLimit = 1000
	riskyMaxBytes     = 4 << 20
	// deadlineMargin is kept back from the invocation's deadline to stop
	// the scan and still return what it found.
	deadlineMargin = 300 * time.Millisecond
)

func settingsFromEnv(getenv func(string) string) (settings, error) {
	s := settings{
		bucket:      getenv("BUCKET_NAME"),
		prefix:      getenv("PREFIX"),
		bucketOwner: getenv("BUCKET_OWNER"),
		concurrency: defaultConcurrency(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")),
		riskyLimit:  defaultRiskyLimit,
	}
	// Connections are sized for any concurrency an event may ask for; idle
	// ones cost a few kilobytes each.
	s.s3.Connections = 1024
	if v := getenv("STRATEGY"); v != "" {
		st, err := scan.ParseStrategy(v)
		if err != nil {
			return s, fail("STRATEGY: %v", err)
		}
		s.strategy = st
	}
	for name, dst := range map[string]*int{"CONCURRENCY": &s.concurrency, "RISKY_LIMIT": &s.riskyLimit} {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return s, fail("%s must be a positive integer, got %q", name, v)
			}
			*dst = n
		}
	}
	if v := getenv("ALL_VERSIONS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, fail("ALL_VERSIONS must be true or false, got %q", v)
		}
		s.allVersions = b
	}
	s.s3.PathStyle = getenv("S3_PATH_STYLE") == "true"
	if s.bucket != "" {
		if err := s3access.ValidateBucketName(s.bucket); err != nil {
			return s, fail("BUCKET_NAME: %v", err)
		}
	}
	return s, nil
}

// smallFunctionMB is the size below which a function gets a smaller pool.
const smallFunctionMB = 1024

// defaultConcurrency picks the pool size from the function's memory size,
// which sets its CPU share (1,769 MB = one vCPU). Measured under the
// benchmark's harness (docs/benchmarks/README.md): at 128 MB, 32 workers
// beat 64 on warm invocations (369 vs 410 ms) and on the cold start (890
// vs 1,424 ms: half the TLS handshakes on 7% of a CPU); from 1,024 MB, 64
// is as fast or faster.
func defaultConcurrency(memoryMB string) int {
	if mb, err := strconv.Atoi(memoryMB); err == nil && mb > 0 && mb < smallFunctionMB {
		return 32
	}
	return scan.DefaultConcurrency
}

type handler struct {
	client   *s3access.Client
	settings settings
}

func (h *handler) handle(ctx context.Context, ev Event) (*Response, error) {
	cfg := scan.Config{
		Bucket:      h.settings.bucket,
		Prefix:      h.settings.prefix,
		Strategy:    h.settings.strategy,
		Concurrency: h.settings.concurrency,
		AllVersions: h.settings.allVersions,
		BucketOwner: h.settings.bucketOwner,
	}
	if ev.Bucket != "" {
		cfg.Bucket = ev.Bucket
	}
	if ev.Prefix != nil {
		cfg.Prefix = *ev.Prefix
	}
	if ev.Strategy != "" {
		st, err := scan.ParseStrategy(ev.Strategy)
		if err != nil {
			return nil, fail("event strategy: %v", err)
		}
		cfg.Strategy = st
	}
	if ev.Concurrency < 0 {
		return nil, fail("event concurrency must be positive, got %d", ev.Concurrency)
	}
	if ev.Concurrency > 0 {
		cfg.Concurrency = ev.Concurrency
	}
	if cfg.Bucket == "" {
		return nil, fail("no bucket: set BUCKET_NAME or send {\"bucket\": \"...\"}")
	}
	if err := s3access.ValidateBucketName(cfg.Bucket); err != nil {
		return nil, fail("event bucket: %v", err)
	}

	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-deadlineMargin))
		defer cancel()
	}
	risky := &report.Risky{Limit: h.settings.riskyLimit, MaxBytes: riskyMaxBytes}
	sum, err := scan.Run(ctx, h.client, cfg, riskySink{risky}, nil)
	if sum == nil {
		return nil, err
	}
	resp := &Response{
		SummaryRecord: report.NewSummaryRecord(sum),
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
		return s3access.Explain(se.Op, se.Err)
	}
	return err.Error()
}

type riskySink struct{ risky *report.Risky }

func (s riskySink) Write(r *scan.Result) error {
	s.risky.Add(r)
	return nil
}
