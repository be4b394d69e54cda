package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"regexp"
	"time"

	"github.com/aclscan/aclscan/batch"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/scan"
)

// asyncEvent starts an async scan ({"async": true} and a scan's
// fields), or continues one (scan_id and part, sent by the function to
// itself).
type asyncEvent struct {
	Async  bool   `json:"async"`
	ScanID string `json:"scan_id"`
	Part   int    `json:"part"`
	Event
}

// asyncResponse is the answer an async scan gives at once.
type asyncResponse struct {
	ScanID string `json:"scan_id"`
	// Report is the scan's folder: parts, scan.json; `aclscan report`
	// merges it.
	Report string `json:"report"`
	State  string `json:"state"`
	// Continuing is set on continuations: what this invocation does.
	Continuing string `json:"continuing,omitempty"`
}

var scanIDPattern = regexp.MustCompile(`^scan-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$`)

// asyncScan answers at once with where the report will be, and scans
// after the answer is posted; a scan that nears the timeout saves its
// checkpoint and invokes the function again to go on.
func (h *handler) asyncScan(ctx context.Context, inv *invocation, raw []byte) (outcome, error) {
	var ev asyncEvent
	if err := decodeStrict(raw, &ev); err != nil {
		return outcome{}, refuse("%v; an async scan is {\"async\": true, \"bucket\", \"prefix\", \"strategy\", \"concurrency\"}", err)
	}
	if ev.ScanID == "" {
		return h.startAsync(ev.Event, inv)
	}
	if !scanIDPattern.MatchString(ev.ScanID) || ev.Part < 1 {
		return outcome{}, refuse("a continuation needs the scan_id the scan answered and its part (1 or more), got %q and %d", ev.ScanID, ev.Part)
	}
	// A continuation is invoked asynchronously: nobody waits for its
	// answer, so it works first and answers last. A failure is then a
	// function error, which Lambda retries.
	store, where, err := h.runStore("", "", ev.ScanID)
	if err != nil {
		return outcome{}, err
	}
	resp := asyncResponse{ScanID: ev.ScanID, Report: where, State: where + "scan.json", Continuing: fmt.Sprintf("part %d", ev.Part)}
	st, err := batch.LoadScanState(ctx, store)
	if err != nil {
		return outcome{}, fmt.Errorf("async scan %s: %w", ev.ScanID, err)
	}
	if st.Done || len(st.Parts)+1 != ev.Part {
		// A duplicate delivery of an event already acted on.
		resp.Continuing = fmt.Sprintf("nothing: part %d is already done or superseded (%d parts, done %v)", ev.Part, len(st.Parts), st.Done)
		return outcome{response: resp}, nil
	}
	var settings Event
	if err := json.Unmarshal(st.Settings, &settings); err != nil {
		return outcome{}, fmt.Errorf("async scan %s: bad settings in scan.json: %w", ev.ScanID, err)
	}
	cfg, err := h.scanConfig(settings)
	if err != nil {
		h.endAsync(ctx, store, st, inv.id, err)
		return outcome{}, err
	}
	return outcome{response: resp}, h.scanPart(ctx, store, st, cfg, inv.id, true)
}

func (h *handler) startAsync(ev Event, inv *invocation) (outcome, error) {
	cfg, store, st, where, err := h.newAsyncScan(ev)
	if err != nil {
		return outcome{}, err
	}
	resp := asyncResponse{ScanID: st.ScanID, Report: where, State: where + "scan.json"}
	return outcome{response: resp, after: func(ctx context.Context) {
		err := batch.SaveScanState(ctx, store, st)
		if err == nil {
			err = h.scanPart(ctx, store, st, cfg, inv.id, true)
		}
		if err != nil {
			// The answer is given: hand the part to a new invocation,
			// which Lambda retries if it fails too.
			log.Printf("aclscan-lambda: async scan %s: %v; continuing in a new invocation", st.ScanID, err)
			h.continueLater(ctx, st.ScanID, len(st.Parts)+1)
		}
	}}, nil
}

// handOffScan starts an async scan whose first part runs in another
// invocation (of RESCAN_FUNCTION, or of this function): a watch answers
// its SQS batch at once and does not scan buckets on its time.
func (h *handler) handOffScan(ctx context.Context, ev Event) (string, error) {
	_, store, st, _, err := h.newAsyncScan(ev)
	if err != nil {
		return "", err
	}
	if err := batch.SaveScanState(ctx, store, st); err != nil {
		return "", err
	}
	first, _ := json.Marshal(asyncEvent{Async: true, ScanID: st.ScanID, Part: 1})
	if err := h.rescan(ctx, first); err != nil {
		return "", err
	}
	return st.ScanID, nil
}

