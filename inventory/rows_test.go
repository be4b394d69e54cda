package inventory

import (
	"encoding/csv"
	"io"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// unescapeKey decodes as url.QueryUnescape does, and refuses what it refuses.
func TestUnescapeKey(t *testing.T) {
	for _, s := range []string{"plain/key", "a+b", "a%2Bb", "%C3%BCber%2Fdir", "sp%20ace+plus", "100%25", "%", "%4", "%zz", "end%2", "%e2%82%ac", ""} {
		want, wantErr := url.QueryUnescape(s)
		got, err := unescapeKey([]byte(s))
		if got != want || (err == nil) != (wantErr == nil) {
			t.Errorf("unescapeKey(%q) = %q, %v; url.QueryUnescape: %q, %v", s, got, err, want, wantErr)
		}
	}
}

func FuzzUnescapeKey(f *testing.F) {
	f.Add("a%2Fb+c")
	f.Fuzz(func(t *testing.T, s string) {
		want, wantErr := url.QueryUnescape(s)
		got, err := unescapeKey([]byte(s))
		if got != want || (err == nil) != (wantErr == nil) {
			t.Errorf("unescapeKey(%q) = %q, %v; url.QueryUnescape: %q, %v", s, got, err, want, wantErr)
		}
	})
}

// readAll reads every row with csvRows.
func readAll(in string, fields int) ([][]string, error) {
	rows := newCSVRows(strings.NewReader(in), fields)
	var out [][]string
	for {
		rec, err := rows.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		row := make([]string, len(rec))
		for i, f := range rec {
			row[i] = string(f)
		}
		out = append(out, row)
	}
}

func TestCSVRows(t *testing.T) {
	cases := []struct {
		name, in string
		fields   int
		want     [][]string
		err      string
	}{
		{"AWS quoting", `"b","k%2F1","12"` + "\n" + `"b","k2","0"` + "\n", 3, [][]string{{"b", "k%2F1", "12"}, {"b", "k2", "0"}}, ""},
		{"escaped quotes and commas", `"a""b","c,d",""` + "\n", 3, [][]string{{`a"b`, "c,d", ""}}, ""},
		{"bare fields, CRLF, no final newline", "a,b,c\r\nd,,f", 3, [][]string{{"a", "b", "c"}, {"d", "", "f"}}, ""},
		{"trailing empty field", `"a","b",` + "\n", 3, [][]string{{"a", "b", ""}}, ""},
		// AWS ends some reports with blank lines (issue 26): no rows.
		{"blank lines at the end", `"a","b"` + "\n\n\r\n", 2, [][]string{{"a", "b"}}, ""},
		{"a blank line between rows", `"a","b"` + "\n\n" + `"c","d"` + "\n", 2, [][]string{{"a", "b"}, {"c", "d"}}, ""},
		{"too few fields", `"a","b"` + "\n", 3, nil, "the row has 2 fields; the manifest's fileSchema names 3"},
		{"unterminated quote", `"a","b` + "\n", 2, nil, "does not end on its line"},
		{"junk after a quote", `"a"x,"b"` + "\n", 2, nil, "followed by something other than a comma"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(tc.in, tc.fields)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("rows = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// Rows written as AWS writes them (every field quoted) read back as
// encoding/csv reads them.
func FuzzCSVRowsMatchesEncodingCSV(f *testing.F) {
	f.Add("bucket", "a b/c\"d", "eyJ2ZXJzaW9uIjoiMjAyMi0xMS0xMCJ9", "owner,x")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		for _, s := range []string{a, b, c, d} {
			if strings.ContainsAny(s, "\r\n") {
				return // AWS's rows are one line each
			}
		}
		fields := []string{a, b, c, d}
		var sb strings.Builder
		for i, v := range fields {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(`"` + strings.ReplaceAll(v, `"`, `""`) + `"`)
		}
		sb.WriteByte('\n')
		want, err := csv.NewReader(strings.NewReader(sb.String())).Read()
		if err != nil {
			t.Skip()
		}
		got, err := readAll(sb.String(), 4)
		if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], want) {
			t.Errorf("csvRows = %q, %v; encoding/csv %q", got, err, want)
		}
	})
}
