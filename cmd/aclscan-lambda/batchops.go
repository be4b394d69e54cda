package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/aclscan/aclscan/batch"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
	"github.com/aws/aws-lambda-go/events"
)

// batchOpsEvent is an S3 Batch Operations event, schema 1.0 (bucket ARN)
// or 2.0 (bucket name).
type batchOpsEvent struct {
	SchemaVersion string `json:"invocationSchemaVersion"`
	InvocationID  string `json:"invocationId"`
	Tasks         []struct {
		TaskID    string `json:"taskId"`
		Key       string `json:"s3Key"`
		VersionID string `json:"s3VersionId"`
		BucketARN string `json:"s3BucketArn"`
		Bucket    string `json:"s3Bucket"`
	} `json:"tasks"`
}

// Result codes of S3 Batch Operations.
const (
	succeeded        = "Succeeded"
	temporaryFailure = "TemporaryFailure" // redriven before the job completes
	permanentFailure = "PermanentFailure"
)

// taskRecord is a judged object as a task's resultString: compact (it
// ends up in the job's completion report, one CSV cell).
type taskRecord struct {
	Status    string   `json:"status"`
	OwnerID   string   `json:"owner_id,omitempty"`
	Findings  []string `json:"findings"`
	Effective []string `json:"effective"`
	BlockedBy []string `json:"blocked_by,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// taskOutcome is one task's result before it is placed in the response.
type taskOutcome struct{ code, text string }

// batchOperations judges each task's object: Succeeded with the record
// when its ACL was judged (ok, denied or missing), TemporaryFailure when
// S3 throttled, failed with 5xx or timed out (Batch Operations redrives
// those), PermanentFailure when nothing will ever succeed (a bucket
// outside the allow-list, a key that cannot be decoded).
func (h *handler) batchOperations(ctx context.Context, raw []byte) (*events.S3BatchJobResponse, error) {
	var ev batchOpsEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, refuse("an S3 Batch Operations event must have invocationSchemaVersion, invocationId and tasks: %v", err)
	}
	if ev.SchemaVersion != "1.0" && ev.SchemaVersion != "2.0" {
		return nil, refuse("S3 Batch Operations invocationSchemaVersion %q: aclscan reads 1.0 and 2.0", ev.SchemaVersion)
	}
	if len(ev.Tasks) == 0 {
		return nil, refuse("the S3 Batch Operations event has no tasks")
	}
	outcomes := make([]taskOutcome, len(ev.Tasks))
	groups := map[string][]int{} // bucket -> task indexes
	var order []string
	for i, t := range ev.Tasks {
		bucket := t.Bucket
		if bucket == "" {
			// arn:aws:s3:::bucket, or the S3 guide's region/account form:
			// the name follows the last ':'.
			bucket = t.BucketARN[strings.LastIndexByte(t.BucketARN, ':')+1:]
		}
		if bucket == "" {
			outcomes[i] = taskOutcome{permanentFailure, "the task names no bucket (s3BucketArn or s3Bucket)"}
			continue
		}
		if err := h.config.checkBucket(bucket); err != nil {
			outcomes[i] = taskOutcome{permanentFailure, err.Error()}
			continue
		}
		if _, ok := groups[bucket]; !ok {
			order = append(order, bucket)
		}
		groups[bucket] = append(groups[bucket], i)
	}
	for _, bucket := range order {
		h.judgeTasks(ctx, &ev, bucket, groups[bucket], outcomes)
	}
	resp := &events.S3BatchJobResponse{
		InvocationSchemaVersion: ev.SchemaVersion,
		InvocationID:            ev.InvocationID,
		// Said explicitly: the documented default (TemporaryFailure) and
		// Powertools' (Succeeded) disagree. Every task gets a result anyway.
		TreatMissingKeysAs: temporaryFailure,
		Results:            make([]events.S3BatchJobResult, len(ev.Tasks)),
	}
	for i, t := range ev.Tasks {
		resp.Results[i] = events.S3BatchJobResult{TaskID: t.TaskID, ResultCode: outcomes[i].code, ResultString: outcomes[i].text}
	}
	return resp, nil
}

// judgeTasks judges the tasks of one bucket, filling their outcomes.
func (h *handler) judgeTasks(ctx context.Context, ev *batchOpsEvent, bucket string, idx []int, outcomes []taskOutcome) {
	fail := func(err error) {
		code := permanentFailure
		if s3access.IsThrottle(err) || s3access.IsUnavailable(err) || ctx.Err() != nil {
			code = temporaryFailure
		}
		for _, i := range idx {
			if outcomes[i].code == "" {
				outcomes[i] = taskOutcome{code, err.Error()}
			}
		}
	}
	items := batch.Items{Kind: batch.Listed, Bucket: bucket}
	byObject := map[[2]string][]int{}
	for _, i := range idx {
		t := ev.Tasks[i]
		// Keys from Batch Operations are URL-encoded (both schemas).
		key, err := url.QueryUnescape(t.Key)
		if err != nil {
			outcomes[i] = taskOutcome{permanentFailure, fmt.Sprintf("s3Key %q is not URL-encoded: %v", t.Key, err)}
			continue
		}
		version := t.VersionID
		if version == "null" {
			version = ""
		}
		id := [2]string{key, version}
		if _, seen := byObject[id]; !seen {
			items.Objects = append(items.Objects, scan.Object{Key: key, VersionID: version, IsLatest: version == ""})
		}
		byObject[id] = append(byObject[id], i)
	}
	if len(items.Objects) == 0 {
		return
	}
	bc, err := h.contexts.Get(ctx, bucket)
	if err != nil {
		fail(err)
		return
	}
	sink := scan.SinkFunc(func(r *scan.Result) error {
		o := taskOutcome{code: succeeded}
		switch {
		case r.Status == scan.StatusError && r.Temporary():
			o = taskOutcome{temporaryFailure, r.Err}
		case r.Status == scan.StatusError:
			o = taskOutcome{permanentFailure, r.Err}
		default:
			rec := taskRecord{Status: r.Status.String(), OwnerID: r.OwnerID, Findings: r.Findings.Names(), Effective: r.Effective.Names(), BlockedBy: r.BlockedBy, Error: r.Err}
			b, _ := json.Marshal(rec)
			o.text = string(b)
		}
		for _, i := range byObject[[2]string{r.Key, r.VersionID}] {
			outcomes[i] = o
		}
		return nil
	})
	// No wait for a failing S3 beyond the client's own retries: Batch
	// Operations redrives a temporary failure later, which beats holding
	// the invocation.
	_, err = batch.Judge(ctx, h.client, batch.Request{Items: items, Context: bc, Concurrency: h.config.scan.Concurrency, OutageWait: -1,
		Accept: h.accept, Trusted: h.trusted}, sink)
	if err != nil {
		fail(fmt.Errorf("not judged: %w", err))
	}
	for _, i := range idx {
		if outcomes[i].code == "" {
			outcomes[i] = taskOutcome{temporaryFailure, "not judged before the invocation ended"}
		}
	}
}
