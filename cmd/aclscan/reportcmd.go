package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aclscan/aclscan/batch"
	"github.com/aclscan/aclscan/internal/settings"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
	"github.com/spf13/cobra"
)

func newReportCommand(sh *shell) *cobra.Command {
	// Accepted exposures are judged where objects are judged (the scan);
	// a merge reports what the run's records say, so the working
	// directory's rules file is not read here.
	f := scanFlags{set: settings.Defaults(), ckptEvery: scan.DefaultCheckpointInterval, noAccept: true}
	cmd := &cobra.Command{
		Use:   "report RUN",
		Short: "Merge the batch reports of a Step Functions, Batch Operations or async run into one report",
		Long: `aclscan report reads the reports the aclscan Lambda function wrote for one run (a Step Functions
Distributed Map execution, or an async scan) and writes them as one report, in any format, with one
summary and the usual exit codes. RUN is the run's folder, s3://REPORT_BUCKET/REPORT_PREFIX/RUN_ID/
(or a local copy of it), or the Map Run's ResultWriter manifest.json inside it. When the folder holds
a ResultWriter manifest or an async scan's scan.json, batches that failed, are pending or are missing
are named and the exit code is 1.`,
		Example: `  aclscan report s3://aclscan-reports/aclscan/my-execution/ --format table
  aclscan report s3://aclscan-reports/aclscan/scan-20261202T141500Z-1a2b3c4d/ -o report.html --format html
  aclscan report ./downloaded-run/ --fail-on public
  aclscan report --diff last-week.jsonl today.jsonl --format table --fail-on public --fail-on-new`,
		Args: func(cmd *cobra.Command, args []string) error {
			if diff, _ := cmd.Flags().GetBool("diff"); diff {
				if len(args) != 2 {
					return usageErrorf("report --diff takes two reports, OLD and NEW, got %d", len(args))
				}
				return nil
			}
			if len(args) != 1 {
				return usageErrorf("report takes one RUN argument (s3://REPORT_BUCKET/REPORT_PREFIX/RUN_ID/ or a local folder), got %d (see aclscan report --help)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if diff, _ := cmd.Flags().GetBool("diff"); diff {
				return sh.runDiff(cmd.Context(), args[0], args[1], &f)
			}
			return sh.runReport(cmd.Context(), args[0], &f)
		},
	}
	fl := cmd.Flags()
	addConnectionFlags(fl, &f)
	fl.StringVar(&f.format, "format", "", "output format: table, jsonl, csv, parquet, ocsf or html (default: table on a terminal, jsonl otherwise)")
	fl.StringVarP(&f.output, "output", "o", "", "write the report to FILE (created owner-only) or s3://BUCKET/KEY instead of stdout")
	fl.BoolVar(&f.overwrite, "overwrite", false, "let -o s3://... and --summary-json s3://... replace an object already there")
	addExpectedOwnerFlag(fl, &f)
	fl.StringVar(&f.failOn, "fail-on", "", "exit 3 when the run found any of these kinds granting access now: comma list of public, authenticated, cross-account, foreign-owner, unreadable, conditional, policy-unjudged, or any")
	fl.StringVar(&f.failLatent, "fail-on-latent", "", "exit 3 when any ACL says one of these kinds, even where it is blocked now; same list as --fail-on")
	fl.StringVar(&f.summaryJSON, "summary-json", "", "also write the merged summary as JSON to FILE or s3://BUCKET/KEY")
	fl.IntVar(&f.tableRows, "table-rows", report.DefaultTableRows, "risky objects listed by the table format")
	fl.BoolVar(&f.riskyOnly, "risky-only", false, "jsonl and csv: write only the objects with a finding or a status other than ok")
	fl.Bool("diff", false, "compare two reports, OLD and NEW (jsonl or parquet files): NEW's records marked new or known, OLD's objects whose findings are gone listed as closed")
	fl.BoolVar(&f.failOnNew, "fail-on-new", false, "with --diff: --fail-on counts only findings OLD did not have")
	return cmd
}

// runReport merges a run's batch reports into the report the flags ask for.
func (sh *shell) runReport(ctx context.Context, location string, f *scanFlags) error {
	cfg, s3opts, fail, err := f.configEach()
	if err != nil {
		return err
	}
	var store batch.Store
	var client *s3access.Client
	if strings.HasPrefix(location, "s3://") || strings.HasPrefix(f.output, "s3://") || strings.HasPrefix(f.summaryJSON, "s3://") {
		if client, err = sh.newClient(ctx, s3opts); err != nil {
			return err
		}
	}
	if strings.HasPrefix(location, "s3://") {
		bucket, key, err := s3access.ParseURL(location)
		if err != nil {
			return usageErrorf("report %s: %v", location, err)
		}
		if strings.HasSuffix(key, "manifest.json") {
			// The ResultWriter manifest: the run's folder holds results/.
			i := strings.LastIndex(key, "/results/")
			if i < 0 {
				return usageErrorf("report %s: this manifest.json is not in a run's results/ folder; give the run's folder s3://REPORT_BUCKET/REPORT_PREFIX/RUN_ID/", location)
			}
			key = key[:i+1]
		}
		s3store := batch.NewS3Store(client.SDK(), bucket, key)
		if s3store.ExpectedOwner, err = f.expectedBucketOwner(ctx, client); err != nil {
			return err
		}
		store = s3store
	} else {
		if info, err := os.Stat(location); err != nil || !info.IsDir() {
			return usageErrorf("report %s: not a folder; give a run's folder (s3://REPORT_BUCKET/REPORT_PREFIX/RUN_ID/ or a local copy)", location)
		}
		store = batch.DirStore{Dir: location}
	}
	outs, err := sh.openOutputs(ctx, f, &cfg, client)
	if err != nil {
		return err
	}
	defer outs.closeFiles()
	merge := batch.Merge
	if batch.IsAccountsRun(ctx, store) {
		merge = batch.MergeAccounts // the accounts state machine's run: a scan per planned bucket
	}
	merged, err := merge(ctx, store, outs.writer)
	if err != nil {
		return &exitError{code: exitIncomplete, msg: err.Error()}
	}
	sum := merged.Total
	fmt.Fprintf(sh.stderr, "aclscan: merged %d batches of %s: %d objects\n", merged.Batches, store.Where(""), sum.Objects)
	if merged.RiskyOnly {
		fmt.Fprintln(sh.stderr, "aclscan: the batches kept their risky records only (RECORDS=all keeps every record); the counts cover every object")
	}
	for _, n := range merged.Notes {
		fmt.Fprintf(sh.stderr, "aclscan: note: %s\n", n)
	}
	for _, id := range merged.Incomplete {
		fmt.Fprintf(sh.stderr, "aclscan: batch %s has records but no report (it failed while writing, or is being written): left out\n", id)
	}
	for _, id := range merged.Unnamed {
		fmt.Fprintf(sh.stderr, "aclscan: not merged: batch %s is in the run's folder, but the Map Run's results do not name it (another invoker's, or another run's)\n", id)
	}
	for _, m := range merged.Missing {
		fmt.Fprintf(sh.stderr, "aclscan: missing: %s\n", m)
	}
	if _, err := outs.finish(sum, sh.stderr); err != nil {
		return &exitError{code: exitIncomplete, msg: err.Error()}
	}
	if len(merged.Missing) > 0 || len(merged.Incomplete) > 0 {
		return &exitError{code: exitIncomplete, msg: fmt.Sprintf("the run is incomplete: %d batches missing, %d incomplete (see above); the report holds the %d batches present", len(merged.Missing), len(merged.Incomplete), merged.Batches)}
	}
	if !sum.Complete {
		// Nothing missing, nothing merged: a report of nothing is not a
		// clean run.
		return &exitError{code: exitIncomplete, msg: "no batch of the run was merged: the Map Run's results name none of the batches in its folder"}
	}
	return verdict(sum, nil, fail, "")
}
