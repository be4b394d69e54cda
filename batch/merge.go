package batch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/scan"
)

// Merged is what a merge found: the run's counts added up, and what is
// not in them.
type Merged struct {
	// Total adds up every batch that has its report.
	Total *scan.Summary
	// Batches counts the batches merged.
	Batches int
	// RiskyOnly: some batch kept only its risky records.
	RiskyOnly bool
	// Incomplete names batches with records but no report (a batch that
	// failed while writing, or is being written): left out.
	Incomplete []string
	// Missing says what the engine or the scan's state expects and the
	// run does not hold: failed or pending Map Run batches, an async
	// scan's unfinished state, a Map Run's ResultWriter manifest. Empty
	// when the run is whole.
	Missing []string
	// Unnamed are batches in the folder that the Map Run's results do
	// not name (another invoker's, or another run's): not merged.
	Unnamed []string
	// Notes are the batches' notes on the bucket, once each.
	Notes []string
}

// Merge reads the reports of the run whose folder store is rooted at,
// writing every batch's records to sink (batch by batch, in key order)
// and adding up their counts. A Step Functions ResultWriter manifest
// (results/**/manifest.json) or an async scan's scan.json in the folder
// says which batches should be there.
func Merge(ctx context.Context, store Store, sink scan.Sink) (*Merged, error) {
	keys, err := store.List(ctx, "")
	if err != nil {
		return nil, err
	}
	m := &Merged{}
	var batches []string
	hasRecords := map[string]bool{}
	var manifests []string
	var state *ScanState
	var nested []string // runs below this folder: the user gave their parent
	for _, k := range keys {
		switch {
		case strings.HasPrefix(k, batchesDir) && strings.HasSuffix(k, reportSuffix):
			batches = append(batches, strings.TrimSuffix(strings.TrimPrefix(k, batchesDir), reportSuffix))
		case strings.HasPrefix(k, batchesDir) && strings.HasSuffix(k, ".jsonl"):
			hasRecords[strings.TrimSuffix(strings.TrimPrefix(k, batchesDir), ".jsonl")] = true
		case k == scanStateKey:
			if state, err = LoadScanState(ctx, store); err != nil {
				return nil, err
			}
		case strings.HasPrefix(k, resultsDir) && path.Base(k) == "manifest.json":
			manifests = append(manifests, k)
		default:
			if i := strings.Index(k, "/"+batchesDir); i > 0 && strings.HasSuffix(k, reportSuffix) {
				if run := k[:i]; !slices.Contains(nested, run) {
					nested = append(nested, run)
				}
			}
		}
	}
	if len(batches) == 0 && len(hasRecords) == 0 && state == nil && len(nested) > 0 {
		more := ""
		if len(nested) > 5 {
			more = fmt.Sprintf(" and %d more", len(nested)-5)
			nested = nested[:5]
		}
		return nil, fmt.Errorf("%s holds several runs (%s%s): give the folder of one, %s", store.Where(""), strings.Join(nested, ", "), more, store.Where(nested[0]+"/"))
	}
	if len(batches) == 0 && len(hasRecords) == 0 && state == nil && len(manifests) == 0 {
		return nil, fmt.Errorf("%s holds no aclscan batch reports (batches/*.summary.json): give the folder of one run, REPORT_PREFIX/RUN_ID/", store.Where(""))
	}
	if state != nil {
		// Only the parts the scan's state names count: a duplicate
		// invocation's part is not one of them.
		batches = slices.Clone(state.Parts)
		if !state.Done {
			m.Missing = append(m.Missing, fmt.Sprintf("the async scan %s is not finished (%d parts so far, the last at %s): it is still running, or it stopped (then invoke the function with {\"async\": true, \"scan_id\": %q, \"part\": %d} to continue it); merged what its parts hold",
				state.ScanID, len(state.Parts), state.Updated.Format("2006-01-02 15:04:05Z"), state.ScanID, len(state.Parts)+1))
		} else if state.Error != "" {
			m.Missing = append(m.Missing, "the async scan stopped: "+state.Error)
		}
	}
	// A Map Run's results say which batches it ran: only those are
	// merged, and the run is whole only with its manifest.
	var named map[string]bool
	if state == nil && len(manifests) == 0 && len(batches) > 0 {
		m.Missing = append(m.Missing, "no ResultWriter manifest (results/**/manifest.json): the Map Run is not finished, or its results were not written; merged the batches present")
	}
	if len(manifests) > 0 {
		reported := map[string]bool{}
		for _, id := range batches {
			reported[id] = true
		}
		named = map[string]bool{}
		for _, k := range manifests {
			missing, err := checkMapRun(ctx, store, k, reported, named)
			if err != nil {
				return m, err
			}
			m.Missing = append(m.Missing, missing...)
		}
	}
	present := map[string]bool{}
	var sums []*scan.Summary
	for _, id := range batches {
		if named != nil && !named[id] {
			m.Unnamed = append(m.Unnamed, id)
			continue
		}
		rep, err := loadReport(ctx, store, id)
		if errors.Is(err, fs.ErrNotExist) {
			m.Missing = append(m.Missing, fmt.Sprintf("batch %s: its report is missing", id))
			continue
		}
		if err != nil {
			return m, err
		}
		present[id] = true
		if err := mergeRecords(ctx, store, rep, sink); err != nil {
			return m, err
		}
		sum := rep.Counts.CountsSummary()
		sum.BucketOwner = rep.Summary.BucketOwner
		if rep.Context != nil {
			sum.Context = *rep.Context
		}
		sum.Requests = rep.Summary.Requests
		sum.Duration = time.Duration(rep.Summary.DurationMS * float64(time.Millisecond))
		sum.Concurrency = rep.Summary.Concurrency
		sums = append(sums, sum)
		m.Batches++
		m.RiskyOnly = m.RiskyOnly || rep.RiskyOnly
		for _, n := range rep.Summary.Notes {
			if !slices.Contains(m.Notes, n) {
				m.Notes = append(m.Notes, n)
			}
		}
	}
	for id := range hasRecords {
		if !present[id] && !slices.Contains(m.Unnamed, id) && (state == nil || slices.Contains(state.Parts, id)) && (named == nil || named[id]) {
			m.Incomplete = append(m.Incomplete, id)
		}
	}
	slices.Sort(m.Incomplete)
	m.Total = scan.Total(sums)
	m.Total.Buckets = nil // one run: batches are not buckets
	// One bucket's batches: the total is that bucket's, judged with its
	// context (the first batch's; contexts are cached for minutes).
	// Requests and Duration add up the batches' (the children's time,
	// not the run's wall time).
	for i, s := range sums {
		if i == 0 {
			m.Total.Bucket, m.Total.Prefix, m.Total.BucketOwner, m.Total.Context = s.Bucket, s.Prefix, s.BucketOwner, s.Context
		} else if s.Bucket != m.Total.Bucket {
			m.Total.Bucket, m.Total.Context = "(several buckets)", acl.BucketContext{}
		}
		m.Total.Requests += s.Requests
		m.Total.Duration += s.Duration
	}
	m.Total.Complete = len(m.Missing) == 0 && len(m.Incomplete) == 0 && m.Batches > 0
	return m, nil
}

