// Package report writes scan results in aclscan's output formats: one file
// per format behind one small interface, plus the human summary.
package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aclscan/aclscan/s3access"
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
	// RiskyOnly writes only the results with a finding or a status other
	// than ok (jsonl, csv): a report of a billion objects stays small.
	RiskyOnly bool
	// Version is aclscan's, for formats that name their producer (ocsf).
	Version string
	// HTMLRows bounds the risky objects the html format lists (default 1,000).
	HTMLRows int
	// Spell names the settings that notes and hints point at, in the
	// shell's words (nil: plain words).
	Spell s3access.Spelling
	// Now is the clock of the formats that say when they were written
	// (html, ocsf); nil is time.Now (tests fix it for golden files).
	Now func() time.Time
}

// Settings the human formats' hints point at (besides the engine's).
const (
	SettingFormat      s3access.Setting = "format"
	SettingOutput      s3access.Setting = "output"
	SettingSummaryJSON s3access.Setting = "summary-json"
)

// spelling is spell, or plain words when there is none.
func spelling(spell s3access.Spelling) s3access.Spelling {
	if spell == nil {
		return s3access.PlainSpelling
	}
	return spell
}

// New returns the writer for a format.
func New(format Format, w io.Writer, opts Options) (Writer, error) {
	var writer Writer
	switch format {
	case FormatJSONL:
		writer = newJSONL(w)
	case FormatCSV:
		c := newCSV(w)
		c.header = opts.Append
		writer = c
	case FormatTable:
		return newTable(w, opts.TableRows, opts.Spell), nil // lists risky objects only anyway
	case FormatOCSF:
		o := newOCSF(w, opts.Version) // effective findings only anyway
		if opts.Now != nil {
			o.now = opts.Now
		}
		return o, nil
	case FormatHTML:
		h := newHTML(w, opts.HTMLRows, opts.Spell)
		if opts.Now != nil {
			h.now = opts.Now
		}
		return h, nil
	case FormatParquet:
		writer = newParquet(w)
	default:
		return nil, fmt.Errorf("unknown format %q (want %s)", format, formatList())
	}
	if opts.RiskyOnly {
		writer = riskyOnly{writer}
	}
	return writer, nil
}

// formatList is "table, jsonl, csv, parquet, ocsf or html".
func formatList() string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// NewJSONL is the jsonl writer alone. A shell that writes JSON lines only
// (the Lambda function's batches) calls it instead of New, so that the
// other formats (HTML templates, Parquet) are not linked into it: 5.4 MB
// less in the function's binary, read at every cold start.
func NewJSONL(w io.Writer, opts Options) Writer {
	var writer Writer = newJSONL(w)
	if opts.RiskyOnly {
		writer = riskyOnly{writer}
	}
	return writer
}

// NewOCSF is the ocsf writer alone, for the same reason as NewJSONL (the
// Lambda function's watch records).
func NewOCSF(w io.Writer, opts Options) Writer {
	o := newOCSF(w, opts.Version)
	if opts.Now != nil {
		o.now = opts.Now
	}
	return o
}

// riskyOnly passes on the risky results only.
type riskyOnly struct{ Writer }

func (w riskyOnly) Write(r *scan.Result) error {
	if !r.Risky() {
		return nil
	}
	return w.Writer.Write(r)
}
