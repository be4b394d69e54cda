package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/internal/settings"
	"github.com/aclscan/aclscan/inventory"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
	"github.com/spf13/cobra"
)

// inventoryFlags are the inventory command's flags: the report and
// connection flags of scan, and what only a report has.
type inventoryFlags struct {
	scanFlags
	noContext     bool
	dataDir       string
	allowData     []string
	parallelFiles int
	tempDir       string
	stdlibCSV     bool
}

func newInventoryCommand(sh *shell) *cobra.Command {
	f := inventoryFlags{scanFlags: scanFlags{set: settings.Defaults(), inventory: true}, parallelFiles: 2}
	cmd := &cobra.Command{
		Use:   "inventory MANIFEST",
		Short: "Judge every object of an S3 Inventory report (ObjectOwner, ObjectAccessControlList) with no request per object",
		Long: `aclscan inventory reads an S3 Inventory report (CSV or Parquet) that carries the ObjectOwner and
ObjectAccessControlList fields and judges every object's ACL as a scan does, with the source bucket's
settings read live (Block Public Access, Object Ownership), without a request per object. Unlike a live
scan, a report shows the dormant ACLs of a bucket whose ACLs are disabled. MANIFEST is
s3://BUCKET/KEY/manifest.json, a local manifest.json, or a configuration's destination prefix
s3://DEST/PREFIX/SOURCE-BUCKET/CONFIG-ID/ (its newest complete report is taken).`,
		Example: `  aclscan inventory s3://inventory-dest/reports/my-bucket/all-objects/
  aclscan inventory s3://inventory-dest/reports/my-bucket/all-objects/2026-12-01T01-00Z/manifest.json -o report.jsonl
  aclscan inventory ./manifest.json --data-dir ./data --no-context --fail-on public`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("inventory takes one MANIFEST argument (s3://.../manifest.json, a local manifest.json, or s3://DEST/PREFIX/SOURCE-BUCKET/CONFIG-ID/), got %d (see aclscan inventory --help)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkConflicts(cmd.Flags(), &f.scanFlags); err != nil {
				return err
			}
			if f.parallelFiles < 1 {
				return usageErrorf("--parallel-files must be at least 1, got %d", f.parallelFiles)
			}
			return sh.runInventory(cmd.Context(), args[0], &f)
		},
	}
	fl := cmd.Flags()
	addConnectionFlags(fl, &f.scanFlags)
	addReportFlags(fl, &f.scanFlags, "run")
	fl.BoolVar(&f.noContext, "no-context", false, "judge from the report alone: do not read the source bucket's settings (Block Public Access, Object Ownership, owner)")
	fl.BoolVar(&f.set.Recheck, "verify", false, "read live the ACL of every object with findings (the report can be 48 hours old) and say whether it changed since (changed_since_report)")
	fl.StringVar(&f.dataDir, "data-dir", "", "read the data files from DIR (at their key, or by file name) instead of the destination bucket")
	addExpectedOwnerFlag(fl, &f.scanFlags)
	fl.StringSliceVar(&f.allowData, "allow-data-bucket", nil, "a bucket besides the one named that the manifest may send aclscan to for its data files (repeatable)")
	fl.IntVar(&f.parallelFiles, "parallel-files", f.parallelFiles, "data files read at once")
	fl.StringVar(&f.tempDir, "temp-dir", "", "where Parquet data files are kept while read (they need random access; default: the system's)")
	fl.BoolVar(&f.stdlibCSV, "stdlib-csv", false, "read CSV with Go's encoding/csv instead of aclscan's reader (slower; for comparison)")
	_ = fl.MarkHidden("stdlib-csv")
	return cmd
}

