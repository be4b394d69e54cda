package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/aclscan/aclscan/fix"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/scan"
	"github.com/aclscan/aclscan/watch"
)

// watchResponse is the answer to an event of changed objects: what was
// judged, where the records went, the first risky ones; for an SQS batch,
// the messages to deliver again (batchItemFailures, so that only those
// come back).
type watchResponse struct {
	Judged    int `json:"judged"`
	Unchanged int `json:"unchanged"`
	Ignored   int `json:"ignored"`
	// Remediated ACLs were closed (REMEDIATE); RemediationFailed were not.
	Remediated        int `json:"remediated,omitempty"`
	RemediationFailed int `json:"remediation_failed,omitempty"`
	// Alerts counts the findings sent to FINDINGS_EVENT_BUS / FINDINGS_TOPIC_ARN.
	Alerts  int             `json:"alerts,omitempty"`
	Records string          `json:"records,omitempty"`
	Risky   []report.Record `json:"risky"`
	// Rescans are the settings changes of the batch and the scans they
	// started (RESCAN_FUNCTION).
	Rescans []settingResponse `json:"rescans,omitempty"`
	// BatchItemFailures names the SQS messages not judged whole.
	BatchItemFailures []sqsFailure `json:"batchItemFailures"`
}

type sqsFailure struct {
	ItemIdentifier string `json:"itemIdentifier"`
}

// sqsEvent is an SQS batch as Lambda delivers it.
type sqsEvent struct {
	Records []struct {
		MessageID   string `json:"messageId"`
		Body        string `json:"body"`
		EventSource string `json:"eventSource"`
	} `json:"Records"`
}

// isSQS tells an SQS batch from S3 notification records sent to the
// function directly: both hold "Records".
func isSQS(raw []byte) bool {
	var ev sqsEvent
	return json.Unmarshal(raw, &ev) == nil && len(ev.Records) > 0 && ev.Records[0].EventSource == "aws:sqs"
}

// watchEvents judges the objects of S3 notification records or an
// EventBridge S3 event sent to the function directly. An error makes
// Lambda deliver the event again.
func (h *handler) watchEvents(ctx context.Context, inv *invocation, raw []byte) (*watchResponse, error) {
	events, err := watch.Decode(raw)
	switch {
	case errors.Is(err, watch.ErrBadRecords) && len(events) > 0:
		// The others are judged; these would not read better sent again.
		fmt.Printf("aclscan: %v\n", err)
	case err != nil:
		return nil, refuse("%v", err)
	}
	resp := &watchResponse{BatchItemFailures: []sqsFailure{}}
	var records []scan.Result
	var out watch.Outcome
	err = h.judgeEvents(ctx, events, &out, &records)
	resp.setOutcome(out)
	if err != nil {
		return nil, err
	}
	if err := h.saveWatchRecords(ctx, inv, records, resp); err != nil {
		return nil, err
	}
	return resp, h.alert(ctx, records, resp)
}

// alert sends the records' new findings; when it cannot, the objects are
// forgotten, so that the delivery sent again writes and sends them.
func (h *handler) alert(ctx context.Context, records []scan.Result, resp *watchResponse) error {
	n, err := h.publisher.publish(ctx, records)
	resp.Alerts += n
	if err != nil {
		for i := range records {
			h.watcher.Forget(records[i].Bucket, records[i].Key, records[i].VersionID)
		}
		return fmt.Errorf("send the findings: %w", err)
	}
	return nil
}

// sqsBatch judges each message of an SQS batch (an EventBridge event, S3
// notification records, either inside an SNS notification, or a settings
// change) and names the messages to deliver again. The messages are
// judged at once: each waits on S3 for its ACL, and a batch's time is
// what Lambda bills.
func (h *handler) sqsBatch(ctx context.Context, inv *invocation, raw []byte) (*watchResponse, error) {
	var ev sqsEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, refuse("an SQS batch: %v", err)
	}
	parts := make([]messageResult, len(ev.Records))
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxMessagesAtOnce)
	for i := range ev.Records {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			parts[i] = h.judgeMessage(ctx, inv, ev.Records[i].MessageID, []byte(ev.Records[i].Body))
		})
	}
	wg.Wait()
	resp := &watchResponse{BatchItemFailures: []sqsFailure{}}
	var records []scan.Result
	var outcome watch.Outcome
	for i, p := range parts {
		outcome.Add(p.outcome)
		resp.Rescans = append(resp.Rescans, p.rescans...)
		records = append(records, p.records...)
		if p.failed {
			resp.BatchItemFailures = append(resp.BatchItemFailures, sqsFailure{ItemIdentifier: ev.Records[i].MessageID})
		}
	}
	resp.setOutcome(outcome)
	err := h.saveWatchRecords(ctx, inv, records, resp)
	if err == nil {
		err = h.alert(ctx, records, resp)
	}
	if err != nil {
		// The records of every message are lost with the save: all again.
		resp.BatchItemFailures = resp.BatchItemFailures[:0]
		for _, m := range ev.Records {
			resp.BatchItemFailures = append(resp.BatchItemFailures, sqsFailure{ItemIdentifier: m.MessageID})
		}
		fmt.Printf("aclscan: %v; every message of the batch will be delivered again\n", err)
	}
	return resp, nil
}

