package report

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aclscan/aclscan/acl"
	"github.com/parquet-go/parquet-go"
)

// Every tabular format follows Columns: Record's JSON fields (the JSONL
// lines), the CSV header and the columns of a Parquet file as written.
// So do the nested fields: a grant and a source carry the same names in
// JSONL and Parquet.
func TestOutputContract(t *testing.T) {
	t.Parallel()
	jsonNames := func(typ reflect.Type) []string {
		var names []string
		for i := range typ.NumField() {
			names = append(names, strings.Split(typ.Field(i).Tag.Get("json"), ",")[0])
		}
		return names
	}
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

	if got := jsonNames(reflect.TypeFor[Record]()); !slices.Equal(sorted(got), sorted(Columns)) {
		t.Errorf("Record's JSON fields %v, the contract's columns %v", got, Columns)
	}
	if out := writeAll(t, FormatCSV, nil, nil); strings.TrimSpace(out) != strings.Join(Columns, ",") {
		t.Errorf("CSV header %q, want the contract's columns", out)
	}

	file := writeAll(t, FormatParquet, sampleResults(), nil)
	f, err := parquet.OpenFile(strings.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	var columns []string
	nested := map[string][]string{}
	for _, field := range f.Schema().Fields() {
		columns = append(columns, field.Name())
		// A list's element group holds the nested fields.
		for leaf := field; !leaf.Leaf(); {
			fields := leaf.Fields()
			if len(fields) != 1 || fields[0].Leaf() {
				for _, sub := range fields {
					nested[field.Name()] = append(nested[field.Name()], sub.Name())
				}
				break
			}
			leaf = fields[0]
		}
	}
	if !slices.Equal(columns, Columns) {
		t.Errorf("Parquet columns %v, want the contract's %v", columns, Columns)
	}
	for column, typ := range map[string]reflect.Type{"grants": reflect.TypeFor[acl.Grant](), "sources": reflect.TypeFor[acl.Source]()} {
		if want := jsonNames(typ); !slices.Equal(sorted(nested[column]), sorted(want)) {
			t.Errorf("Parquet %s fields %v, JSONL's %v", column, nested[column], want)
		}
	}
}