// newAsyncScan names a new async scan and makes its first state.
func (h *handler) newAsyncScan(ev Event) (scan.Config, batch.Store, *batch.ScanState, string, error) {
	cfg, err := h.scanConfig(ev)
	if err != nil {
		return scan.Config{}, nil, nil, "", err
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	now := time.Now().UTC()
	id := "scan-" + now.Format("20060102T150405Z") + "-" + hex.EncodeToString(suffix[:])
	store, where, err := h.runStore("", "", id)
	if err != nil {
		return scan.Config{}, nil, nil, "", err
	}
	settings, _ := json.Marshal(ev)
	st := &batch.ScanState{ScanID: id, Settings: settings, Started: now, Checkpoint: scan.State{Bucket: cfg.Bucket, Prefix: cfg.Prefix, AllVersions: cfg.AllVersions}}
	return cfg, store, st, where, nil
}

// continueLater invokes the function asynchronously for the scan's part.
func (h *handler) continueLater(ctx context.Context, scanID string, part int) {
	next, _ := json.Marshal(asyncEvent{Async: true, ScanID: scanID, Part: part})
	if err := h.invoke(context.WithoutCancel(ctx), next); err != nil {
		log.Printf("aclscan-lambda: async scan %s: %v; send %s to continue it", scanID, err, next)
	}
}

// scanPart scans until the invocation nears its deadline, writes what it
// found as the scan's next part, then the state naming it, and invokes
// the function for the next part unless the scan is over. A part is
// named by its invocation: a duplicate delivery writes its own part,
// which no state names, so every key is in the merged report once.
func (h *handler) scanPart(ctx context.Context, store batch.Store, st *batch.ScanState, cfg scan.Config, requestID string, continueSelf bool) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(15 * time.Minute)
	}
	// Keep a fifth of the time (1 s to 60 s) to write the part and state.
	margin := min(max(time.Until(deadline)/5, time.Second), time.Minute)
	scanCtx, cancel := context.WithDeadline(ctx, deadline.Add(-margin))
	defer cancel()
	prev := st.Checkpoint
	if st.Invocations > 0 {
		cfg.Resume = &prev
	}
	var last *scan.State
	cfg.Checkpoint = func(s *scan.State) error { c := *s; last = &c; return nil }
	cfg.CheckpointInterval = 24 * time.Hour // only the last one, at the end, is kept
	out := batch.NewOutput(!h.config.allRecords)
	out.SetLimit(h.config.partBytes, cancel)
	var settings Event
	_ = json.Unmarshal(st.Settings, &settings) // checked when the scan started
	api, err := h.apiFor(ctx, settings.RoleARN)
	if err != nil {
		h.endAsync(ctx, store, st, requestID, err)
		return nil
	}
	sum, err := scan.Run(scanCtx, api, cfg, out, nil)
	if sum == nil || last == nil {
		h.endAsync(ctx, store, st, requestID, err)
		return nil
	}
	part := fmt.Sprintf("part-%05d-%.8s", len(st.Parts)+1, requestID)
	delta := batch.Subtract(sum.Counts(), prev)
	rep := batch.Report{Run: st.ScanID, Batch: part, Kind: "scan-part", Items: int(delta.Objects)}
	if serr := out.Save(ctx, store, &rep, sum, delta); serr != nil {
		// Without its part the state must not move: the part is done
		// again from the same state.
		st.Checkpoint = prev
		return fmt.Errorf("save part %d: %w", len(st.Parts)+1, serr)
	}
	st.Parts = append(st.Parts, part)
	st.Invocations++
	st.Checkpoint = *last
	st.Writer = requestID
	// The part's time is up, or it holds as many records as it may.
	stopped := err != nil && scanCtx.Err() != nil && ctx.Err() == nil
	if !stopped {
		st.Done = true
		if err != nil {
			st.Error = explain(err)
		}
		rec := report.NewSummaryRecord(sum, envSpelling)
		st.Summary = &rec
	}
	if err := batch.SaveScanState(ctx, store, st); err != nil {
		st.Parts, st.Invocations, st.Checkpoint = st.Parts[:len(st.Parts)-1], st.Invocations-1, prev
		return fmt.Errorf("save the scan's state: %w", err)
	}
	if st.Done {
		return nil
	}
	// The loop of self-invocations ends: after MAX_PARTS parts, or at a
	// part that made no progress (it would only invoke itself again).
	switch {
	case delta.Objects+delta.DeleteMarkers == 0:
		h.endAsync(ctx, store, st, requestID, fmt.Errorf("part %d made no progress (no object reported before the part ended): the scan stops rather than invoke itself again; raise the function's memory or timeout", len(st.Parts)))
		return nil
	case len(st.Parts) >= h.config.maxParts:
		h.endAsync(ctx, store, st, requestID, fmt.Errorf("the scan reached MAX_PARTS=%d parts: it stops; aclscan report merges what it found", h.config.maxParts))
		return nil
	}
	if !continueSelf {
		return nil // the caller (a Step Functions loop) invokes the next part
	}
	// Continue only if the state is still ours: a duplicate invocation
	// that wrote after us continues instead.
	if now, err := batch.LoadScanState(ctx, store); err != nil || now.Writer != requestID {
		log.Printf("aclscan-lambda: async scan %s: another invocation wrote the state; it continues the scan", st.ScanID)
		return nil
	}
	h.continueLater(ctx, st.ScanID, len(st.Parts)+1)
	return nil
}

// endAsync records that the scan stopped for good.
func (h *handler) endAsync(ctx context.Context, store batch.Store, st *batch.ScanState, requestID string, cause error) {
	st.Done, st.Writer = true, requestID
	if cause == nil {
		cause = errors.New("the scan ended without a result")
	}
	st.Error = explain(cause)
	if err := batch.SaveScanState(ctx, store, st); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Printf("aclscan-lambda: async scan %s: save state: %v", st.ScanID, err)
	}
}