// maxMessagesAtOnce bounds the messages of a batch judged at once (a
// batching window can gather thousands).
const maxMessagesAtOnce = 16

// messageResult is what one message of an SQS batch gave.
type messageResult struct {
	outcome watch.Outcome
	rescans []settingResponse
	records []scan.Result
	failed  bool
}

// judgeMessage judges one queued message: its objects, or the settings
// change it carries (whose rescan is handed to another invocation).
func (h *handler) judgeMessage(ctx context.Context, inv *invocation, id string, body []byte) (res messageResult) {
	if change, ok := watch.DecodeSettingChange(body); ok {
		out, err := h.settingChanged(ctx, inv, change, true)
		if err != nil {
			fmt.Printf("aclscan: message %s: %v\n", id, err)
			res.failed = true
		} else if s, ok := out.response.(*settingResponse); ok {
			res.rescans = append(res.rescans, *s)
		}
		return res
	}
	events, err := watch.DecodeMessage(body)
	if errors.Is(err, watch.ErrBadRecords) && len(events) > 0 {
		fmt.Printf("aclscan: message %s: %v\n", id, err)
		err = nil // the others are judged
	}
	if errors.Is(err, watch.ErrNotEvents) {
		res.outcome.Ignored++ // not ours to judge; delivering it again changes nothing
		return res
	}
	if err == nil {
		err = h.judgeEvents(ctx, events, &res.outcome, &res.records)
	}
	if err != nil {
		fmt.Printf("aclscan: message %s not judged whole: %v\n", id, err)
		res.failed = true
	}
	return res
}

// setOutcome puts the watcher's counts in the answer.
func (r *watchResponse) setOutcome(o watch.Outcome) {
	r.Judged, r.Unchanged, r.Ignored, r.Remediated, r.RemediationFailed = o.Judged, o.Unchanged, o.Ignored, o.Remediated, o.RemediationFailed
}

// judgeEvents judges events with the environment's watcher, keeping the
// records to save.
func (h *handler) judgeEvents(ctx context.Context, events []watch.Event, outcome *watch.Outcome, records *[]scan.Result) error {
	h.watchOnce.Do(func() {
		h.watcher = &watch.Watcher{API: h.client, Contexts: h.contexts, Accept: h.accept, Trusted: h.trusted,
			Allowed: func(bucket string) bool { return h.config.checkBucket(bucket) == nil }}
		if mode := h.config.remediate; mode != nil {
			h.watcher.Remediate = &watch.Remediation{Mode: *mode, API: h.client, Journal: h.openUndoLog, Done: h.saveUndoLog}
		}
	})
	out, err := h.watcher.Judge(ctx, events, scan.SinkFunc(func(r *scan.Result) error {
		copied := *r
		copied.Grants = slices.Clone(r.Grants) // r is not kept past Write
		*records = append(*records, copied)
		return nil
	}))
	outcome.Add(out)
	return err
}

// openUndoLog opens a delivery's undo log in the function's /tmp.
func (h *handler) openUndoLog() (*fix.Journal, error) {
	name := fmt.Sprintf("aclscan-undo-%s-%d.jsonl", time.Now().UTC().Format("20060102T150405.000000000"), h.undoLogs.Add(1))
	return fix.OpenJournal(filepath.Join(os.TempDir(), name))
}

