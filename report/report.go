// Package report writes scan results in aclscan's output formats: one file
// per format behind one small interface, plus the human summary.
package report

import (
	"fmt"
	"io"

	"github.com/aclscan/aclscan/scan"
)

// Writer is a scan.Sink that also ends the report once the scan is over.
type Writer interface {
	scan.Sink
	// Close writes what comes after the records (the table's summary) and
	// flushes. It does not close the underlying io.Writer.
	Close(sum *scan.Summary) error
	// Flush hands every record written so far to the underlying io.Writer
	// (before a checkpoint records how far the report goes).
	Flush() error
}

// Options tune the writers.
type Options struct {
	// TableRows bounds the risky objects the table lists (default 20).
	TableRows int
	// Append continues a report a resumed scan started: no CSV header.
	Append bool
}

// New returns the writer for a format name.
func New(format string, w io.Writer, opts Options) (Writer, error) {
	switch format {
	case "jsonl":
		return newJSONL(w), nil
	case "csv":
		c := newCSV(w)
		c.header = opts.Append
		return c, nil
	case "table":
		return newTable(w, opts.TableRows), nil
	}
	return nil, fmt.Errorf("unknown format %q (want table, jsonl or csv)", format)
}
