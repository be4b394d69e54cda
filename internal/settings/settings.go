// Package settings is the one configuration path of aclscan's shells:
// the command line and the Lambda function fill a Scan with what their
// user set (flags, environment variables, events), and Build checks it
// and turns it into the engine's scan.Config and the client's
// s3access.Options. Problems are reported against s3access.Setting
// names, which each shell spells its own way.
package settings

import (
	"fmt"
	"time"

	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
)

// The settings a scan's problems may point at, besides s3access's.
const (
	Target          s3access.Setting = "target"
	Strategy        s3access.Setting = "strategy"
	ListConcurrency s3access.Setting = "list-concurrency"
	PageSize        s3access.Setting = "page-size"
	MaxAttempts     s3access.Setting = "max-attempts"
	Timeout         s3access.Setting = "timeout"
	OutageWait      s3access.Setting = "outage-wait"
	BucketOwner     s3access.Setting = "bucket-owner"
	AccountID       s3access.Setting = "account-id"
)

// Scan is what a user can set for a scan, as they set it.
type Scan struct {
	// Target is s3://BUCKET[/PREFIX]; when empty, Bucket and Prefix are
	// taken as they are.
	Target         string
	Bucket, Prefix string
	Strategy       string // serial, pool or all ("" = pool)
	// Concurrency is the pool's workers (0 = scan.DefaultConcurrency).
	Concurrency     int
	ListConcurrency int // 0 = scan.DefaultListConcurrency
	AllVersions     bool
	BucketOwner     string
	PageSize        int32 // 0 = 1,000
	// OutageWait is how long to wait for an unavailable endpoint; 0
	// stops at once.
	OutageWait time.Duration
	// ScanDisabledACLs fetches the objects of a bucket whose ACLs are
	// disabled; VerifyPublic asks anonymously for effectively public ones.
	ScanDisabledACLs bool
	VerifyPublic     bool
	// Recheck reads live the ACLs a report gave (inventory --verify).
	Recheck bool
	// S3 are the client's options; Build sizes its connections.
	S3 s3access.Options
}

// Defaults are the settings a shell starts from.
func Defaults() Scan {
	return Scan{
		Strategy:        scan.Pool.String(),
		Concurrency:     scan.DefaultConcurrency,
		ListConcurrency: scan.DefaultListConcurrency,
		PageSize:        1000,
		OutageWait:      scan.DefaultOutageWait,
		S3: s3access.Options{
			MaxAttempts:    s3access.DefaultMaxAttempts,
			RequestTimeout: s3access.DefaultRequestTimeout,
			Throttling:     s3access.ThrottleAIMD,
		},
	}
}

// invalid is a usage error about one setting.
func invalid(s s3access.Setting, format string, args ...any) error {
	return &s3access.UsageError{Setting: s, Msg: fmt.Sprintf(format, args...)}
}

// Build checks the settings and returns the engine's configuration and
// the client's options. Errors are *s3access.UsageError.
func (s Scan) Build() (scan.Config, s3access.Options, error) {
	return s.build(true)
}

// BuildEach is Build for a run over many buckets: the configuration has
// no bucket, each bucket's scan sets its own.
func (s Scan) BuildEach() (scan.Config, s3access.Options, error) {
	return s.build(false)
}

func (s Scan) build(oneBucket bool) (scan.Config, s3access.Options, error) {
	cfg := scan.Config{
		Bucket: s.Bucket, Prefix: s.Prefix, AllVersions: s.AllVersions, BucketOwner: s.BucketOwner,
		Concurrency: s.Concurrency, ListConcurrency: s.ListConcurrency, PageSize: s.PageSize,
		ScanDisabledACLs: s.ScanDisabledACLs, VerifyPublic: s.VerifyPublic, Recheck: s.Recheck,
	}
	var err error
	switch {
	case !oneBucket:
	case s.Target != "":
		if cfg.Bucket, cfg.Prefix, err = s3access.ParseURL(s.Target); err != nil {
			return cfg, s.S3, err
		}
	default:
		if err := s3access.ValidateBucketName(s.Bucket); err != nil {
			return cfg, s.S3, err
		}
	}
	opts, err := s.ClientOptions()
	if err != nil {
		return cfg, opts, err
	}
	cfg.Strategy, _ = scan.ParseStrategy(s.Strategy)
	cfg.OutageWait = s.OutageWait
	if cfg.OutageWait == 0 {
		cfg.OutageWait = -1 // the engine's "stop at once"
	}
	return cfg, opts, nil
}

// ClientOptions checks every setting but the target and returns the
// client's options, its connections sized for the requests in flight.
// A shell that makes one client for many scans (the Lambda function)
// makes it from these.
func (s Scan) ClientOptions() (s3access.Options, error) {
	strategy, err := scan.ParseStrategy(s.Strategy)
	if err != nil {
		return s.S3, invalid(Strategy, "%v", err)
	}
	if err := s.checkNumbers(); err != nil {
		return s.S3, err
	}
	if _, err := s3access.ParseThrottling(s.S3.Throttling); err != nil {
		return s.S3, err
	}
	opts := s.S3
	opts.Connections = Connections(strategy, s.Concurrency)
	return opts, nil
}

func (s Scan) checkNumbers() error {
	switch {
	case s.Concurrency < 1:
		return invalid(s3access.SettingConcurrency, "must be at least 1, got %d", s.Concurrency)
	case s.ListConcurrency < 1:
		return invalid(ListConcurrency, "must be at least 1, got %d", s.ListConcurrency)
	case s.PageSize < 1 || s.PageSize > 1000:
		return invalid(PageSize, "must be between 1 and 1000, got %d", s.PageSize)
	case s.S3.MaxAttempts < 1:
		return invalid(MaxAttempts, "must be at least 1, got %d", s.S3.MaxAttempts)
	case s.S3.RequestTimeout <= 0:
		return invalid(Timeout, "must be positive, got %s", s.S3.RequestTimeout)
	case s.OutageWait < 0:
		return invalid(OutageWait, "must be 0 or more, got %s", s.OutageWait)
	case s.S3.AccountID != "" && !isAccountID(s.S3.AccountID):
		return invalid(AccountID, "must be a 12-digit AWS account ID, got %q", s.S3.AccountID)
	}
	return nil
}

// Connections is how many connections the client keeps alive for the
// requests a strategy has in flight: one per request (a request beyond
// them would open, and TLS-handshake, a connection of its own), no limit
// for the All strategy.
func Connections(strategy scan.Strategy, concurrency int) int {
	if n := (&scan.Config{Strategy: strategy, Concurrency: concurrency}).InFlight(); n > 0 {
		return n
	}
	return -1
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
