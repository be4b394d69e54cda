package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
)

// websitePolicy makes site/ readable by anyone, except from outside an
// office network for site/staff/, and the bucket listable by anyone.
const websitePolicy = `{"Version":"2012-10-17","Statement":[
	{"Sid":"Listing","Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"},
	{"Sid":"Website","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/site/*"},
	{"Sid":"StaffOffice","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/site/staff/*",
	 "Condition":{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}]}`

// judged is a result the judge of a bucket with websitePolicy made.
func judged(key string, grants []acl.Grant) scan.Result {
	j := acl.NewJudge(&acl.BucketContext{Bucket: "b", Owner: "a", Policy: acl.Read(websitePolicy)})
	v := j.Object(key, "a", grants, 0, acl.Current)
	return scan.Result{Bucket: "b", Key: key, OwnerID: "a", Grants: grants, Findings: v.Findings, Effective: v.Effective,
		BlockedBy: v.BlockedBy, ViaACL: v.ViaACL, Doors: v.Doors}
}

func sampleResults() []scan.Result {
	return []scan.Result{
		{Bucket: "b", Key: "clean", OwnerID: "a", Grants: []acl.Grant{{Type: "CanonicalUser", ID: "a", Permission: "FULL_CONTROL"}}},
		{Bucket: "b", Key: "pub\x1b[2Jlic", OwnerID: "a", Grants: []acl.Grant{{Type: "Group", URI: acl.AllUsersURI, Permission: "READ"}},
			Findings: acl.Findings(0).With(acl.Public), Effective: acl.Findings(0).With(acl.Public), Verified: scan.Served},
		{Bucket: "b", Key: "=HYPERLINK(\"x\")", Status: scan.StatusError, Err: "get ACL: InternalError (HTTP 500)"},
		{Bucket: "b", Key: "v", Versioned: true, VersionID: "v1", IsLatest: true, Status: scan.StatusDenied,
			Findings: acl.Findings(0).With(acl.Unreadable), Effective: acl.Findings(0).With(acl.Unreadable)},
		// A grant the account's IgnorePublicAcls makes latent.
		{Bucket: "b", Key: "old-share", OwnerID: "a", Grants: []acl.Grant{{Type: "Group", URI: acl.AuthenticatedUsersURI, Permission: "READ"}},
			Findings: acl.Findings(0).With(acl.Authenticated), BlockedBy: []string{acl.BlockedByAccountIgnorePublicACLs}},
	}
}

// policySamples are objects with private ACLs that the bucket policy
// opens: to anyone, and to anyone in one network.
func policySamples() []scan.Result {
	ownerOnly := []acl.Grant{{Type: "CanonicalUser", ID: "a", Permission: "FULL_CONTROL"}}
	return []scan.Result{judged("site/index.html", ownerOnly), judged("site/staff/plan.txt", ownerOnly)}
}

// testFlags spells settings as the command line does (the golden files
// are the CLI's output).
func testFlags(s s3access.Setting, value string) string {
	switch {
	case s == SettingOutput:
		return "-o " + value
	case value != "":
		return "--" + string(s) + " " + value
	}
	return "--" + string(s)
}

// writeAll writes results and closes with sum, as a scan would, with the
// CLI's words and two table rows.
func writeAll(t *testing.T, format Format, results []scan.Result, sum *scan.Summary) string {
	t.Helper()
	return writeWith(t, format, Options{TableRows: 2, Spell: testFlags}, results, sum)
}

