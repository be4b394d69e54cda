package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/aclscan/aclscan/watch"
)

// badEvent is an event the function refuses: no retry changes it.
type badEvent struct{ msg string }

func (e *badEvent) Error() string     { return e.msg }
func (e *badEvent) ErrorType() string { return "aclscan.BadEvent" }

func refuse(format string, args ...any) error { return &badEvent{msg: fmt.Sprintf(format, args...)} }

// eventShape is what tells the event kinds apart.
type eventShape struct {
	Async         bool            `json:"async"`
	Records       json.RawMessage `json:"Records"`
	Source        string          `json:"source"`
	DetailType    string          `json:"detail-type"`
	PlanAccounts  json.RawMessage `json:"plan_accounts"`
	BucketPart    json.RawMessage `json:"bucket_part"`
	Items         json.RawMessage `json:"Items"`
	SchemaVersion string          `json:"invocationSchemaVersion"`
	Tasks         json.RawMessage `json:"tasks"`
}

const eventKinds = `a scan {"bucket", "prefix", "strategy", "concurrency"}, an async scan {"async": true, "bucket", ...}, a Step Functions Distributed Map batch {"BatchInput", "Items"}, an S3 Batch Operations event {"invocationSchemaVersion", "tasks"}, S3 event notification records {"Records"}, an SQS batch of them, an EventBridge S3 event, CloudTrail's record of an S3 settings change, a plan over accounts {"run_id", "plan_accounts"} or a part of a planned bucket {"bucket_part"}`

// dispatch hands the event to the handler of its kind.
func (h *handler) dispatch(ctx context.Context, inv *invocation) (outcome, error) {
	raw := bytes.TrimSpace(inv.event)
	if len(raw) == 0 || raw[0] != '{' {
		return outcome{}, refuse("the event is not a JSON object; aclscan takes %s", eventKinds)
	}
	var shape eventShape
	if err := json.Unmarshal(raw, &shape); err != nil {
		return outcome{}, refuse("the event is not valid JSON for aclscan (%v); it takes %s", err, eventKinds)
	}
	switch {
	case shape.SchemaVersion != "" || shape.Tasks != nil:
		resp, err := h.batchOperations(ctx, raw)
		return outcome{response: resp}, err
	case shape.Items != nil:
		resp, err := h.mapBatch(ctx, raw)
		return outcome{response: resp}, err
	case shape.Async:
		return h.asyncScan(ctx, inv, raw)
	case shape.PlanAccounts != nil:
		resp, err := h.planAccounts(ctx, raw)
		return outcome{response: resp}, err
	case shape.BucketPart != nil:
		resp, err := h.bucketPart(ctx, inv, raw)
		return outcome{response: resp}, err
	case shape.Records != nil && isSQS(raw):
		resp, err := h.sqsBatch(ctx, inv, raw)
		return outcome{response: resp}, err
	case shape.Source == "aws.s3" && shape.DetailType == watch.CloudTrailDetailType:
		change, _ := watch.DecodeSettingChange(raw)
		return h.settingChanged(ctx, inv, change, false)
	case shape.Records != nil || shape.Source == "aws.s3":
		resp, err := h.watchEvents(ctx, inv, raw)
		return outcome{response: resp}, err
	}
	var ev Event
	if err := decodeStrict(raw, &ev); err != nil {
		return outcome{}, refuse("%v; aclscan takes %s", err, eventKinds)
	}
	resp, err := h.handle(ctx, ev)
	return outcome{response: resp}, err
}

// decodeStrict decodes raw into v, refusing fields v does not have.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("unrecognized event: %v", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// bucketRefused is an event naming a bucket the function may not audit.
type bucketRefused struct{ bucket, allowed string }

func (e *bucketRefused) Error() string {
	return fmt.Sprintf("bucket %q is not one this function audits (%s)", e.bucket, e.allowed)
}
func (e *bucketRefused) ErrorType() string { return "aclscan.BucketNotAllowed" }

// checkBucket refuses a bucket outside the allow-list: whoever may
// invoke the function must not turn it against other buckets its role
// can read. ALLOWED_BUCKETS holds names or globs; empty means
// BUCKET_NAME only.
func (c *config) checkBucket(bucket string) error {
	if len(c.allowed) == 0 {
		if c.scan.Bucket != "" && bucket == c.scan.Bucket {
			return nil
		}
		if c.scan.Bucket == "" {
			return &bucketRefused{bucket, "set ALLOWED_BUCKETS or BUCKET_NAME to the buckets it may audit"}
		}
		return &bucketRefused{bucket, "BUCKET_NAME=" + c.scan.Bucket + "; ALLOWED_BUCKETS lists others"}
	}
	for _, pattern := range c.allowed {
		if ok, _ := path.Match(pattern, bucket); ok {
			return nil
		}
	}
	return &bucketRefused{bucket, "ALLOWED_BUCKETS=" + strings.Join(c.allowed, ",")}
}