// runInventory judges a report: the manifest is located once the client
// exists, then the run is a scan of the report as source.
func (sh *shell) runInventory(ctx context.Context, location string, f *inventoryFlags) error {
	cfg, s3opts, fail, err := f.configEach()
	if err != nil {
		return err
	}
	cfg.Strategy = scan.Pool
	tuneGC()
	return sh.runOne(ctx, &f.scanFlags, cfg, s3opts, fail, func(ctx context.Context, client *s3access.Client, outs *scanOutputs, cfg *scan.Config) error {
		owner, err := f.expectedBucketOwner(ctx, client)
		if err != nil {
			return err
		}
		rep, err := inventory.Locate(ctx, client.SDK(), location, inventory.LocateOptions{DataDir: f.dataDir, AllowDataBuckets: f.allowData, ExpectedBucketOwner: owner})
		if err != nil {
			return explainInventoryError(err)
		}
		m := rep.Manifest
		cols, err := m.Columns()
		if err != nil {
			return explainInventoryError(err)
		}
		cfg.Bucket = m.SourceBucket
		cfg.AllVersions = cols.VersionID >= 0
		var resume *scan.State
		if outs.resume != nil && outs.resume.previous != nil {
			resume = &outs.resume.previous.Scan
			if err := resume.Matches(*cfg); err != nil || resume.Report != rep.Location {
				return usageErrorf("--checkpoint %s is of another run (%s); use another checkpoint file", outs.resume.path, describeCheckpoint(resume, err))
			}
			cfg.Resume = resume
		}
		opts := inventory.Options{Parallel: f.parallelFiles, TempDir: f.tempDir, StdlibCSV: f.stdlibCSV}
		if resume != nil {
			opts.Resume = resume.Source
		}
		src, err := inventory.NewSource(m, cols, rep.Open, opts)
		if err != nil {
			return usageErrorf("--checkpoint: %v", err)
		}
		cfg.Source, cfg.Resolver = src, scan.Given()
		// Rows are judged where they are read; with --verify, each
		// rechecked row waits for its request, so the pool stays.
		cfg.Inline = !cfg.Recheck
		cfg.SourceName, cfg.ReportDate = "inventory", m.Created().Format(time.RFC3339)
		cfg.Report = rep.Location
		if f.noContext {
			cfg.Context = notRead("--no-context: judged from the report alone")
		}
		age := time.Since(m.Created()).Round(time.Hour)
		fmt.Fprintf(sh.stderr, "aclscan: inventory report %s of s3://%s, taken %s (%s ago), %s, %d data files\n",
			rep.Location, m.SourceBucket, m.Created().Format(time.RFC3339), age, m.FileFormat, len(m.Files))
		if !rep.Checked {
			fmt.Fprintf(sh.stderr, "aclscan: warning: no manifest.checksum beside %s: the manifest is not checked (each data file still is, against its MD5)\n", rep.Location)
		}
		return nil
	})
}

// notRead is a context whose every setting was left unread, for the
// reason given: nothing is blocked, and the notes say why.
func notRead(reason string) *acl.BucketContext {
	return &acl.BucketContext{
		ACL:          acl.Unread[[]acl.Grant](reason),
		Ownership:    acl.Unread[string](reason),
		BucketBlock:  acl.Unread[acl.PublicAccessBlock](reason),
		AccountBlock: acl.Unread[acl.PublicAccessBlock](reason),
		PolicyPublic: acl.Unread[bool](reason),
		Policy:       acl.Unread[string](reason),
	}
}

func describeCheckpoint(st *scan.State, err error) string {
	if err != nil {
		return err.Error()
	}
	return "the report " + st.Report
}

// explainInventoryError gives a report that lacks the fields aclscan
// judges (or cannot be read as a format) exit code 2: the fix is in the
// inventory configuration. Anything else could not be read: exit 1.
func explainInventoryError(err error) error {
	var missing *inventory.MissingFieldsError
	var unreadable *inventory.FormatError
	if errors.As(err, &missing) || errors.As(err, &unreadable) {
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	se := &scan.Error{Op: "read the inventory report", Err: err}
	return &exitError{code: exitIncomplete, msg: se.Explain(flagSpelling)}
}

// tuneGC lets the heap grow 4x between collections (Go's default: 2x),
// unless GOGC says otherwise: a report's rows are many small short-lived
// allocations around a live heap of a few MiB, which the default collects
// hundreds of times a second (685 collections on 2,000,000 rows, 118 at
// 400%). One run each on 2,000,000 generated rows while this was written
// (GOGC=100 vs 400, the machine otherwise idle): CSV 2.59 s -> 2.19 s,
// Parquet 1.65 s -> 1.44 s, peak RSS 26 -> 45 MiB and 42 -> 91 MiB; the
// 10,000,000-row medians are in docs/benchmarks/inventory.md. The soft
// memory limit keeps the heap from passing 96 MiB whatever the rows.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(96 << 20)
	}
}