func writeWith(t *testing.T, format Format, opts Options, results []scan.Result, sum *scan.Summary) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := New(format, &buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range results {
		if err := w.Write(&results[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(sum); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestJSONLContract(t *testing.T) {
	out := writeAll(t, "jsonl", sampleResults(), &scan.Summary{})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 5:\n%s", len(lines), out)
	}
	fields := Columns // every line has every field of the contract, null when it does not apply
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line is not JSON: %v: %s", err, line)
		}
		if len(m) != len(fields) {
			t.Errorf("line has %d fields, want %d: %s", len(m), len(fields), line)
		}
		for _, f := range fields {
			if _, ok := m[f]; !ok {
				t.Errorf("field %q missing: %s", f, line)
			}
		}
	}
	var rec Record
	_ = json.Unmarshal([]byte(lines[1]), &rec)
	if rec.Key != "pub\x1b[2Jlic" || rec.Status != "ok" || len(rec.Findings) != 1 || rec.Findings[0] != "public" || rec.VersionID != nil ||
		len(rec.Effective) != 1 || rec.VerifiedPublic == nil || !*rec.VerifiedPublic {
		t.Errorf("record 1 = %+v", rec)
	}
	if !strings.Contains(lines[4], `"findings":["authenticated"],"effective":[],"blocked_by":["account:IgnorePublicAcls"],"verified_public":null,"sources":[],"source":"live","report_date":null,"changed_since_report":null`) {
		t.Errorf("latent record: %s", lines[4])
	}
	_ = json.Unmarshal([]byte(lines[3]), &rec)
	if rec.VersionID == nil || *rec.VersionID != "v1" || rec.IsLatest == nil || !*rec.IsLatest || rec.Status != "denied" {
		t.Errorf("versioned record = %+v", rec)
	}
	if !strings.Contains(lines[0], `"grants":[{"type":"CanonicalUser","id":"a","uri":"","email":"","permission":"FULL_CONTROL"}]`) ||
		!strings.Contains(lines[0], `"findings":[],"effective":[],"blocked_by":[]`) || !strings.Contains(lines[0], `"error":null`) {
		t.Errorf("clean record does not keep the fixed schema: %s", lines[0])
	}
}

func TestCSV(t *testing.T) {
	out := writeAll(t, "csv", sampleResults(), &scan.Summary{})
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 || strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") {
		t.Fatalf("rows = %q", rows)
	}
	if rows[2][7] != "Group:"+acl.AllUsersURI+":READ" || rows[2][8] != "public" || rows[2][9] != "public" || rows[2][11] != "true" {
		t.Errorf("grants/findings flattened wrongly: %q", rows[2])
	}
	if rows[3][1] != `'=HYPERLINK("x")` {
		t.Errorf("formula key not defused: %q", rows[3][1])
	}
	if rows[4][2] != "v1" || rows[4][3] != "true" || rows[4][8] != "unreadable" {
		t.Errorf("version row = %q", rows[4])
	}
	if rows[5][8] != "authenticated" || rows[5][9] != "" || rows[5][10] != "account:IgnorePublicAcls" || rows[5][11] != "" {
		t.Errorf("latent row = %q", rows[5])
	}
	if empty := writeAll(t, "csv", nil, &scan.Summary{}); strings.TrimSpace(empty) != strings.Join(CSVHeader, ",") {
		t.Errorf("an empty scan should still write the header, got %q", empty)
	}
}

func TestTableListsFirstRiskyAndSummary(t *testing.T) {
	sum := &scan.Summary{Bucket: "b", Objects: 4, Complete: true, Duration: 1500 * time.Millisecond, Requests: 6, BucketOwner: "a", OwnerSource: "GetBucketAcl"}
	sum.ByStatus[scan.StatusOK] = 2
	sum.ByKind[acl.Public], sum.ByEffective[acl.Public] = 1, 1
	out := writeAll(t, "table", sampleResults(), sum)
	for _, want := range []string{"Risky objects (2 of 4)", "... and 2 more", "Scanned s3://b/ in 1.5s: 4 objects, 6 requests (4 req/s)", "public 1", "bucket owner: a (GetBucketAcl)", `"pub\x1b[2Jlic"`} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "clean") || strings.Contains(out, "\x1b") {
		t.Errorf("table shows a clean object or a raw escape sequence:\n%q", out)
	}
}

func TestSummaryMarksUnjudgedKinds(t *testing.T) {
	sum := &scan.Summary{Bucket: "b", OwnerProblem: "GetBucketAcl was denied"}
	var buf bytes.Buffer
	WriteSummary(&buf, sum, testFlags)
	if !strings.Contains(buf.String(), "cross-account ?") || !strings.Contains(buf.String(), "INCOMPLETE") || !strings.Contains(buf.String(), "bucket owner unknown") {
		t.Errorf("summary = %s", buf.String())
	}
}