func loadReport(ctx context.Context, store Store, id string) (*Report, error) {
	b, err := store.Get(ctx, ReportKey(id))
	if err != nil {
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s is not an aclscan batch report: %v", store.Where(ReportKey(id)), err)
	}
	return &rep, nil
}

func mergeRecords(ctx context.Context, store Store, rep *Report, sink scan.Sink) error {
	b, err := store.Get(ctx, RecordsKey(rep.Batch))
	if err != nil {
		return fmt.Errorf("batch %s has a report but its records cannot be read: %w", rep.Batch, err)
	}
	return report.ReadJSONL(bytes.NewReader(b), func(rec report.Record) error {
		r, err := rec.Result()
		if err != nil {
			return fmt.Errorf("%s: %w", store.Where(RecordsKey(rep.Batch)), err)
		}
		return sink.Write(&r)
	})
}

// mapRunManifest is a Step Functions ResultWriter manifest.json.
type mapRunManifest struct {
	MapRunArn   string `json:"MapRunArn"`
	ResultFiles map[string][]struct {
		Key string `json:"Key"`
	} `json:"ResultFiles"`
}

// childExecution is one record of a ResultWriter result file.
type childExecution struct {
	Status string `json:"Status"`
	Input  string `json:"Input"`
	Output string `json:"Output"`
	Error  string `json:"Error"`
	Cause  string `json:"Cause"`
}

// checkMapRun reads a ResultWriter manifest and its result files (beside
// it): every failed or pending child is a missing batch, and every
// succeeded child must have its batch report.
func checkMapRun(ctx context.Context, store Store, key string, present, named map[string]bool) ([]string, error) {
	b, err := store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	var mf mapRunManifest
	if err := json.Unmarshal(b, &mf); err != nil || mf.ResultFiles == nil {
		return nil, nil // some other manifest.json
	}
	var missing []string
	dir := path.Dir(key)
	for _, status := range []string{"FAILED", "PENDING", "SUCCEEDED"} {
		for _, f := range mf.ResultFiles[status] {
			fileKey := dir + "/" + path.Base(f.Key)
			if err := eachChild(ctx, store, fileKey, func(e *childExecution) {
				m, id := checkChild(status, *e, present)
				if m != "" {
					missing = append(missing, m)
				}
				if status == "SUCCEEDED" {
					named[id] = true
				}
			}); err != nil {
				return nil, fmt.Errorf("the Map Run manifest %s lists %s: %w", store.Where(key), f.Key, err)
			}
		}
	}
	return missing, nil
}

// eachChild streams a ResultWriter result file (a JSON array of child
// executions, each with its whole input: files of hundreds of MB), one
// child at a time, in memory bounded by the largest child.
func eachChild(ctx context.Context, store Store, key string, fn func(*childExecution)) error {
	r, err := store.Open(ctx, key)
	if err != nil {
		return err
	}
	defer r.Close()
	dec := json.NewDecoder(r)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return fmt.Errorf("%s is not a ResultWriter result file (a JSON array)", store.Where(key))
	}
	for dec.More() {
		var e childExecution
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("%s is not a ResultWriter result file: %v", store.Where(key), err)
		}
		fn(&e)
	}
	return nil
}

func checkChild(status string, e childExecution, present map[string]bool) (string, string) {
	var in struct {
		BatchInput json.RawMessage   `json:"BatchInput"`
		Items      []json.RawMessage `json:"Items"`
	}
	_ = json.Unmarshal([]byte(e.Input), &in) // best effort: the count is for the message
	id := BatchID(in.BatchInput, in.Items)
	if status != "SUCCEEDED" {
		return fmt.Sprintf("batch %s (%d items): the Map Run's child is %s (%s %s)", id, len(in.Items), strings.ToLower(status), e.Error, e.Cause), id
	}
	var out struct {
		Batch string `json:"batch"`
	}
	if json.Unmarshal([]byte(e.Output), &out) == nil && out.Batch != "" {
		id = out.Batch
	}
	if !present[id] {
		return fmt.Sprintf("batch %s (%d items): the Map Run says it succeeded, but its report is not in the run's folder", id, len(in.Items)), id
	}
	return "", id
}
