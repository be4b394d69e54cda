package batch

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/inventory/aclfield"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
	"github.com/aws/smithy-go"
)

const (
	owner = "owner-canonical-id"
	other = "other-canonical-id"
)

var (
	privateACL = aclfield.Encode([]acl.Grant{{Type: "CanonicalUser", ID: owner, Permission: "FULL_CONTROL"}}, false)
	publicACL  = aclfield.Encode([]acl.Grant{
		{Type: "CanonicalUser", ID: owner, Permission: "FULL_CONTROL"},
		{Type: "Group", URI: acl.AllUsersURI, Permission: "READ"},
	}, false)
)

func raw(t *testing.T, items ...any) []json.RawMessage {
	t.Helper()
	out := make([]json.RawMessage, len(items))
	for i, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// Items as the two Distributed Map readers document them (aws-formats
// notes §4.1): the listing reader's object, the inventory reader's row
// with every value a string.
func TestParseItems(t *testing.T) {
	listed, err := ParseItems(raw(t,
		map[string]any{"Etag": "\"05704fbdccb224cb01c59005bebbad28\"", "Key": "processData/a b+c.jpg", "LastModified": 1668699881, "Size": 34910, "StorageClass": "STANDARD"},
	), "my-bucket")
	if err != nil {
		t.Fatal(err)
	}
	if listed.Kind != Listed || listed.Bucket != "my-bucket" || listed.Objects[0].Key != "processData/a b+c.jpg" || listed.Objects[0].Known {
		t.Errorf("listed = %+v", listed)
	}

	inv, err := ParseItems(raw(t,
		map[string]string{"Bucket": "src", "Key": "dir/a+b%2Bc.txt", "ObjectOwner": owner, "ObjectAccessControlList": publicACL},
		map[string]string{"Bucket": "src", "Key": "v", "VersionId": "3HL4kqtJlcpXroDTDmJ", "IsLatest": "false", "ObjectOwner": other, "ObjectAccessControlList": privateACL},
		map[string]string{"Bucket": "src", "Key": "gone", "VersionId": "x", "IsLatest": "true", "IsDeleteMarker": "true", "ObjectOwner": owner, "ObjectAccessControlList": ""},
		map[string]string{"Bucket": "src", "Key": "hidden", "ObjectOwner": owner, "ObjectAccessControlList": aclfield.Encode(nil, true)},
	), "")
	if err != nil {
		t.Fatal(err)
	}
	o := inv.Objects
	if inv.Kind != Inventoried || inv.Bucket != "src" || len(o) != 4 {
		t.Fatalf("inventory = %+v", inv)
	}
	if o[0].Key != "dir/a b+c.txt" || !o[0].Known || o[0].Policy.Owner != owner || len(o[0].Policy.Grants) != 2 {
		t.Errorf("row 1 = %+v", o[0])
	}
	if o[1].VersionID != "3HL4kqtJlcpXroDTDmJ" || o[1].IsLatest || o[1].OwnerID != other {
		t.Errorf("row 2 = %+v", o[1])
	}
	if !o[2].DeleteMarker || !o[3].Unavailable {
		t.Errorf("rows 3, 4 = %+v, %+v", o[2], o[3])
	}

	// A key that is not valid URL encoding was handed over decoded: it is
	// taken as it is, not refused with its batch.
	for field, want := range map[string]string{"100%.txt": "100%.txt", "%zz/a+b": "%zz/a+b", "100%25.txt": "100%.txt"} {
		got, err := ParseItems(raw(t, map[string]string{"Bucket": "src", "Key": field, "ObjectOwner": owner, "ObjectAccessControlList": privateACL}), "")
		if err != nil || got.Objects[0].Key != want || !got.Objects[0].Known {
			t.Errorf("key field %q: %+v, %v; want key %q judged", field, got.Objects, err, want)
		}
	}

	for name, tc := range map[string]struct {
		items  []json.RawMessage
		bucket string
		want   string
	}{
		"no items":           {nil, "b", "no items"},
		"no key":             {raw(t, map[string]any{"Size": 1}), "b", "has no Key"},
		"listing, no bucket": {raw(t, map[string]any{"Key": "k"}), "", "names no bucket"},
		"mixed kinds": {raw(t, map[string]any{"Key": "k"}, map[string]string{"Bucket": "b", "Key": "k", "ObjectOwner": owner, "ObjectAccessControlList": privateACL}), "b",
			"one batch, one kind"},
		"two buckets": {raw(t, map[string]string{"Bucket": "b1", "Key": "k", "ObjectOwner": owner, "ObjectAccessControlList": privateACL},
			map[string]string{"Bucket": "b2", "Key": "k", "ObjectOwner": owner, "ObjectAccessControlList": privateACL}), "", "one batch, one bucket"},
		"report without ACL field": {raw(t, map[string]string{"Bucket": "b", "Key": "k", "ObjectOwner": owner}), "", "ObjectAccessControlList"},
		"bad ACL":                  {raw(t, map[string]string{"Bucket": "b", "Key": "k", "ObjectOwner": owner, "ObjectAccessControlList": "!!"}), "", "not base64"},
	} {
		if _, err := ParseItems(tc.items, tc.bucket); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", name, err, tc.want)
		}
	}
}

