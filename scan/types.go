// Package scan is aclscan's engine: it lists the objects of a bucket,
// fetches the ACL of each, classifies it and hands every result to a sink,
// streaming, with bounded memory. It knows nothing of command lines,
// terminals or Lambda; those are shells built on top of it.
package scan

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// API is the part of the S3 client the engine uses; *s3access.Client has
// it. The bucket-level calls keep the SDK's shapes; the per-object call,
// the hot path, returns aclscan's own ACL model.
type API interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, optFns ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
	GetBucketAcl(ctx context.Context, in *s3.GetBucketAclInput, optFns ...func(*s3.Options)) (*s3.GetBucketAclOutput, error)
	// GetObjectACL reads one object's ACL; versionID "" means the current version.
	GetObjectACL(ctx context.Context, bucket, key, versionID string) (acl.Policy, error)
}

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

	// splitter replaces splitPoints in tests that place split points on
	// chosen keys.
	splitter func(pageKeys []string, last, until string, bounded bool, n int) []string
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

// Status is the outcome of fetching one object's ACL.
type Status uint8

const (
	StatusOK      Status = iota // the ACL was read
	StatusDenied                // GetObjectAcl answered AccessDenied
	StatusMissing               // the object was deleted between list and fetch
	StatusError                 // the fetch failed after retries; Result.Err says why
	numStatuses
)

var statusNames = [numStatuses]string{"ok", "denied", "missing", "error"}

func (s Status) String() string { return statusNames[s] }

// AllStatuses lists the statuses in output order.
func AllStatuses() []Status { return []Status{StatusOK, StatusDenied, StatusMissing, StatusError} }

// Result is what the scan learned about one object (or one version).
// Every listed key produces exactly one Result, whatever happened to it.
type Result struct {
	Bucket string
	Key    string
	// Versioned is true in --all-versions scans; VersionID and IsLatest
	// are meaningful only then.
	Versioned bool
	VersionID string
	IsLatest  bool
	OwnerID   string
	Status    Status
	Err       string
	Grants    []acl.Grant
	Findings  acl.Findings

	// Where the entry was listed, to mark it reported.
	rng *keyRange
	seq int64
	// err is the failure behind StatusError; sent is when the request
	// was first sent.
	err  error
	sent time.Time
}

// item is the listed entry a failed r was fetched for (its owner is still
// the listing's).
func (r *Result) item() item {
	return item{key: r.Key, versionID: r.VersionID, ownerID: r.OwnerID, isLatest: r.IsLatest, rng: r.rng, seq: r.seq}
}

// Risky reports whether the result deserves a look: a finding or a
// status other than ok.
func (r *Result) Risky() bool { return r.Findings != 0 || r.Status != StatusOK }

// Sink receives results, from a single goroutine, as they arrive. It must
// not keep the *Result after Write returns.
type Sink interface {
	Write(r *Result) error
}

// Progress is read by shells while a scan runs (from any goroutine).
type Progress struct {
	Listed  atomic.Int64
	Checked atomic.Int64
	Errors  atomic.Int64
	// Waiting is true while the scan pauses for an unavailable endpoint.
	Waiting atomic.Bool
}

// Summary is the account of a finished (or stopped) scan.
type Summary struct {
	Bucket   string
	Prefix   string
	Strategy Strategy
	// Concurrency is the number of workers (Pool), 1 (Serial) or 0 (All).
	Concurrency int
	// BucketOwner is the owner's canonical ID, "" when it could not be
	// learned; OwnerSource says where it came from.
	BucketOwner string
	OwnerSource string
	// OwnerProblem says why the owner is unknown; owner-dependent finding
	// kinds (acl.OwnerDependent) were then not judged.
	OwnerProblem  string
	Objects       int64
	DeleteMarkers int64
	ByStatus      [numStatuses]int64
	ByKind        [acl.NumKinds]int64
	Requests      int64
	// Retries and Throttles count GetObjectAcl retries and answers asking
	// to slow down (when the client counts them).
	Retries   int64
	Throttles int64
	Duration  time.Duration
	// Unchecked counts listed objects left without a result because the
	// scan stopped (interrupted, or the report could not be written).
	Unchecked int64
	// Complete is true when every object was listed and every listed
	// object has a result.
	Complete bool
	// Resumed is true when the scan continued from a checkpoint; the
	// counts then include what was reported before it.
	Resumed bool
}