// saveUndoLog copies a delivery's closed undo log to REPORT_BUCKET
// (watch/undo/YYYY/MM/DD/), then removes it from /tmp.
func (h *handler) saveUndoLog(j *fix.Journal) error {
	body, err := os.ReadFile(j.Path())
	if err != nil {
		return fmt.Errorf("read the undo log: %w", err)
	}
	store, where, err := h.runStore("", "", "watch")
	if err != nil {
		return err
	}
	key := "undo/" + time.Now().UTC().Format("2006/01/02/") + filepath.Base(j.Path())
	if err := store.Put(context.Background(), key, body); err != nil {
		return fmt.Errorf("save the undo log to %s%s (it stays in %s): %w", where, key, j.Path(), err)
	}
	fmt.Printf("aclscan: undo log of %d bytes saved to %s%s\n", len(body), where, key)
	return os.Remove(j.Path())
}

// saveWatchRecords writes an invocation's records to REPORT_BUCKET (when
// set) as JSON lines, and puts the first risky ones in the answer.
func (h *handler) saveWatchRecords(ctx context.Context, inv *invocation, records []scan.Result, resp *watchResponse) error {
	risky := &report.Risky{Limit: h.config.riskyLimit, MaxBytes: riskyMaxBytes}
	for i := range records {
		_ = risky.Write(&records[i])
	}
	resp.Risky = risky.Records
	if resp.Risky == nil {
		resp.Risky = []report.Record{}
	}
	if len(records) == 0 || h.config.reportBucket == "" {
		return nil
	}
	var buf bytes.Buffer
	w, ext := report.NewJSONL(&buf, report.Options{}), ".jsonl"
	if h.config.watchOCSF {
		// One OCSF Detection Finding per effective finding, as JSON lines.
		w, ext = report.NewOCSF(&buf, report.Options{Version: version}), ".ocsf.jsonl"
	}
	for i := range records {
		if err := w.Write(&records[i]); err != nil {
			return err
		}
	}
	if err := w.Close(nil); err != nil {
		return err
	}
	now := time.Now().UTC()
	store, where, err := h.runStore("", "", "watch")
	if err != nil {
		return err
	}
	if buf.Len() == 0 {
		return nil // OCSF: no effective finding, nothing to save
	}
	key := now.Format("2006/01/02/150405.000000000") + "-" + inv.id + ext
	if err := store.Put(ctx, key, buf.Bytes()); err != nil {
		return fmt.Errorf("save the records to %s%s: %w", where, key, err)
	}
	resp.Records = where + key
	return nil
}

// settingResponse is the answer to a bucket-setting event.
type settingResponse struct {
	Event  string `json:"event"`
	Bucket string `json:"bucket,omitempty"`
	// Rescan is the async scan started for the bucket (its scan_id), or
	// why none was.
	Rescan string `json:"rescan"`
}

// settingChanged handles a change of a bucket's (or the account's)
// settings: the cached context is dropped, and the bucket is scanned
// again through the async path, since the change can open objects that
// no object event announces. An account-level change drops every cached
// context; scanning every bucket is --all-buckets' work, not one event's.
// With RESCAN_FUNCTION set (the watch function of the deployment), or
// when the event came in an SQS batch (handOff), the scan is handed to
// that function (or to this one, in a new invocation) instead of running
// after this answer.
func (h *handler) settingChanged(ctx context.Context, inv *invocation, change watch.SettingChange, handOff bool) (outcome, error) {
	resp := &settingResponse{Event: change.EventName, Bucket: change.Bucket}
	switch {
	case change.ErrorCode != "":
		resp.Rescan = "none: the call failed (" + change.ErrorCode + "), nothing changed"
		return outcome{response: resp}, nil
	case !change.DecidesAccess():
		resp.Rescan = "none: not a change of S3 settings that decide access"
		return outcome{response: resp}, nil
	case resp.Bucket == "":
		h.contexts.Forget("")
		resp.Rescan = "none: an account-level change; every cached bucket context is read again (scan the account with --all-buckets)"
		return outcome{response: resp}, nil
	}
	h.contexts.Forget(resp.Bucket)
	if err := h.config.checkBucket(resp.Bucket); err != nil {
		resp.Rescan = "none: " + err.Error()
		return outcome{response: resp}, nil
	}
	if handOff || h.config.rescanFunction != "" {
		id, err := h.handOffScan(ctx, Event{Bucket: resp.Bucket})
		if err != nil {
			return outcome{}, fmt.Errorf("rescan bucket %q after %s: %w", resp.Bucket, change.EventName, err)
		}
		resp.Rescan = id
		return outcome{response: resp}, nil
	}
	out, err := h.startAsync(Event{Bucket: resp.Bucket}, inv)
	if err != nil {
		return outcome{}, err
	}
	if a, ok := out.response.(asyncResponse); ok {
		resp.Rescan = a.ScanID
	}
	out.response = resp
	return out, nil
}
