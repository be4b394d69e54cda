package scan

import (
	"encoding/json"
	"fmt"

	"github.com/aclscan/aclscan/acl"
)

// Position names one listed entry: a key, and in version scans a version.
type Position struct {
	Key     string `json:"key"`
	Version string `json:"version,omitempty"`
}

// RangeState is a range of keys still to be scanned, as a checkpoint
// keeps it: keys in (After, Until] (no upper bound unless Bounded), minus
// the entries in Done, which were already reported.
type RangeState struct {
	After   string     `json:"after,omitempty"`
	Until   string     `json:"until,omitempty"`
	Bounded bool       `json:"bounded,omitempty"`
	Done    []Position `json:"done,omitempty"`
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
	ByEffective   map[string]int64 `json:"byEffective,omitempty"`
	// ByAccepted and ByAcceptedEffective count the findings rules accepted.
	ByAccepted          map[string]int64 `json:"byAccepted,omitempty"`
	ByAcceptedEffective map[string]int64 `json:"byAcceptedEffective,omitempty"`
	ByNewEffective      map[string]int64 `json:"byNewEffective,omitempty"`
	Shared              int64            `json:"shared,omitempty"`
	Trusted             int64            `json:"trusted,omitempty"`
	Verified            map[string]int64 `json:"verified,omitempty"`
	Rechecked           map[string]int64 `json:"rechecked,omitempty"`
	// Report and Source are the report a resumable source other than the
	// listing reads, and where it stands.
	Report string          `json:"report,omitempty"`
	Source json.RawMessage `json:"source,omitempty"`
	// SourceErr is a failure to take Source: the checkpoint is not saved.
	SourceErr error `json:"-"`
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
		s.ByEffective[k] = st.ByEffective[k.String()]
		s.ByAccepted[k] = st.ByAccepted[k.String()]
		s.ByAcceptedEffective[k] = st.ByAcceptedEffective[k.String()]
		s.ByNewEffective[k] = st.ByNewEffective[k.String()]
	}
	s.Shared = st.Shared
	s.Trusted = st.Trusted
	s.Served, s.NotServed, s.VerifyFailed = st.Verified["served"], st.Verified["not_served"], st.Verified["failed"]
	s.Changed, s.Unchanged, s.RecheckFailed = st.Rechecked["changed"], st.Rechecked["unchanged"], st.Rechecked["failed"]
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
	st.ByKind = countsByKind(&s.ByKind)
	st.ByEffective = countsByKind(&s.ByEffective)
	st.ByAccepted = countsByKind(&s.ByAccepted)
	st.ByAcceptedEffective = countsByKind(&s.ByAcceptedEffective)
	st.ByNewEffective = countsByKind(&s.ByNewEffective)
	st.Shared = s.Shared
	st.Trusted = s.Trusted
	st.Verified = map[string]int64{"served": s.Served, "not_served": s.NotServed, "failed": s.VerifyFailed}
	st.Rechecked = map[string]int64{"changed": s.Changed, "unchanged": s.Unchanged, "failed": s.RecheckFailed}
}

func countsByKind(counts *[acl.NumKinds]int64) map[string]int64 {
	m := make(map[string]int64, acl.NumKinds)
	for _, k := range acl.AllKinds() {
		if n := counts[k]; n > 0 {
			m[k.String()] = n
		}
	}
	return m
}

// Counts is the summary's counts as a checkpoint keeps them (no ranges):
// what a batch's report records so that batches can be added up.
func (s *Summary) Counts() State {
	st := State{Bucket: s.Bucket, Prefix: s.Prefix, DeleteMarkers: s.DeleteMarkers}
	s.save(&st)
	return st
}

// CountsSummary is a summary holding the state's counts: a batch's
// report read back, to be added up with scan.Total.
func (st *State) CountsSummary() *Summary {
	s := &Summary{Bucket: st.Bucket, Prefix: st.Prefix, Complete: true}
	s.restore(st)
	s.Resumed = false
	return s
}
