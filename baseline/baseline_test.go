package baseline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/scan"
)

// A baseline from an earlier report: its findings are known, others new,
// and the objects it had that this run did not see with a finding (in the
// run's scope) are closed. JSONL and Parquet reports read alike.
func TestCompare(t *testing.T) {
	t.Parallel()
	public := acl.Findings(0).With(acl.Public)
	cross := acl.Findings(0).With(acl.CrossAccount)
	earlier := []scan.Result{
		{Bucket: "b", Key: "still-public", Findings: public, Effective: public},
		{Bucket: "b", Key: "fixed", Findings: public, Effective: public},
		{Bucket: "b", Key: "shared-then-public", Findings: cross, Effective: cross},
		{Bucket: "b", Key: "clean"},
		{Bucket: "other", Key: "out-of-scope", Findings: public, Effective: public},
		{Bucket: "b", Key: "v", Versioned: true, VersionID: "v1", Findings: public, Effective: public},
	}
	dir := t.TempDir()
	for _, format := range []report.Format{report.FormatJSONL, report.FormatParquet} {
		path := filepath.Join(dir, "baseline."+string(format))
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := report.New(format, f, report.Options{})
		for i := range earlier {
			if err := w.Write(&earlier[i]); err != nil {
				t.Fatal(err)
			}
		}
		_ = w.Close(nil)
		_ = f.Close()

		b, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if b.Len() != 5 {
			t.Errorf("%s: %d objects with findings, want 5", format, b.Len())
		}
		for _, tc := range []struct {
			key, version string
			now, want    acl.Findings
		}{
			{"still-public", "", public, 0},
			{"shared-then-public", "", cross.With(acl.Public), public},
			{"brand-new", "", public, public},
			{"v", "v1", public, 0},
			{"v", "v2", public, public},
		} {
			if got := b.Compare("b", tc.key, tc.version, tc.now); got != tc.want {
				t.Errorf("%s: %s@%s new %v, want %v", format, tc.key, tc.version, got.Names(), tc.want.Names())
			}
		}
		closed := b.Closed(func(bucket, key string) bool { return bucket == "b" })
		if len(closed) != 1 || closed[0].Key != "fixed" || strings.Join(closed[0].Findings, ",") != "public" {
			t.Errorf("%s: closed %+v; want fixed (public) alone", format, closed)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing.jsonl")); err == nil {
		t.Error("a missing baseline was read")
	}
	bad := filepath.Join(dir, "bad.jsonl")
	_ = os.WriteFile(bad, []byte("{not json\n"), 0o600)
	if _, err := Open(bad); err == nil || !strings.Contains(err.Error(), "baseline "+bad) {
		t.Errorf("a broken baseline: %v", err)
	}
}
