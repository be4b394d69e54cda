//go:build integration

package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The Parquet report read by an independent reader, DuckDB (from npm,
// report/testdata/duckdb; make test installs it): the same records as
// the JSONL report.
func TestIntegrationParquetReadByDuckDB(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("testdata/duckdb/node_modules/@duckdb/node-api"); err != nil {
		t.Fatal("DuckDB is not installed: npm ci --prefix report/testdata/duckdb (make test does)")
	}
	results := sampleResults()
	file := writeAll(t, FormatParquet, results, nil)
	path := filepath.Join(t.TempDir(), "report.parquet")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "node", "testdata/duckdb/read.mjs", path).Output()
	if err != nil {
		t.Fatalf("duckdb: %v", err)
	}
	var rows []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("duckdb row %q: %v", sc.Text(), err)
		}
		rows = append(rows, row)
	}
	if len(rows) != len(results) {
		t.Fatalf("DuckDB read %d rows, want %d", len(rows), len(results))
	}
	for i := range results {
		want := NewRecord(&results[i])
		got := rows[i]
		grants, _ := got["grants"].([]any)
		findings, _ := got["findings"].([]any)
		if got["key"] != want.Key || got["status"] != want.Status || len(grants) != len(want.Grants) || len(findings) != len(want.Findings) {
			t.Errorf("row %d as DuckDB reads it: %v; want %+v", i, got, want)
		}
		if len(grants) > 0 {
			g, _ := grants[0].(map[string]any)
			if g["permission"] != want.Grants[0].Permission || g["type"] != want.Grants[0].Type {
				t.Errorf("row %d grant: %v; want %+v", i, g, want.Grants[0])
			}
		}
	}
}