// Count returns the number of results with status s.
func (s *Summary) Count(st Status) int64 { return s.ByStatus[st] }

// Found returns the number of results with finding kind k.
func (s *Summary) Found(k acl.Kind) int64 { return s.ByKind[k] }

// Findings returns the set of kinds found at least once.
func (s *Summary) Findings() acl.Findings {
	var f acl.Findings
	for _, k := range acl.AllKinds() {
		if s.ByKind[k] > 0 {
			f = f.With(k)
		}
	}
	return f
}

// Judged reports whether finding kind k could be judged in this scan.
func (s *Summary) Judged(k acl.Kind) bool {
	return s.BucketOwner != "" || !acl.OwnerDependent.Has(k)
}

// RequestsPerSecond is the request rate over the whole scan.
func (s *Summary) RequestsPerSecond() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.Requests) / s.Duration.Seconds()
}

// State is where a scan stands, as a checkpoint keeps it: the key ranges
// left to list (with the entries already reported inside them) and the
// counts of everything reported so far.
type State struct {
	Bucket        string           `json:"bucket"`
	Prefix        string           `json:"prefix,omitempty"`
	AllVersions   bool             `json:"allVersions,omitempty"`
	Ranges        []RangeState     `json:"ranges"`
	Objects       int64            `json:"objects"`
	DeleteMarkers int64            `json:"deleteMarkers,omitempty"`
	ByStatus      map[string]int64 `json:"byStatus,omitempty"`
	ByKind        map[string]int64 `json:"byKind,omitempty"`
}

// Matches reports whether the state belongs to a scan of cfg's target.
func (st *State) Matches(cfg Config) error {
	if st.Bucket != cfg.Bucket || st.Prefix != cfg.Prefix || st.AllVersions != cfg.AllVersions {
		return fmt.Errorf("the checkpoint is of a scan of s3://%s/%s (all versions: %v), not s3://%s/%s (all versions: %v)",
			st.Bucket, st.Prefix, st.AllVersions, cfg.Bucket, cfg.Prefix, cfg.AllVersions)
	}
	return nil
}

// restore sets the summary's counts from a checkpoint.
func (s *Summary) restore(st *State) {
	s.Resumed = true
	s.Objects = st.Objects
	s.DeleteMarkers = st.DeleteMarkers
	for _, status := range AllStatuses() {
		s.ByStatus[status] = st.ByStatus[status.String()]
	}
	for _, k := range acl.AllKinds() {
		s.ByKind[k] = st.ByKind[k.String()]
	}
}

// save copies the summary's counts into a checkpoint state.
func (s *Summary) save(st *State) {
	st.Objects = s.Objects
	st.ByStatus = make(map[string]int64, numStatuses)
	for _, status := range AllStatuses() {
		if n := s.ByStatus[status]; n > 0 {
			st.ByStatus[status.String()] = n
		}
	}
	st.ByKind = make(map[string]int64, acl.NumKinds)
	for _, k := range acl.AllKinds() {
		if n := s.ByKind[k]; n > 0 {
			st.ByKind[k.String()] = n
		}
	}
}

func (s *Summary) add(r *Result) {
	s.Objects++
	s.ByStatus[r.Status]++
	if r.Findings != 0 {
		for k := acl.Kind(0); k < acl.NumKinds; k++ {
			if r.Findings.Has(k) {
				s.ByKind[k]++
			}
		}
	}
}
