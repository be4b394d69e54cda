package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aclscan/aclscan/checkpoint"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/s3access"
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
	// accounts are a run over accounts' IDs, saved with its states.
	accounts []string
}

// checkAccounts refuses to resume a run over other accounts (or one not
// over accounts), and keeps ids for the checkpoints to come.
func (r *resumption) checkAccounts(ids []string) error {
	if r == nil {
		return nil
	}
	r.accounts = ids
	if r.previous == nil {
		return nil
	}
	if strings.Join(r.previous.Accounts, ",") != strings.Join(ids, ",") {
		was := "not over accounts"
		if len(r.previous.Accounts) > 0 {
			was = fmt.Sprintf("over %d other accounts (%s...)", len(r.previous.Accounts), r.previous.Accounts[0])
		}
		return usageErrorf("--checkpoint %s is of a run %s, not of these %d accounts; use another checkpoint file, or the same accounts", r.path, was, len(ids))
	}
	return nil
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
		return r.save(w, out, &checkpoint.File{AllBuckets: true, Buckets: states, Accounts: r.accounts})
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

// scanOutputs are where a scan's results go: the report, its checkpoint
// and the summary file, all opened before the scan so that a path that
// cannot be written is a usage error before any request.
type scanOutputs struct {
	out         *reportOutput
	writer      report.Writer
	summaryFile *os.File
	// upload is the report's upload when -o names an s3:// object;
	// summaryS3 is --summary-json's s3:// URL.
	upload    *s3access.Upload
	client    *s3access.Client
	summaryS3 string
	overwrite bool
	resume    *resumption // nil without --checkpoint
	// resumeBuckets are the bucket states of a resumed --all-buckets run.
	resumeBuckets map[string]*scan.State
}

// openOutputs opens the report (continuing it when a checkpoint says so,
// which also sets cfg.Resume), the summary file, and the report writer.
func (sh *shell) openOutputs(ctx context.Context, f *scanFlags, cfg *scan.Config, client *s3access.Client) (*scanOutputs, error) {
	if f.format == "" {
		f.format = "jsonl"
		if f.output == "" && isTerminal(sh.stdout) {
			f.format = "table"
		}
	}
	o := &scanOutputs{client: client}
	var err error
	toS3 := strings.HasPrefix(f.output, "s3://")
	if toS3 && f.checkpoint != "" {
		return nil, usageErrorf("--checkpoint needs the report in a local file (-o FILE): an S3 object cannot be appended to; write locally, or drop --checkpoint")
	}
	if f.checkpoint != "" {
		if o.resume, err = loadCheckpoint(f.checkpoint, *cfg, f.allBuckets, f.inventory, f.output, f.format); err != nil {
			return nil, err
		}
		if prev := o.resume.previous; prev != nil {
			reported := prev.Scan.Objects
			if f.allBuckets {
				o.resumeBuckets = map[string]*scan.State{}
				reported = 0
				for i := range prev.Buckets {
					o.resumeBuckets[prev.Buckets[i].Bucket] = &prev.Buckets[i]
					reported += prev.Buckets[i].Objects
				}
			} else if !f.inventory {
				cfg.Resume = &prev.Scan
			}
			fmt.Fprintf(sh.stderr, "aclscan: resuming from %s: %d objects already reported in %s\n", f.checkpoint, reported, f.output)
		}
	}
	for _, dest := range []struct{ flag, url string }{{"-o", f.output}, {"--summary-json", f.summaryJSON}} {
		if !strings.HasPrefix(dest.url, "s3://") || f.overwrite {
			continue
		}
		bucket, key, err := s3ObjectURL(dest.flag, dest.url)
		if err != nil {
			return nil, err
		}
		// Refused before the scan, not after it.
		if exists, err := client.Exists(ctx, bucket, key); err != nil {
			return nil, &exitError{code: exitIncomplete, msg: fmt.Sprintf("%s %s: cannot check whether it exists: %s", dest.flag, dest.url, s3access.Short(err))}
		} else if exists {
			return nil, usageErrorf("%s %s exists: give --overwrite to replace it, or another key", dest.flag, dest.url)
		}
	}
	o.overwrite = f.overwrite
	if toS3 {
		bucket, key, err := s3ObjectURL("-o", f.output)
		if err != nil {
			return nil, err
		}
		o.upload = client.NewUpload(ctx, s3access.UploadRequest{Bucket: bucket, Key: key, Overwrite: f.overwrite})
		o.out = &reportOutput{w: o.upload}
	} else if o.out, err = openOutput(f.output, sh.stdout, o.resume.resumeAt()); err != nil {
		return nil, err
	}
	if strings.HasPrefix(f.summaryJSON, "s3://") {
		if _, _, err := s3ObjectURL("--summary-json", f.summaryJSON); err != nil {
			o.closeFiles()
			return nil, err
		}
		o.summaryS3 = f.summaryJSON
	} else if f.summaryJSON != "" {
		if o.summaryFile, err = os.OpenFile(f.summaryJSON, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			o.closeFiles()
			return nil, usageErrorf("cannot write --summary-json to %s: %v", f.summaryJSON, errors.Unwrap(err))
		}
	}
	resumed := cfg.Resume != nil || o.resumeBuckets != nil
	if o.writer, err = report.New(report.Format(f.format), o.out.w, report.Options{TableRows: f.tableRows, Append: resumed, RiskyOnly: f.riskyOnly, Version: buildVersion(), Spell: flagSpelling}); err != nil {
		o.closeFiles()
		return nil, usageErrorf("--format: %v", err)
	}
	if o.resume != nil && !f.allBuckets {
		cfg.Checkpoint = o.resume.saver(o.writer, o.out)
		cfg.CheckpointInterval = f.ckptEvery
	}
	return o, nil
}

// finish ends the report, removes the checkpoint of a complete scan and
// writes the summary file. It returns how to continue an incomplete scan
// ("" without a checkpoint) and the first failure to write.
func (o *scanOutputs) finish(sum *scan.Summary, stderr io.Writer) (resumeHint string, err error) {
	keep := func(e error, what string) {
		if e != nil && err == nil {
			err = fmt.Errorf("write %s: %w", what, e)
		}
	}
	keep(o.writer.Close(sum), "report")
	keep(o.out.Close(), "report")
	if o.upload != nil {
		if sum.Complete && err == nil {
			keep(o.upload.Close(), "report")
		} else {
			// The object appears only for a complete scan.
			_ = o.upload.Abort(errors.New("the scan is incomplete"))
			fmt.Fprintf(stderr, "aclscan: the report was not uploaded: the scan is incomplete (its upload was aborted; nothing is left behind)\n")
		}
		o.upload = nil
	}
	complete := sum.Complete && err == nil
	if o.resume != nil {
		if complete {
			// Nothing left to resume; a new run starts a new scan.
			if err := os.Remove(o.resume.path); err != nil && !os.IsNotExist(err) {
				fmt.Fprintf(stderr, "aclscan: scan complete, but the checkpoint %s could not be removed: %v\n", o.resume.path, err)
			}
		} else {
			resumeHint = fmt.Sprintf("; progress saved in %s: run the same command again to continue", o.resume.path)
		}
	}
	if o.summaryFile != nil || o.summaryS3 != "" {
		if err != nil {
			sum.Complete = false // the summary file says what the exit code says
		}
		keep(o.writeSummary(sum), "--summary-json")
	}
	return resumeHint, err
}

// writeSummary writes --summary-json to its file or S3 object.
func (o *scanOutputs) writeSummary(sum *scan.Summary) error {
	b, err := json.MarshalIndent(report.NewSummaryRecord(sum, flagSpelling), "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if o.summaryS3 != "" {
		bucket, key, _ := s3ObjectURL("--summary-json", o.summaryS3)
		up := o.client.NewUpload(context.Background(), s3access.UploadRequest{Bucket: bucket, Key: key, Overwrite: o.overwrite})
		if _, err := up.Write(b); err != nil {
			_ = up.Abort(err)
			return err
		}
		return up.Close()
	}
	if _, err := o.summaryFile.Write(b); err != nil {
		return err
	}
	err = o.summaryFile.Close()
	o.summaryFile = nil
	return err
}

// s3ObjectURL checks an s3://BUCKET/KEY naming an object to write.
func s3ObjectURL(flag, url string) (bucket, key string, err error) {
	bucket, key, err = s3access.ParseURL(url)
	if err != nil {
		return "", "", usageErrorf("%s %s: %v", flag, url, err)
	}
	if key == "" || strings.HasSuffix(key, "/") {
		return "", "", usageErrorf("%s %s names no object: give s3://BUCKET/KEY", flag, url)
	}
	return bucket, key, nil
}

// closeFiles closes whatever is still open (after an early return).
func (o *scanOutputs) closeFiles() {
	if o.upload != nil {
		_ = o.upload.Abort(errors.New("stopped before the scan"))
		o.upload = nil
	}
	if o.out != nil {
		o.out.Close()
	}
	if o.summaryFile != nil {
		o.summaryFile.Close()
	}
}
