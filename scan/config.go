package scan

import (
	"errors"
	"fmt"
	"time"

	"github.com/aclscan/aclscan/accept"
	"github.com/aclscan/aclscan/acl"
)

// Strategy is how GetObjectAcl calls are scheduled.
type Strategy uint8

const (
	// Pool runs a fixed number of workers (Config.Concurrency).
	Pool Strategy = iota
	// Serial sends one request at a time, listing included, over one connection.
	Serial
	// All starts one goroutine per listed key, without limit. It exists for
	// experiments (it is the Promise.all analogue); memory grows with keys.
	All
)

var strategyNames = []string{Pool: "pool", Serial: "serial", All: "all"}

func (s Strategy) String() string { return strategyNames[s] }

// ParseStrategy parses "serial", "pool" or "all".
func ParseStrategy(name string) (Strategy, error) {
	for s, n := range strategyNames {
		if n == name {
			return Strategy(s), nil
		}
	}
	return 0, fmt.Errorf("unknown strategy %q (want serial, pool or all)", name)
}

// DefaultConcurrency is the pool size when none is given. On this project's
// measurements (docs/benchmarks/scan.md) 64 workers reach the local
// server's ceiling and keep ~18 ms round trips busy without overloading a
// small client; more only adds connections.
const DefaultConcurrency = 64

// Config describes one scan. Shells build it; the engine only reads it.
type Config struct {
	Bucket string
	Prefix string
	// AllVersions scans every version (ListObjectVersions) instead of the
	// current objects. Delete markers are counted, not fetched.
	AllVersions bool
	Strategy    Strategy
	// Concurrency is the number of workers of the Pool strategy.
	Concurrency int
	// BucketOwner is the bucket owner's canonical ID to use when
	// GetBucketAcl is denied.
	BucketOwner string
	// Accept, when set, marks the findings a team accepted (package
	// accept's rules) on each result before it is counted and written.
	Accept *accept.Rules
	// Trusted, when set, is the zone of trust: an object shared only with
	// these accounts is not cross-account; the result names them.
	Trusted accept.Trust
	// Baseline, when set, marks which of each result's findings an
	// earlier report did not have (package baseline).
	Baseline Baseline
	// Context, when set, is the bucket's context to judge with, instead of
	// reading it (a shell that already read it, or a source that carries
	// it).
	Context *acl.BucketContext
	// ScanDisabledACLs lists and fetches a bucket whose ACLs are disabled
	// (BucketOwnerEnforced) anyway; by default such a bucket is reported
	// without its objects, since S3 answers every ACL read of it alike.
	ScanDisabledACLs bool
	// VerifyPublic asks S3, with an unsigned HEAD request, whether each
	// object whose effective findings hold public is served to anyone.
	VerifyPublic bool
	// Recheck reads live the ACL of every object with findings whose ACL
	// the source gave (a report may be days old) and says whether it
	// changed since.
	Recheck bool
	// SourceName and ReportDate go into every result: where the ACLs
	// came from ("" = "live") and, for a report, when it was taken.
	SourceName string
	// Account is the account the bucket is in, in a run over accounts
	// (nil otherwise): every result points at it.
	Account    *Account
	ReportDate string
	// Report names the report a source reads (its manifest), kept in
	// checkpoints so that one is not resumed on another report.
	Report string
	// PageSize is the number of keys per list request (1..1000; 0 = 1000).
	PageSize int32
	// ListConcurrency bounds the chains of list requests that run at once
	// over separate parts of the keyspace (0 = DefaultListConcurrency).
	// The Serial strategy always lists with one chain.
	ListConcurrency int

	// Resume continues the scan a checkpoint describes: only what it left
	// unreported is listed and fetched, and its counts carry over.
	Resume *State
	// Checkpoint, when set, is called from the goroutine that writes
	// results, at most every CheckpointInterval and once at the end, with
	// the state of the scan: everything it counts has been given to the
	// sink. An error stops the scan.
	Checkpoint         func(*State) error
	CheckpointInterval time.Duration

	// OutageWait is how long a run of failures (the endpoint failing, not
	// the objects) waits for the endpoint to answer a list request again
	// before the scan stops: 0 means DefaultOutageWait, a negative value
	// stops at once.
	OutageWait time.Duration

	// Source produces the objects to judge; nil lists the bucket (or its
	// versions) live, in parallel key ranges. Only the live listing
	// supports Resume and Checkpoint.
	Source Source
	// Resolver gives each object its ACL; nil sends GetObjectAcl.
	Resolver Resolver
	// Inline resolves each object in the goroutine its source emitted it
	// from, without the worker pool: for a resolver that answers at once
	// (Given) and a source that emits from several goroutines, the pool
	// only adds a hand-over per object. Requests (VerifyPublic, Recheck)
	// then run one at a time per source goroutine.
	Inline bool

	// multi is the run of many buckets this scan is part of (RunBuckets).
	multi *multiRun

	// splitter replaces splitPoints in tests that place split points on
	// chosen keys.
	splitter func(pageKeys []string, last, until string, bounded bool, n int) []string
	// backoff replaces the outage wait's first delay in tests (it doubles
	// from there).
	backoff time.Duration
}

// withDefaults fills the zero values and checks what only the engine can.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Bucket == "" {
		return cfg, errors.New("scan: no bucket given")
	}
	if _, resumable := cfg.Source.(ResumableSource); cfg.Source != nil && !resumable && (cfg.Resume != nil || cfg.Checkpoint != nil) {
		return cfg, errors.New("scan: checkpoints follow the live listing or a resumable source; this source cannot take or resume one")
	}
	if cfg.SourceName == "" {
		cfg.SourceName = "live"
	}
	if cfg.Resume != nil {
		if err := cfg.Resume.Matches(cfg); err != nil {
			return cfg, err
		}
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.ListConcurrency <= 0 {
		cfg.ListConcurrency = DefaultListConcurrency
	}
	if cfg.Strategy == Serial {
		cfg.ListConcurrency = 1
	}
	if cfg.PageSize <= 0 || cfg.PageSize > 1000 {
		cfg.PageSize = 1000
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	if cfg.OutageWait == 0 {
		cfg.OutageWait = DefaultOutageWait
	}
	if cfg.backoff <= 0 {
		cfg.backoff = 250 * time.Millisecond
	}
	return cfg, nil
}

// InFlight is the most requests the strategy has in flight (0: no bound).
func (cfg *Config) InFlight() int {
	switch cfg.Strategy {
	case Serial:
		return 1
	case Pool:
		return cfg.Concurrency
	}
	return 0
}

// DefaultListConcurrency is the number of listing chains when none is
// given: enough to list ~16 pages per round trip, far under S3's request
// rate limits.
const DefaultListConcurrency = 16

// DefaultCheckpointInterval is how often a checkpoint is taken.
const DefaultCheckpointInterval = 2 * time.Second

// DefaultOutageWait rides out a network blip or a server restart; a
// longer outage stops the scan, resumable with a checkpoint.
const DefaultOutageWait = 30 * time.Second

// Baseline compares findings with an earlier report's (package baseline
// implements it): Compare returns those the report did not have for the
// object.
type Baseline interface {
	Compare(bucket, key, versionID string, findings acl.Findings) acl.Findings
}
