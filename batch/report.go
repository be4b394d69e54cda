package batch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/scan"
)

// A run's reports live in its own folder (a Store rooted there):
//
//	batches/ID.jsonl         a batch's records (risky ones by default)
//	batches/ID.summary.json  its Report: counts, summary, written last
//	scan.json                an async scan's progress (ScanState)
//	results/...              Step Functions' ResultWriter files, if any
//
// A batch's report is written after its records, so a batch with records
// but no report is incomplete and is left out of a merge.

// BatchID names a batch by its items: an engine retrying a batch hands
// the same items, so the retry's report replaces the first attempt's
// instead of adding to it.
func BatchID(input json.RawMessage, items []json.RawMessage) string {
	h := sha256.New()
	// The batch's input (bucket, run, options) names it too: two batches
	// of the same items with other inputs never share a report. It is
	// hashed in a canonical form (keys sorted, no spaces), as Step
	// Functions may serialize it differently in ResultWriter's copy.
	h.Write(canonicalJSON(input))
	h.Write([]byte{0})
	for _, it := range items {
		h.Write(it)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// canonicalJSON re-encodes a JSON value with sorted keys and no spaces
// ("" for none or for what is not JSON).
func canonicalJSON(raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil || v == nil {
		return nil
	}
	b, _ := json.Marshal(v)
	return b
}

// CheckReportPrefix refuses a report prefix from an event that is not a
// plain folder path: segments of letters, digits, '.', '_', '-', '=',
// no '..', at most 256 bytes (it becomes part of S3 keys).
func CheckReportPrefix(prefix string) error {
	p := strings.Trim(prefix, "/")
	ok := len(prefix) <= 256 && p != ""
	for _, seg := range strings.Split(p, "/") {
		ok = ok && seg != "" && seg != "." && seg != ".."
		for i := 0; ok && i < len(seg); i++ {
			c := seg[i]
			ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' || c == '='
		}
	}
	if !ok {
		return fmt.Errorf("%q: want a folder path of letters, digits, '.', '_', '-' or '=' segments (no '..'), at most 256 bytes", prefix)
	}
	return nil
}

// CheckRunID refuses a run id that is not a plain name (it becomes part
// of S3 keys). A loop, not a regexp: `{0,127}` compiles into 1,700
// allocations at every cold start of the function.
func CheckRunID(id string) error {
	ok := len(id) >= 1 && len(id) <= 200 && id[0] != '.' && id[0] != '_' && id[0] != '-'
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return fmt.Errorf("run id %q: want 1-200 letters, digits, '.', '_' or '-', starting with a letter or digit (a state machine's name and an execution's, joined by '-', fit)", id)
	}
	return nil
}

// RecordsKey and ReportKey are where a batch's records and report go in
// its run's folder.
func RecordsKey(batch string) string { return batchesDir + batch + ".jsonl" }
func ReportKey(batch string) string  { return batchesDir + batch + reportSuffix }

const (
	resultsDir   = "results/" // Step Functions' ResultWriter files (the template's prefix)
	batchesDir   = "batches/"
	reportSuffix = ".summary.json"
)

// Report is what a run keeps of one batch beside its records.
type Report struct {
	Run     string `json:"run"`
	Batch   string `json:"batch"`
	Kind    string `json:"kind"`
	Items   int    `json:"items"`
	Records string `json:"records"`
	// RiskyOnly: the records are the risky results only.
	RiskyOnly bool                 `json:"risky_only"`
	Summary   report.SummaryRecord `json:"summary"`
	// Counts are the batch's counts exactly, to be added up; Context is
	// the bucket's context they were judged with.
	Counts  scan.State         `json:"counts"`
	Context *acl.BucketContext `json:"context,omitempty"`
	Written time.Time          `json:"written"`
}

// Output collects a batch's records as JSON lines in memory: a batch is
// a few hundred objects; an async scan's part is bounded by SetLimit.
type Output struct {
	buf       bytes.Buffer
	w         report.Writer
	riskyOnly bool
	risky     int64
	limit     int
	full      func()
}

// SetLimit calls full once the records held reach limit bytes: an async
// scan ends its part there (and goes on in the next), so a part of
// millions of records never outgrows the function's memory.
func (o *Output) SetLimit(limit int, full func()) { o.limit, o.full = limit, full }

// NewOutput collects every record, or only the risky ones.
func NewOutput(riskyOnly bool) *Output {
	o := &Output{riskyOnly: riskyOnly}
	o.w = report.NewJSONL(&o.buf, report.Options{RiskyOnly: riskyOnly})
	return o
}

// Write is scan.Sink.
func (o *Output) Write(r *scan.Result) error {
	if r.Risky() {
		o.risky++
	}
	if err := o.w.Write(r); err != nil {
		return err
	}
	if o.full != nil && o.buf.Len() >= o.limit {
		o.full()
		o.full = nil
	}
	return nil
}

// Risky counts the risky results written.
func (o *Output) Risky() int64 { return o.risky }

// Save writes the records, then the report that makes the batch count,
// completing rep (its summary, counts, context). counts are the batch's
// own (for a part of a resumed scan, what it added).
func (o *Output) Save(ctx context.Context, store Store, rep *Report, sum *scan.Summary, counts scan.State) error {
	if err := o.w.Close(sum); err != nil {
		return err
	}
	rep.Records = RecordsKey(rep.Batch)
	rep.RiskyOnly = o.riskyOnly
	rep.Summary = report.NewSummaryRecord(sum, nil)
	rep.Counts = counts
	bc := sum.Context
	rep.Context = &bc
	rep.Written = time.Now().UTC()
	if err := store.Put(ctx, rep.Records, o.buf.Bytes()); err != nil {
		return err
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	return store.Put(ctx, ReportKey(rep.Batch), body)
}
