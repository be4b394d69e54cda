package report

import (
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// The Parquet report reads back as the JSONL report's records: the same
// columns, grants and kinds as lists.
func TestParquetRoundTrip(t *testing.T) {
	t.Parallel()
	results := sampleResults()
	file := writeAll(t, FormatParquet, results, nil)
	rows, err := parquet.Read[parquetRecord](strings.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(results) {
		t.Fatalf("%d rows, want %d", len(rows), len(results))
	}
	for i := range results {
		want := NewRecord(&results[i])
		got := rows[i]
		if got.Key != want.Key || got.Status != want.Status || !reflect.DeepEqual(nonNil(got.Findings), want.Findings) ||
			!reflect.DeepEqual(nonNil(got.BlockedBy), want.BlockedBy) || len(got.Grants) != len(want.Grants) ||
			(want.VersionID != nil) != (got.VersionID != nil) || (want.VerifiedPublic != nil) != (got.VerifiedPublic != nil) {
			t.Errorf("row %d: %+v\nwant %+v", i, got, want)
		}
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ReadParquet gives back the records written, as JSONL's reader does.
func TestReadParquet(t *testing.T) {
	t.Parallel()
	results := sampleResults()
	file := writeAll(t, FormatParquet, results, nil)
	var got []Record
	if err := ReadParquet(strings.NewReader(file), int64(len(file)), func(r Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(results) {
		t.Fatalf("%d records, want %d", len(got), len(results))
	}
	for i := range results {
		want := NewRecord(&results[i])
		if got[i].Key != want.Key || got[i].Status != want.Status || len(got[i].Grants) != len(want.Grants) || !reflect.DeepEqual(nonNil(got[i].Findings), want.Findings) {
			t.Errorf("record %d: %+v\nwant %+v", i, got[i], want)
		}
	}
	if err := ReadParquet(strings.NewReader("not parquet"), 11, func(Record) error { return nil }); err == nil {
		t.Error("a file that is not Parquet was read")
	}
}
