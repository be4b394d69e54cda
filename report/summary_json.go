package report

import (
	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/scan"
)

// SummaryRecord is the JSON form of a scan summary.
type SummaryRecord struct {
	Bucket        string           `json:"bucket"`
	Prefix        string           `json:"prefix"`
	Complete      bool             `json:"complete"`
	Objects       int64            `json:"objects"`
	DeleteMarkers int64            `json:"delete_markers"`
	Unchecked     int64            `json:"unchecked"`
	ByStatus      map[string]int64 `json:"by_status"`
	ByFinding     map[string]int64 `json:"by_finding"`
	// Unjudged lists finding kinds that could not be judged (bucket owner unknown).
	Unjudged     []string `json:"unjudged"`
	BucketOwner  string   `json:"bucket_owner"`
	OwnerProblem string   `json:"owner_problem,omitempty"`
	Strategy     string   `json:"strategy"`
	Concurrency  int      `json:"concurrency"`
	DurationMS   float64  `json:"duration_ms"`
	Requests     int64    `json:"requests"`
	Retries      int64    `json:"retries"`
	Throttles    int64    `json:"throttles"`
	Resumed      bool     `json:"resumed,omitempty"`
}

// NewSummaryRecord converts a summary to its JSON form.
func NewSummaryRecord(sum *scan.Summary) SummaryRecord {
	rec := SummaryRecord{
		Bucket:        sum.Bucket,
		Prefix:        sum.Prefix,
		Complete:      sum.Complete,
		Objects:       sum.Objects,
		DeleteMarkers: sum.DeleteMarkers,
		Unchecked:     sum.Unchecked,
		ByStatus:      map[string]int64{},
		ByFinding:     map[string]int64{},
		Unjudged:      []string{},
		BucketOwner:   sum.BucketOwner,
		OwnerProblem:  sum.OwnerProblem,
		Strategy:      sum.Strategy.String(),
		Concurrency:   sum.Concurrency,
		DurationMS:    float64(sum.Duration.Microseconds()) / 1000,
		Requests:      sum.Requests,
		Retries:       sum.Retries,
		Throttles:     sum.Throttles,
		Resumed:       sum.Resumed,
	}
	for _, st := range scan.AllStatuses() {
		rec.ByStatus[st.String()] = sum.Count(st)
	}
	for _, k := range acl.AllKinds() {
		if sum.Judged(k) {
			rec.ByFinding[k.String()] = sum.Found(k)
		} else {
			rec.Unjudged = append(rec.Unjudged, k.String())
		}
	}
	return rec
}
