package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aclscan/aclscan/batch"
	"github.com/aclscan/aclscan/s3access"
)

// mapEvent is a Step Functions Distributed Map batch: ItemBatcher's
// BatchInput (the template's) and the items of one batch.
type mapEvent struct {
	BatchInput struct {
		Bucket       string `json:"bucket"`
		RunID        string `json:"run_id"`
		ReportBucket string `json:"report_bucket"`
		ReportPrefix string `json:"report_prefix"`
		// Records: "risky" (default) or "all".
		Records      string `json:"records"`
		VerifyPublic *bool  `json:"verify_public"`
	} `json:"BatchInput"`
	Items []json.RawMessage `json:"Items"`
	// raw is the event as received: the batch is named by all of it.
	raw []byte
}

// batchInput is the event's BatchInput as sent (null when absent).
func (ev *mapEvent) batchInput() json.RawMessage {
	var whole struct {
		BatchInput json.RawMessage `json:"BatchInput"`
	}
	_ = json.Unmarshal(ev.raw, &whole)
	return whole.BatchInput
}

// mapResponse is a batch's answer: compact, far under Step Functions'
// 256 KiB state limit whatever the batch holds (the records are in S3).
type mapResponse struct {
	Batch       string           `json:"batch"`
	Run         string           `json:"run"`
	Bucket      string           `json:"bucket"`
	Kind        string           `json:"kind"`
	Items       int              `json:"items"`
	Objects     int64            `json:"objects"`
	ByStatus    map[string]int64 `json:"by_status"`
	ByEffective map[string]int64 `json:"by_effective"`
	Risky       int64            `json:"risky"`
	Records     string           `json:"records"`
}

// batchIncomplete is a batch some of whose objects have no result (S3
// kept failing): Step Functions retries it (the template's Retry names
// this error); the retry's report replaces this one.
type batchIncomplete struct{ msg string }

func (e *batchIncomplete) Error() string     { return e.msg }
func (e *batchIncomplete) ErrorType() string { return "aclscan.BatchIncomplete" }

func (h *handler) mapBatch(ctx context.Context, raw []byte) (*mapResponse, error) {
	var ev mapEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, refuse("a Distributed Map batch must be {\"BatchInput\": {...}, \"Items\": [...]}: %v", err)
	}
	ev.raw = raw
	in := ev.BatchInput
	if in.RunID == "" {
		return nil, refuse("the batch's BatchInput has no run_id: pass the execution's name (\"run_id.$\": \"$$.Execution.Name\")")
	}
	if err := batch.CheckRunID(in.RunID); err != nil {
		return nil, refuse("BatchInput: %v", err)
	}
	items, err := batch.ParseItems(ev.Items, in.Bucket)
	if err != nil {
		return nil, refuse("%v", err)
	}
	if err := h.config.checkBucket(items.Bucket); err != nil {
		return nil, err
	}
	store, where, err := h.runStore(in.ReportBucket, in.ReportPrefix, in.RunID)
	if err != nil {
		return nil, err
	}
	// An Express child lives at most 5 minutes, retries included: the
	// batch stops before its task's timeout (deploy/statemachines:
	// TimeoutSeconds 80) and answers BatchIncomplete, which is retried,
	// instead of being cut off.
	if h.config.batchTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.config.batchTimeout)
		defer cancel()
	}
	bc, err := h.contexts.Get(ctx, items.Bucket)
	if err != nil {
		return nil, err
	}
	riskyOnly := !h.config.allRecords
	switch in.Records {
	case "all":
		riskyOnly = false
	case "risky":
		riskyOnly = true
	case "":
	default:
		return nil, refuse("BatchInput records must be risky or all, got %q", in.Records)
	}
	verify := h.config.scan.VerifyPublic
	if in.VerifyPublic != nil {
		verify = *in.VerifyPublic
	}
	out := batch.NewOutput(riskyOnly)
	sum, err := batch.Judge(ctx, h.client, batch.Request{
		Items: items, Context: bc, Concurrency: h.config.scan.Concurrency, Accept: h.accept, Trusted: h.trusted,
		VerifyPublic: verify, OutageWait: 10 * time.Second,
	}, out)
	if sum == nil {
		return nil, err
	}
	if err != nil || !sum.Complete {
		return nil, &batchIncomplete{msg: fmt.Sprintf("batch of %d items in %s: %d have no result: %v", len(ev.Items), items.Bucket, sum.Unchecked, err)}
	}
	id := batch.BatchID(ev.batchInput(), ev.Items)
	rep := batch.Report{Run: in.RunID, Batch: id, Kind: items.Kind.String(), Items: len(ev.Items)}
	if err := out.Save(ctx, store, &rep, sum, sum.Counts()); err != nil {
		return nil, fmt.Errorf("save the batch's report: %w", err)
	}
	return &mapResponse{
		Batch: id, Run: in.RunID, Bucket: items.Bucket, Kind: items.Kind.String(), Items: len(ev.Items),
		Objects: sum.Objects, ByStatus: rep.Summary.ByStatus, ByEffective: rep.Summary.ByEffective,
		Risky: out.Risky(), Records: where + batch.RecordsKey(id),
	}, nil
}

// runStore is the folder of a run's reports: REPORT_BUCKET (an event may
// name the same bucket, or any when REPORT_BUCKET is unset) under the
// prefix, RUN/. It returns the folder's s3:// address too.
func (h *handler) runStore(bucket, prefix, run string) (batch.Store, string, error) {
	switch {
	case bucket == "":
		bucket = h.config.reportBucket
	case h.config.reportBucket != "" && bucket != h.config.reportBucket:
		return nil, "", refuse("report_bucket %q: this function writes its reports to REPORT_BUCKET=%s only", bucket, h.config.reportBucket)
	}
	if bucket == "" {
		return nil, "", refuse("no report bucket: set REPORT_BUCKET (or the batch's report_bucket)")
	}
	if err := s3access.ValidateBucketName(bucket); err != nil {
		return nil, "", refuse("report bucket: %v", err)
	}
	if prefix == "" {
		prefix = h.config.reportPrefix
	} else if err := batch.CheckReportPrefix(prefix); err != nil {
		return nil, "", refuse("report_prefix: %v", err)
	}
	dir := strings.Trim(prefix, "/") + "/" + run + "/"
	if h.store != nil {
		return h.store(dir), "s3://" + bucket + "/" + dir, nil
	}
	store := batch.NewS3Store(h.client.SDK(), bucket, dir)
	// The report bucket is the deployment's, in the function's account.
	store.ExpectedOwner = h.client.ExpectedBucketOwner(context.Background())
	return store, "s3://" + bucket + "/" + dir, nil
}
