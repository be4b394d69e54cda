package main

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/batch"
	"github.com/aclscan/aclscan/inventory/aclfield"
)

// writeBatch judges inventory rows (no request) into a run's folder, as
// the Lambda function does for a Distributed Map batch.
func writeBatch(t *testing.T, dir string, keys map[string]bool) []json.RawMessage {
	t.Helper()
	const owner = "owner-id"
	private := []acl.Grant{{Type: "CanonicalUser", ID: owner, Permission: "FULL_CONTROL"}}
	var items []json.RawMessage
	for _, k := range slices.Sorted(maps.Keys(keys)) { // the batch id follows the items' order
		public := keys[k]
		grants := private
		if public {
			grants = append(grants, acl.Grant{Type: "Group", URI: acl.AllUsersURI, Permission: "READ"})
		}
		b, _ := json.Marshal(map[string]string{"Bucket": "src", "Key": k, "ObjectOwner": owner, "ObjectAccessControlList": aclfield.Encode(grants, false)})
		items = append(items, b)
	}
	parsed, err := batch.ParseItems(items, "")
	if err != nil {
		t.Fatal(err)
	}
	out := batch.NewOutput(false)
	bc := acl.BucketContext{Owner: owner, Policy: acl.Read(""), ACL: acl.Read(private)}
	sum, err := batch.Judge(context.Background(), nil, batch.Request{Items: parsed, Context: bc}, out)
	if err != nil {
		t.Fatal(err)
	}
	rep := batch.Report{Run: "run", Batch: batch.BatchID(json.RawMessage(`{"run_id":"run"}`), items), Kind: "inventory", Items: len(items)}
	if err := out.Save(context.Background(), batch.DirStore{Dir: dir}, &rep, sum, sum.Counts()); err != nil {
		t.Fatal(err)
	}
	return items
}

// succeededChild is the ResultWriter's entry of a child that judged items
// (a batch written by writeBatch) and succeeded.
func succeededChild(items []json.RawMessage) map[string]string {
	in, _ := json.Marshal(map[string]any{"BatchInput": map[string]string{"run_id": "run"}, "Items": items})
	return map[string]string{"Status": "SUCCEEDED", "Input": string(in), "Output": `{"batch":"` + batch.BatchID(json.RawMessage(`{"run_id":"run"}`), items) + `"}`}
}

// aclscan report merges a run's folder into one report with the usual
// formats and exit codes, and exits 1 naming the batches the Map Run
// says are missing.
func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	first := writeBatch(t, dir, map[string]bool{"a": true, "b": false})
	second := writeBatch(t, dir, map[string]bool{"c": false})

	// Without the Map Run's ResultWriter manifest the run is not known
	// to be whole: merged, and said so (exit 1).
	code, stdout, stderr := runCLI(t, "report", dir, "--format", "jsonl")
	if code != exitIncomplete || strings.Count(stdout, "\n") != 3 || !strings.Contains(stderr, "no ResultWriter manifest") {
		t.Fatalf("without the manifest: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// The manifest names both batches: whole. A third batch it does not
	// name (written by someone else) is said and not merged.
	succeeded, _ := json.Marshal([]map[string]string{succeededChild(first), succeededChild(second)})
	os.MkdirAll(filepath.Join(dir, "results", "m0"), 0o700)
	os.WriteFile(filepath.Join(dir, "results", "m0", "manifest.json"), []byte(`{"MapRunArn":"arn","ResultFiles":{"FAILED":[],"PENDING":[],"SUCCEEDED":[{"Key":"p/run/results/m0/SUCCEEDED_0.json"}]}}`), 0o600)
	os.WriteFile(filepath.Join(dir, "results", "m0", "SUCCEEDED_0.json"), succeeded, 0o600)
	intruder := writeBatch(t, dir, map[string]bool{"x": true})
	code, stdout, stderr = runCLI(t, "report", dir, "--format", "jsonl")
	intruderID := batch.BatchID(json.RawMessage(`{"run_id":"run"}`), intruder)
	if code != 0 || strings.Count(stdout, "\n") != 3 || !strings.Contains(stderr, "merged 2 batches") ||
		!strings.Contains(stderr, "not merged: batch "+intruderID) || strings.Contains(stdout, `"key":"x"`) {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if code, _, _ := runCLI(t, "report", dir, "--format", "jsonl", "--fail-on", "public"); code != exitFindings {
		t.Errorf("--fail-on public: exit %d, want %d", code, exitFindings)
	}
	summary := filepath.Join(t.TempDir(), "summary.json")
	code, stdout, _ = runCLI(t, "report", dir, "--format", "table", "--summary-json", summary)
	if code != 0 || !strings.Contains(stdout, "public") {
		t.Errorf("table: exit %d:\n%s", code, stdout)
	}
	var sum struct {
		Objects  int64 `json:"objects"`
		Complete bool  `json:"complete"`
	}
	if b, err := os.ReadFile(summary); err != nil || json.Unmarshal(b, &sum) != nil || sum.Objects != 3 || !sum.Complete {
		t.Errorf("summary %+v (%v)", sum, err)
	}

	// The Map Run's ResultWriter says a child failed: that batch is missing.
	failedInput, _ := json.Marshal(map[string]any{"Items": []map[string]string{{"Key": "z"}}})
	manifest := filepath.Join(dir, "results", "m1", "manifest.json")
	os.MkdirAll(filepath.Dir(manifest), 0o700)
	os.WriteFile(manifest, []byte(`{"MapRunArn":"arn","ResultFiles":{"FAILED":[{"Key":"p/run/results/m1/FAILED_0.json"}],"PENDING":[],"SUCCEEDED":[]}}`), 0o600)
	failed, _ := json.Marshal([]map[string]string{{"Status": "FAILED", "Input": string(failedInput), "Error": "States.Timeout"}})
	os.WriteFile(filepath.Join(dir, "results", "m1", "FAILED_0.json"), failed, 0o600)
	code, stdout, stderr = runCLI(t, "report", dir, "--format", "jsonl")
	if code != exitIncomplete || !strings.Contains(stderr, "missing: batch") || !strings.Contains(stderr, "States.Timeout") || strings.Count(stdout, "\n") != 3 {
		t.Errorf("with a failed child: exit %d, stderr:\n%s", code, stderr)
	}

	for _, args := range [][]string{{"report"}, {"report", filepath.Join(dir, "nope")}, {"report", dir, "--format", "xml"}} {
		if code, _, stderr := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, stderr)
		}
	}
	if code, _, stderr := runCLI(t, "report", t.TempDir()); code != exitIncomplete || !strings.Contains(stderr, "holds no aclscan batch reports") {
		t.Errorf("empty folder: exit %d: %s", code, stderr)
	}
}