// The same items give the same batch id (a retry overwrites), other
// items another.
func TestBatchIDFollowsItems(t *testing.T) {
	a := raw(t, map[string]string{"Key": "a"}, map[string]string{"Key": "b"})
	b := raw(t, map[string]string{"Key": "a"}, map[string]string{"Key": "b"})
	c := raw(t, map[string]string{"Key": "ab"})
	if BatchID(nil, a) != BatchID(nil, b) || BatchID(nil, a) == BatchID(nil, c) {
		t.Errorf("ids %s %s %s", BatchID(nil, a), BatchID(nil, b), BatchID(nil, c))
	}
	for _, bad := range []string{"", "../x", "a/b", strings.Repeat("x", 201)} {
		if CheckRunID(bad) == nil {
			t.Errorf("run id %q accepted", bad)
		}
	}
}

// judgeInventory judges inventory items with no request (the API is
// never called: nil would panic) and saves the batch.
func judgeInventory(t *testing.T, store Store, items []json.RawMessage, riskyOnly bool) *scan.Summary {
	t.Helper()
	parsed, err := ParseItems(items, "")
	if err != nil {
		t.Fatal(err)
	}
	bc := acl.BucketContext{ACL: acl.Read([]acl.Grant{{Type: "CanonicalUser", ID: owner, Permission: "FULL_CONTROL"}}), Owner: owner, Policy: acl.Read("")}
	out := NewOutput(riskyOnly)
	sum, err := Judge(context.Background(), nil, Request{Items: parsed, Context: bc}, out)
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Save(context.Background(), store, &Report{Run: "run-1", Batch: BatchID(runInput, items), Kind: parsed.Kind.String(), Items: len(items)}, sum, sum.Counts()); err != nil {
		t.Fatal(err)
	}
	return sum
}

func row(key, aclField string) map[string]string {
	return map[string]string{"Bucket": "src", "Key": key, "ObjectOwner": owner, "ObjectAccessControlList": aclField}
}

