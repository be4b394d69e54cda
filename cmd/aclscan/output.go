package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/aclscan/aclscan/checkpoint"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/scan"
)

// reportOutput is where the report goes: stdout, or a file created
// owner-only (a report names a bucket's sensitive objects).
type reportOutput struct {
	w       io.Writer
	file    *os.File // nil for stdout
	regular bool     // a regular file: synced and permission-narrowed
	closed  bool
}

// openOutput opens the report destination, from its start, or for a
// resumed scan from resumeAt bytes (what the checkpoint counts), cutting
// off records written after the checkpoint.
func openOutput(path string, stdout io.Writer, resumeAt int64) (*reportOutput, error) {
	if path == "" || path == "-" {
		return &reportOutput{w: stdout}, nil
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if resumeAt >= 0 {
		flags = os.O_WRONLY
	}
	file, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		if resumeAt >= 0 && errors.Is(err, os.ErrNotExist) {
			return nil, usageErrorf("the report %s the checkpoint continues is missing; remove the checkpoint to start over", path)
		}
		return nil, usageErrorf("cannot write the report to %s: %v", path, errors.Unwrap(err))
	}
	out := &reportOutput{w: file, file: file}
	info, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, usageErrorf("cannot write the report to %s: %v", path, err)
	}
	out.regular = info.Mode().IsRegular()
	// An existing file keeps its mode on open; narrow it. Devices and
	// pipes (/dev/null, a FIFO) are left alone.
	if out.regular {
		if err := file.Chmod(0o600); err != nil {
			file.Close()
			return nil, usageErrorf("cannot restrict permissions of %s: %v", path, err)
		}
	}
	if resumeAt >= 0 {
		if !out.regular || info.Size() < resumeAt {
			file.Close()
			return nil, usageErrorf("the report %s is shorter than the checkpoint says (%d < %d bytes): was it changed? remove the checkpoint to start over", path, info.Size(), resumeAt)
		}
		if err := file.Truncate(resumeAt); err != nil {
			file.Close()
			return nil, usageErrorf("cannot cut %s back to the checkpoint: %v", path, err)
		}
		if _, err := file.Seek(resumeAt, io.SeekStart); err != nil {
			file.Close()
			return nil, usageErrorf("cannot append to %s: %v", path, err)
		}
	}
	return out, nil
}

// sync makes what was written durable and returns the report's length.
func (o *reportOutput) sync() (int64, error) {
	if o.file == nil {
		return 0, errors.New("a checkpoint needs the report in a file")
	}
	if err := o.file.Sync(); err != nil {
		return 0, err
	}
	return o.file.Seek(0, io.SeekCurrent)
}

// Close syncs and closes a file; it may be called more than once.
func (o *reportOutput) Close() error {
	if o.file == nil || o.closed {
		return nil
	}
	o.closed = true
	if !o.regular {
		return o.file.Close()
	}
	if err := o.file.Sync(); err != nil {
		o.file.Close()
		return err
	}
	return o.file.Close()
}

// resumption is the --checkpoint file of a scan and what it held.
type resumption struct {
	path     string
	previous *checkpoint.File // nil for a new scan
	report   string           // absolute path of the report
	format   string
}

// loadCheckpoint reads --checkpoint and checks it continues this command
// (a scan of cfg's target, or of every bucket with allBuckets).
func loadCheckpoint(path string, cfg scan.Config, allBuckets, matchLater bool, reportPath, format string) (*resumption, error) {
	if reportPath == "" || reportPath == "-" {
		return nil, usageErrorf("--checkpoint needs the report in a file (-o FILE): records already written must survive the interruption")
	}
	if format != "jsonl" && format != "csv" {
		return nil, usageErrorf("--checkpoint works with --format jsonl or csv, which can be appended to, not %s", format)
	}
	abs, err := filepath.Abs(reportPath)
	if err != nil {
		return nil, usageErrorf("--output: %v", err)
	}
	prev, err := checkpoint.Load(path)
	if err != nil {
		return nil, usageErrorf("--checkpoint: %v", err)
	}
	r := &resumption{path: path, previous: prev, report: abs, format: format}
	if prev == nil {
		return r, nil
	}
	switch {
	case allBuckets != prev.AllBuckets:
		what := map[bool]string{true: "of every bucket (--all-buckets)", false: "of s3://" + prev.Scan.Bucket + "/" + prev.Scan.Prefix}
		return nil, usageErrorf("--checkpoint %s is of a scan %s, not %s; use another checkpoint file", path, what[prev.AllBuckets], what[allBuckets])
	case matchLater:
		// A report's source bucket is known once its manifest is read.
	case !allBuckets:
		if err := prev.Scan.Matches(cfg); err != nil {
			return nil, usageErrorf("--checkpoint %s: %v; use another checkpoint file", path, err)
		}
	default:
		for _, st := range prev.Buckets {
			if st.AllVersions != cfg.AllVersions {
				return nil, usageErrorf("--checkpoint %s is of a run with --all-versions %v, not %v; use another checkpoint file", path, st.AllVersions, cfg.AllVersions)
			}
		}
	}
	if prev.Report != abs || prev.Format != format {
		return nil, usageErrorf("--checkpoint %s continues the %s report %s, not the %s report %s", path, prev.Format, prev.Report, format, abs)
	}
	return r, nil
}

// resumeAt is where the report continues (-1 for a new report).
func (r *resumption) resumeAt() int64 {
	if r == nil || r.previous == nil {
		return -1
	}
	return r.previous.ReportBytes
}

// saver returns the engine's checkpoint hook: flush the report, make it
// durable, then record the state with the report's length.
func (r *resumption) saver(w report.Writer, out *reportOutput) func(*scan.State) error {
	return func(st *scan.State) error {
		return r.save(w, out, &checkpoint.File{Scan: *st})
	}
}

// bucketsSaver is saver for a run over many buckets.
func (r *resumption) bucketsSaver(w report.Writer, out *reportOutput) func([]scan.State) error {
	return func(states []scan.State) error {
		return r.save(w, out, &checkpoint.File{AllBuckets: true, Buckets: states})
	}
}

func (r *resumption) save(w report.Writer, out *reportOutput, f *checkpoint.File) error {
	if err := w.Flush(); err != nil {
		return fmt.Errorf("flush report: %w", err)
	}
	n, err := out.sync()
	if err != nil {
		return fmt.Errorf("sync report: %w", err)
	}
	f.Report, f.Format, f.ReportBytes = r.report, r.format, n
	return checkpoint.Save(r.path, f)
}