func TestUnknownFormat(t *testing.T) {
	if _, err := New("xml", &bytes.Buffer{}, Options{}); err == nil {
		t.Error("New accepted format xml")
	}
}

// A report written as JSON lines reads back as the same records, and a
// damaged line is named.
func TestReadJSONLRoundTrip(t *testing.T) {
	t.Parallel()
	out := writeAll(t, "jsonl", sampleResults(), &scan.Summary{})
	var keys []string
	if err := ReadJSONL(strings.NewReader(out), func(r Record) error { keys = append(keys, r.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []string{"clean", "pub\x1b[2Jlic", `=HYPERLINK("x")`, "v", "old-share"}
	if strings.Join(keys, "|") != strings.Join(want, "|") {
		t.Errorf("keys %q, want %q", keys, want)
	}
	err := ReadJSONL(strings.NewReader(out+"{not json\n"), func(Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "record 6") {
		t.Errorf("err = %v, want one naming record 6", err)
	}
}

// With every ACL unreadable, the kinds read from grants were not judged:
// "?", not a reassuring 0, even when the bucket owner is known.
func TestSummaryMarksKindsNoACLCouldShow(t *testing.T) {
	t.Parallel()
	sum := &scan.Summary{Bucket: "b", Objects: 3, BucketOwner: "a", OwnerSource: "configured"}
	sum.ByStatus[scan.StatusDenied] = 3
	sum.ByKind[acl.Unreadable], sum.ByEffective[acl.Unreadable] = 3, 3
	var buf bytes.Buffer
	WriteSummary(&buf, sum, testFlags)
	for _, want := range []string{"public ?", "authenticated ?", "cross-account ?", "foreign-owner 0", "unreadable 3"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestRiskyOnly(t *testing.T) {
	t.Parallel()
	out := writeWith(t, FormatJSONL, Options{RiskyOnly: true}, sampleResults(), &scan.Summary{})
	var keys []string
	_ = ReadJSONL(strings.NewReader(out), func(r Record) error { keys = append(keys, r.Key); return nil })
	if strings.Join(keys, "|") != "pub\x1b[2Jlic|=HYPERLINK(\"x\")|v|old-share" {
		t.Errorf("keys written: %q; want every result but the clean one", keys)
	}
}

// Every text column of the CSV is defused, the full-width signs too: an
// owner ID, an error message or a version ID is whatever a server sent.
func TestCSVDefusesEveryColumn(t *testing.T) {
	hostile := []scan.Result{{Bucket: "b", Key: "\uFF1DHYPERLINK(\"x\")", OwnerID: "@evil", Versioned: true, VersionID: "+1", IsLatest: true,
		Status: scan.StatusError, Err: "-cmd|' /C calc'!A0",
		Grants: []acl.Grant{{Type: "CanonicalUser", ID: "=x", Permission: "READ"}}}}
	out := writeAll(t, "csv", hostile, nil)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("rows %v, %v", rows, err)
	}
	for i, cell := range rows[1] {
		if cell == "" {
			continue
		}
		if r := []rune(cell)[0]; strings.ContainsRune("=+-@\uFF1D\uFF0B\uFF0D\uFF20", r) {
			t.Errorf("column %s starts with %q: %q", CSVHeader[i], r, cell)
		}
	}
}

// A bucket whose ACLs are disabled is not "0 objects": its objects were
// not listed (issue 26).
func TestSummaryOfABucketNotScanned(t *testing.T) {
	sum := &scan.Summary{Bucket: "b", NotScanned: true, Complete: true,
		Context: acl.BucketContext{Ownership: acl.Read(acl.OwnerEnforced), Policy: acl.Read("")}}
	var buf bytes.Buffer
	WriteSummary(&buf, sum, testFlags)
	if out := buf.String(); strings.Contains(out, "0 objects") || !strings.Contains(out, "ACLs are disabled (BucketOwnerEnforced), so no object was listed or fetched") {
		t.Errorf("summary:\n%s", out)
	}
}