// A run's batches merge into one report: a retried batch counts once,
// records without their report are left out and named, and the Map
// Run's failed children are missing batches.
func TestMerge(t *testing.T) {
	dir := t.TempDir()
	store := DirStore{Dir: dir}
	first := raw(t, row("a", publicACL), row("b", privateACL), row("c", privateACL))
	second := raw(t, row("d", publicACL), row("e", aclfield.Encode(nil, true)))
	judgeInventory(t, store, first, true)
	judgeInventory(t, store, first, true) // Step Functions retried it
	judgeInventory(t, store, second, false)
	// A batch that stopped between its records and its report.
	if err := store.Put(context.Background(), RecordsKey("deadbeef"), []byte("{}\n")); err != nil {
		t.Fatal(err)
	}

	var keys []string
	sink := scan.SinkFunc(func(r *scan.Result) error {
		keys = append(keys, r.Key+":"+r.Status.String()+":"+strings.Join(r.Effective.Names(), "+"))
		return nil
	})
	m, err := Merge(context.Background(), store, sink)
	if err != nil {
		t.Fatal(err)
	}
	if m.Batches != 2 || m.Total.Objects != 5 || m.Total.Count(scan.StatusUnavailable) != 1 || m.Total.FoundEffective(acl.Public) != 2 {
		t.Errorf("merged %d batches, total %+v", m.Batches, m.Total)
	}
	// first kept risky records only (a), second every record (d, e).
	want := map[string]bool{"a:ok:public": true, "d:ok:public": true, "e:unavailable:unreadable": true}
	if len(keys) != len(want) {
		t.Errorf("records %v, want %v", keys, want)
	}
	for _, k := range keys {
		if !want[k] {
			t.Errorf("unexpected record %s", k)
		}
	}
	// The bucket's context travels with the batches: notes and readiness
	// of the merged run are the bucket's.
	if m.Total.Context.Owner != owner || !m.Total.Context.ACL.Known || m.Total.Bucket != "src" {
		t.Errorf("merged context %+v of bucket %q", m.Total.Context, m.Total.Bucket)
	}
	if len(m.Incomplete) != 1 || m.Incomplete[0] != "deadbeef" || m.Total.Complete || !m.RiskyOnly {
		t.Errorf("incomplete %v, complete %v, risky-only %v", m.Incomplete, m.Total.Complete, m.RiskyOnly)
	}

	// The ResultWriter manifest of the Map Run: one child failed, one
	// succeeded whose report is missing, one succeeded and is here.
	input := func(items []json.RawMessage) string {
		b, _ := json.Marshal(map[string]any{"BatchInput": map[string]string{"run_id": "run-1"}, "Items": items})
		return string(b)
	}
	lost := raw(t, row("z", privateACL))
	failed := raw(t, row("y", privateACL), row("x", privateACL))
	writeJSON(t, filepath.Join(dir, "results", "maprun", "manifest.json"), map[string]any{
		"DestinationBucket": "reports", "MapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:m/Map:1",
		"ResultFiles": map[string]any{
			"FAILED":    []map[string]any{{"Key": "aclscan/run-1/results/maprun/FAILED_0.json", "Size": 1}},
			"PENDING":   []map[string]any{},
			"SUCCEEDED": []map[string]any{{"Key": "aclscan/run-1/results/maprun/SUCCEEDED_0.json", "Size": 1}},
		},
	})
	writeJSON(t, filepath.Join(dir, "results", "maprun", "FAILED_0.json"), []map[string]any{
		{"Status": "FAILED", "Input": input(failed), "Error": "aclscan.BatchIncomplete", "Cause": "S3 kept failing"},
	})
	writeJSON(t, filepath.Join(dir, "results", "maprun", "SUCCEEDED_0.json"), []map[string]any{
		{"Status": "SUCCEEDED", "Input": input(first), "Output": `{"batch":"` + BatchID(runInput, first) + `"}`},
		{"Status": "SUCCEEDED", "Input": input(lost), "Output": `{"batch":"` + BatchID(runInput, lost) + `"}`},
	})
	m, err = Merge(context.Background(), store, scan.SinkFunc(func(*scan.Result) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(m.Missing, "\n")
	if len(m.Missing) != 2 || !strings.Contains(got, BatchID(runInput, failed)+" (2 items): the Map Run's child is failed (aclscan.BatchIncomplete") ||
		!strings.Contains(got, BatchID(runInput, lost)+" (1 items): the Map Run says it succeeded, but its report is not") {
		t.Errorf("missing:\n%s", got)
	}

	if _, err := Merge(context.Background(), DirStore{Dir: t.TempDir()}, sink); err == nil || !strings.Contains(err.Error(), "holds no aclscan batch reports") {
		t.Errorf("empty folder: %v", err)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Records read back are the results written: Record.Result inverts
// NewRecord.
func TestRecordRoundTrip(t *testing.T) {
	in := scan.Result{Bucket: "b", Key: "k", Versioned: true, VersionID: "v1", OwnerID: owner, Status: scan.StatusOK,
		Grants: []acl.Grant{{Type: "Group", URI: acl.AllUsersURI, Permission: "READ"}}, Findings: acl.Findings(0).With(acl.Public),
		BlockedBy: []string{"bucket:IgnorePublicAcls"}, Verified: scan.NotServed, Source: "inventory", ReportDate: "2026-12-01T00:00:00Z", Rechecked: scan.Changed}
	rec := report.NewRecord(&in)
	out, err := rec.Result()
	if err != nil {
		t.Fatal(err)
	}
	if a, b := report.NewRecord(&out), rec; !sameJSON(t, a, b) {
		t.Errorf("round trip changed the record: %+v vs %+v", a, b)
	}
	rec.Status = "weird"
	if _, err := rec.Result(); err == nil {
		t.Error("unknown status accepted")
	}
	rec.Status, rec.Findings = "ok", []string{"nonsense"}
	if _, err := rec.Result(); err == nil || !strings.Contains(err.Error(), `unknown finding "nonsense"`) {
		t.Errorf("unknown finding: %v", err)
	}
}

func sameJSON(t *testing.T, a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// An async scan's folder: only the parts its state lists count (a
// duplicate invocation's part does not), and an unfinished scan says how
// to continue it.
func TestMergeAsyncScan(t *testing.T) {
	dir := t.TempDir()
	store := DirStore{Dir: dir}
	part1 := raw(t, row("a", publicACL), row("b", privateACL))
	orphan := raw(t, row("a", publicACL), row("b", privateACL), row("c", privateACL))
	judgeInventory(t, store, part1, false)
	judgeInventory(t, store, orphan, false) // written by a duplicate delivery
	st := &ScanState{ScanID: "scan-20261202T141500Z-1a2b3c4d", Parts: []string{BatchID(runInput, part1)}, Invocations: 1}
	if err := SaveScanState(context.Background(), store, st); err != nil {
		t.Fatal(err)
	}
	var keys []string
	m, err := Merge(context.Background(), store, scan.SinkFunc(func(r *scan.Result) error { keys = append(keys, r.Key); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || m.Total.Objects != 2 || m.Batches != 1 || m.Total.Complete {
		t.Errorf("merged %v, %d objects, %d batches, complete %v", keys, m.Total.Objects, m.Batches, m.Total.Complete)
	}
	if len(m.Missing) != 1 || !strings.Contains(m.Missing[0], `{"async": true, "scan_id": "scan-20261202T141500Z-1a2b3c4d", "part": 2}`) {
		t.Errorf("missing: %v", m.Missing)
	}
	st.Done = true
	if err := SaveScanState(context.Background(), store, st); err != nil {
		t.Fatal(err)
	}
	if m, err = Merge(context.Background(), store, scan.SinkFunc(func(*scan.Result) error { return nil })); err != nil || len(m.Missing) != 0 || !m.Total.Complete {
		t.Errorf("a finished scan: missing %v, complete %v, err %v", m.Missing, m.Total.Complete, err)
	}
}

// An output past its limit says so once (the async scan ends its part).
func TestOutputLimit(t *testing.T) {
	out := NewOutput(false)
	calls := 0
	out.SetLimit(100<<10, func() { calls++ })
	r := scan.Result{Bucket: "b", Key: strings.Repeat("k", 200), Status: scan.StatusOK}
	for range 2000 { // ~500 KB of records
		if err := out.Write(&r); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Errorf("full called %d times, want once", calls)
	}
}

// A bucket policy that could not be read for a passing reason
// (throttling) is the batch's failure, for the engine to retry, not a
// context to cache and judge every object policy-unjudged with; one that
// is denied is the context's reading, cached.
func TestContextsRetryAPolicyThrottled(t *testing.T) {
	reads := 0
	answer := acl.Unread[string]("GetBucketPolicy failed: SlowDown")
	answer.Err = &smithy.GenericAPIError{Code: "SlowDown"}
	c := &Contexts{Read: func(context.Context, string) (acl.BucketContext, error) {
		reads++
		return acl.BucketContext{Owner: "o", Policy: answer}, nil
	}}
	for i := 0; i < 2; i++ {
		if _, err := c.Get(context.Background(), "b"); err == nil || !s3access.IsThrottle(err) {
			t.Fatalf("get %d: err %v, want the throttling", i, err)
		}
	}
	if reads != 2 {
		t.Errorf("%d reads, want 2: a throttled context is not cached", reads)
	}
	answer = acl.Unread[string]("GetBucketPolicy was denied (the identity needs s3:GetBucketPolicy)")
	answer.Err = &smithy.GenericAPIError{Code: "AccessDenied"}
	for i := 0; i < 2; i++ {
		if bc, err := c.Get(context.Background(), "b"); err != nil || bc.Policy.Known {
			t.Fatalf("get: %v, %+v", err, bc.Policy)
		}
	}
	if reads != 3 {
		t.Errorf("%d reads, want 3: a denied policy is the context's reading, cached", reads)
	}
}

// runInput is the BatchInput of the tests' batches.
var runInput = json.RawMessage(`{"run_id": "run-1"}`)

// A batch is named by all of its input: the same items with another
// BatchInput (another bucket) never share a report; the input's spelling
// (key order, spaces) does not matter.
func TestBatchIDNamesTheWholeInput(t *testing.T) {
	items := []json.RawMessage{json.RawMessage(`{"Key":"a"}`)}
	a := BatchID(json.RawMessage(`{"bucket":"one","run_id":"r"}`), items)
	if b := BatchID(json.RawMessage(`{ "run_id": "r", "bucket": "one" }`), items); a != b {
		t.Errorf("the same input spelt otherwise: %s, %s", a, b)
	}
	if c := BatchID(json.RawMessage(`{"bucket":"two","run_id":"r"}`), items); a == c {
		t.Errorf("another bucket's batch has the same id %s", a)
	}
}

func TestCheckReportPrefix(t *testing.T) {
	for prefix, ok := range map[string]bool{"aclscan": true, "reports/aclscan/": true, "a/b=c/d_e.f-g": true,
		"../x": false, "a/../b": false, "a//b": false, "/": false, "a b": false, strings.Repeat("a", 300): false} {
		if err := CheckReportPrefix(prefix); (err == nil) != ok {
			t.Errorf("%q: %v", prefix, err)
		}
	}
}

// A bucket's context is read once while fresh, and again once forgotten
// (its settings changed); "" forgets every bucket's.
func TestContextsForget(t *testing.T) {
	reads := map[string]int{}
	c := &Contexts{Read: func(_ context.Context, bucket string) (acl.BucketContext, error) {
		reads[bucket]++
		return acl.BucketContext{Owner: "o"}, nil
	}}
	ctx := context.Background()
	for range 2 {
		_, _ = c.Get(ctx, "a")
		_, _ = c.Get(ctx, "b")
	}
	c.Forget("a")
	_, _ = c.Get(ctx, "a")
	_, _ = c.Get(ctx, "b")
	c.Forget("")
	_, _ = c.Get(ctx, "b")
	if reads["a"] != 2 || reads["b"] != 2 {
		t.Errorf("reads %v; want a: 2 (once forgotten), b: 2 (all forgotten)", reads)
	}
}
