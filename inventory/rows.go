package inventory

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/klauspost/compress/gzip"
	"github.com/parquet-go/parquet-go"
)

// Row is what aclscan reads of one inventory row. Its byte slices are
// valid only during the callback.
type Row struct {
	Key          string
	VersionID    string
	IsLatest     bool
	DeleteMarker bool
	ACL          []byte // the base64 ObjectAccessControlList value
	Owner        []byte
}

// readCSV streams a gzip-compressed CSV data file (no header; columns as
// fileSchema says), calling fn for each row in order. Keys are
// URL-decoded (form encoding: "+" is a space).
func readCSV(r io.Reader, cols Columns, stdlib bool, fn func(*Row) error) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a gzip file: %w", err)
	}
	defer gz.Close()
	var rows interface{ next() ([][]byte, error) } = newCSVRows(gz, cols.Count)
	if stdlib {
		rows = newStdlibRows(gz, cols.Count)
	}
	var row Row
	for line := 1; ; line++ {
		rec, err := rows.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("row %d: %w", line, err)
		}
		if row.Key, err = unescapeKey(rec[cols.Key]); err != nil {
			return fmt.Errorf("row %d: the key %q is not URL-encoded as inventories write keys: %v", line, rec[cols.Key], err)
		}
		row.VersionID = ""
		if cols.VersionID >= 0 && len(rec[cols.VersionID]) > 0 {
			row.VersionID = string(rec[cols.VersionID])
		}
		row.IsLatest = cols.IsLatest >= 0 && string(rec[cols.IsLatest]) == "true"
		row.DeleteMarker = cols.DeleteMarker >= 0 && string(rec[cols.DeleteMarker]) == "true"
		row.ACL, row.Owner = rec[cols.ACL], rec[cols.Owner]
		if err := fn(&row); err != nil {
			return err
		}
	}
}

// stdlibRows reads rows with encoding/csv: the reader csvRows replaced,
// kept to measure the two side by side (Options.StdlibCSV).
type stdlibRows struct {
	r      *csv.Reader
	fields [][]byte
}

func newStdlibRows(r io.Reader, fields int) *stdlibRows {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = fields
	return &stdlibRows{r: cr, fields: make([][]byte, fields)}
}

func (s *stdlibRows) next() ([][]byte, error) {
	rec, err := s.r.Read()
	if err != nil {
		return nil, err
	}
	for i, f := range rec {
		s.fields[i] = []byte(f)
	}
	return s.fields, nil
}

// unescapeKey decodes a CSV key: form encoding, "+" a space and %XX a
// byte (url.QueryUnescape's rules, in one pass: it runs once per row).
func unescapeKey(raw []byte) (string, error) {
	i := bytes.IndexAny(raw, "%+")
	if i < 0 {
		return string(raw), nil
	}
	s := raw
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b = append(b, ' ')
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", url.EscapeError(s[i:min(i+3, len(s))])
			}
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// parquetRow is the part of AWS's Parquet inventory schema aclscan
// reads; the reader converts the file's schema to it by column name.
type parquetRow struct {
	Key            string  `parquet:"key"`
	VersionID      *string `parquet:"version_id,optional"`
	IsLatest       *bool   `parquet:"is_latest,optional"`
	IsDeleteMarker *bool   `parquet:"is_delete_marker,optional"`
	ACL            *string `parquet:"object_access_control_list,optional"`
	Owner          *string `parquet:"object_owner,optional"`
}

// readParquet reads a Parquet data file, calling fn for each row in order.
func readParquet(f *os.File, fn func(*Row) error) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	pf, err := parquet.OpenFile(f, info.Size())
	if err != nil {
		return fmt.Errorf("not a Parquet file: %w", err)
	}
	reader := parquet.NewGenericReader[parquetRow](pf)
	defer reader.Close()
	batch := make([]parquetRow, 1024)
	var row Row
	for n := int64(0); ; {
		count, err := reader.Read(batch)
		for i := range count {
			p := &batch[i]
			n++
			row.Key = p.Key
			row.VersionID = deref(p.VersionID)
			row.IsLatest = p.IsLatest != nil && *p.IsLatest
			row.DeleteMarker = p.IsDeleteMarker != nil && *p.IsDeleteMarker
			if !row.DeleteMarker && (p.ACL == nil || p.Owner == nil) {
				return fmt.Errorf("row %d has no ObjectAccessControlList or ObjectOwner value", n)
			}
			row.ACL = append(row.ACL[:0], deref(p.ACL)...)
			row.Owner = append(row.Owner[:0], deref(p.Owner)...)
			if err := fn(&row); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("row %d: %w", n+1, err)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
