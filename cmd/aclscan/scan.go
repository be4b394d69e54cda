package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/internal/settings"
	"github.com/aclscan/aclscan/readiness"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// scanFlags are the scan command's flags: the shared settings, plus what
// only the command line has (report, progress, profiling).
type scanFlags struct {
	set         settings.Scan
	format      string
	output      string
	failOn      string
	failLatent  string
	noProgress  bool
	tableRows   int
	cpuProfile  string
	checkpoint  string
	ckptEvery   time.Duration
	summaryJSON string
	// overwrite lets -o and --summary-json replace an S3 object.
	overwrite bool
	// expectedOwner is the account the buckets read from (reports,
	// inventories) must belong to: "" the caller's on AWS, "none" unchecked.
	expectedOwner string
	// Every bucket of the account, filtered by glob patterns on names.
	allBuckets      bool
	include         []string
	exclude         []string
	parallelBuckets int
	readinessPolicy string
	riskyOnly       bool
	// inventory: the scan's bucket is known only once the report's
	// manifest is read; the checkpoint is checked then.
	inventory bool
}

func newScanCommand(sh *shell) *cobra.Command {
	f := scanFlags{set: settings.Defaults()}
	cmd := &cobra.Command{
		Use:   "scan s3://BUCKET[/PREFIX] | --all-buckets",
		Short: "Fetch and classify the ACL of every object under a bucket or prefix, or of every bucket",
		Example: `  aclscan scan s3://my-bucket
  aclscan scan s3://my-bucket/uploads/ --format jsonl -o report.jsonl
  aclscan scan s3://my-bucket --all-versions --fail-on public,authenticated
  aclscan scan s3://my-bucket --verify-public --readiness-policy policy.json
  aclscan scan --all-buckets --exclude 'logs-*' -o account.jsonl --summary-json account-summary.json
  aclscan scan s3://demo --endpoint-url http://127.0.0.1:7480`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case f.allBuckets && len(args) != 0:
				return usageErrorf("--all-buckets scans every bucket: drop the s3://%s argument (or --all-buckets)", strings.TrimPrefix(args[0], "s3://"))
			case !f.allBuckets && len(args) != 1:
				return usageErrorf("scan takes one s3://BUCKET[/PREFIX] argument, or --all-buckets, got %d arguments (see aclscan scan --help)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkConflicts(cmd.Flags(), &f); err != nil {
				return err
			}
			if f.allBuckets {
				return sh.runAllBuckets(cmd.Context(), &f)
			}
			return sh.runScan(cmd.Context(), args[0], &f)
		},
	}
	fl := cmd.Flags()
	addConnectionFlags(fl, &f)
	addReportFlags(fl, &f, "scan")
	fl.StringVar(&f.set.Strategy, "strategy", f.set.Strategy, "request scheduling: serial, pool or all (one goroutine per key, for experiments)")
	fl.IntVar(&f.set.ListConcurrency, "list-concurrency", f.set.ListConcurrency, "list requests in flight: the keyspace is split into ranges listed in parallel (1 = one sequential listing)")
	fl.StringVar(&f.set.S3.Throttling, "throttling", f.set.S3.Throttling, "reaction to 503 SlowDown: aimd (halve requests in flight, grow back), adaptive (the AWS SDK's client-side rate limit) or off (retries with backoff only)")
	fl.BoolVar(&f.set.AllVersions, "all-versions", false, "scan every version of every object (delete markers are counted)")
	fl.BoolVar(&f.set.VerifyPublic, "verify-public", false, "ask S3 anonymously (an unsigned HEAD) for every object whose ACL makes it public now, and report whether it was served (verified_public)")
	fl.BoolVar(&f.set.ScanDisabledACLs, "scan-disabled-acls", false, "fetch the objects of a bucket whose ACLs are disabled (BucketOwnerEnforced) anyway; S3 then answers every ACL read with full control for the owner")
	fl.BoolVar(&f.allBuckets, "all-buckets", false, "scan every bucket the caller owns (ListBuckets), each in its region, a few at a time under one --concurrency")
	fl.StringArrayVar(&f.include, "include", nil, "with --all-buckets, scan only buckets whose name matches this glob (repeatable), e.g. 'prod-*'")
	fl.StringArrayVar(&f.exclude, "exclude", nil, "with --all-buckets, skip buckets whose name matches this glob (repeatable)")
	fl.IntVar(&f.parallelBuckets, "parallel-buckets", scan.DefaultParallelBuckets, "with --all-buckets, how many buckets are scanned at once")
	fl.Int32Var(&f.set.PageSize, "page-size", f.set.PageSize, "keys per list request (1-1000)")
	_ = fl.MarkHidden("page-size")
	fl.BoolVar(&f.set.S3.SDKObjectACL, "sdk-acl", false, "fetch ACLs through the AWS SDK's full middleware stack (slower; for comparison)")
	_ = fl.MarkHidden("sdk-acl")
	fl.BoolVar(&f.set.S3.StdTransport, "std-transport", false, "send ACL and list requests through net/http's Transport instead of aclscan's own connections (for comparison)")
	_ = fl.MarkHidden("std-transport")
	return cmd
}

// addConnectionFlags registers how to reach S3: endpoint, credentials,
// retries, the account.
func addConnectionFlags(fl *pflag.FlagSet, f *scanFlags) {
	fl.StringVar(&f.set.S3.EndpointURL, "endpoint-url", "", "S3 endpoint URL (default: AWS; also AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL)")
	fl.BoolVar(&f.set.S3.PathStyle, "path-style", false, "use path-style addressing (automatic for IP and localhost endpoints)")
	fl.StringVar(&f.set.S3.Region, "region", "", "AWS region (default: from AWS_REGION or the profile, else us-east-1)")
	fl.StringVar(&f.set.S3.Profile, "profile", "", "shared config profile to take credentials and settings from")
	fl.StringVar(&f.set.S3.CABundle, "ca-bundle", "", "PEM file of extra CAs to trust (also AWS_CA_BUNDLE)")
	fl.BoolVar(&f.set.S3.InsecureSkipVerify, "insecure-skip-verify", false, "do not check the server's TLS certificate (test endpoints only; prints a warning)")
	fl.DurationVar(&f.set.OutageWait, "outage-wait", f.set.OutageWait, "when requests fail in a row (the endpoint down, not the objects), pause and wait this long for it to answer before stopping (0: stop at once)")
	fl.IntVar(&f.set.S3.MaxAttempts, "max-attempts", f.set.S3.MaxAttempts, "attempts per request, first try included, before an object is reported as error")
	fl.DurationVar(&f.set.S3.RequestTimeout, "timeout", f.set.S3.RequestTimeout, "time limit of one request attempt")
	fl.StringVar(&f.set.S3.AccountID, "account-id", "", "AWS account whose Block Public Access settings apply and whose principals in bucket policies are the owner's (default: the caller's, from STS GetCallerIdentity)")
	fl.StringVar(&f.set.S3.STSEndpointURL, "sts-endpoint-url", "", "STS endpoint URL (default: AWS's; also AWS_ENDPOINT_URL_STS)")
	fl.StringVar(&f.set.S3.ControlEndpointURL, "s3control-endpoint-url", "", "S3 Control endpoint URL, for the account's Block Public Access (default: AWS's; also AWS_ENDPOINT_URL_S3_CONTROL)")
	_ = fl.MarkHidden("sts-endpoint-url")
	_ = fl.MarkHidden("s3control-endpoint-url")
}

// addReportFlags registers what to write and when to fail; what names
// the command ("scan", "inventory") in the help texts.
func addReportFlags(fl *pflag.FlagSet, f *scanFlags, what string) {
	fl.IntVarP(&f.set.Concurrency, "concurrency", "c", f.set.Concurrency, "requests in flight with --strategy pool (the most: --throttling lowers it while S3 asks to slow down)")
	fl.StringVar(&f.checkpoint, "checkpoint", "", "save progress to FILE; if FILE exists, continue the "+what+" it describes (needs -o FILE, jsonl or csv); removed when the "+what+" completes")
	fl.DurationVar(&f.ckptEvery, "checkpoint-interval", scan.DefaultCheckpointInterval, "how often to save the checkpoint")
	_ = fl.MarkHidden("checkpoint-interval")
	fl.StringVar(&f.format, "format", "", "output format: table, jsonl, csv, parquet, ocsf (one OCSF Detection Finding per effective finding) or html (one self-contained page) (default: table on a terminal, jsonl otherwise)")
	fl.StringVarP(&f.output, "output", "o", "", "write the report to FILE (created owner-only) instead of stdout")
	fl.BoolVar(&f.overwrite, "overwrite", false, "let -o s3://... and --summary-json s3://... replace an object already there")
	fl.StringVar(&f.failOn, "fail-on", "", "exit 3 when a complete "+what+" finds any of these kinds granting access now (effective, given Block Public Access and Object Ownership): comma list of public, authenticated, cross-account, foreign-owner, unreadable, conditional, policy-unjudged, or any")
	fl.StringVar(&f.failLatent, "fail-on-latent", "", "exit 3 when any ACL says one of these kinds, even where the bucket's settings block it now (latent: it comes back if they are turned off); same list as --fail-on")
	fl.StringVar(&f.readinessPolicy, "readiness-policy", "", "write a draft bucket policy that keeps the access ACLs give today to FILE (with --all-buckets: a directory, one BUCKET.json per bucket); nothing is changed")
	fl.StringVar(&f.set.BucketOwner, "bucket-owner", "", "bucket owner's canonical ID, used when GetBucketAcl is denied")
	fl.StringVar(&f.summaryJSON, "summary-json", "", "also write the "+what+"'s summary (counts, completeness, requests, retries) as JSON to FILE")
	fl.BoolVar(&f.noProgress, "no-progress", false, "do not show progress on a terminal")
	fl.IntVar(&f.tableRows, "table-rows", report.DefaultTableRows, "risky objects listed by the table format")
	fl.BoolVar(&f.riskyOnly, "risky-only", false, "jsonl and csv: write only the objects with a finding or a status other than ok")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a Go CPU profile to FILE")
	_ = fl.MarkHidden("cpuprofile")
}

// checkConflicts refuses flags that contradict each other or that the
// other flags make meaningless: a flag silently ignored is a scan that
// does not do what its user asked.
func checkConflicts(fl *pflag.FlagSet, f *scanFlags) error {
	given := func(name string) bool { return fl.Changed(name) }
	switch {
	case f.set.S3.InsecureSkipVerify && given("ca-bundle"):
		return usageErrorf("--insecure-skip-verify and --ca-bundle contradict each other: the CA bundle is how to verify a private CA; drop --insecure-skip-verify")
	case f.set.Strategy != "pool" && given("concurrency"):
		return usageErrorf("--concurrency sets the pool of --strategy pool; --strategy %s does not use it", f.set.Strategy)
	case f.set.Strategy == "serial" && given("list-concurrency"):
		return usageErrorf("--list-concurrency lists in parallel; --strategy serial sends one request at a time")
	case given("table-rows") && f.format != "" && f.format != "table":
		return usageErrorf("--table-rows applies to --format table, not %s", f.format)
	case given("checkpoint-interval") && !given("checkpoint"):
		return usageErrorf("--checkpoint-interval needs --checkpoint FILE")
	case !f.allBuckets && (given("include") || given("exclude") || given("parallel-buckets")):
		return usageErrorf("--include, --exclude and --parallel-buckets choose buckets for --all-buckets; give --all-buckets, or drop them")
	case f.allBuckets && f.parallelBuckets < 1:
		return usageErrorf("--parallel-buckets must be at least 1, got %d", f.parallelBuckets)
	}
	for _, pattern := range append(append([]string(nil), f.include...), f.exclude...) {
		if _, err := path.Match(pattern, ""); err != nil {
			return usageErrorf("--include/--exclude: %q is not a valid glob pattern (%v)", pattern, err)
		}
	}
	return nil
}

func (sh *shell) runScan(ctx context.Context, target string, f *scanFlags) error {
	cfg, s3opts, fail, err := f.config(target)
	if err != nil {
		return err
	}
	return sh.runOne(ctx, f, cfg, s3opts, fail, nil)
}

// runOne runs one scan (a bucket's, or a report's: prepare, when set,
// completes the configuration once the client exists) and reports it.
func (sh *shell) runOne(ctx context.Context, f *scanFlags, cfg scan.Config, s3opts s3access.Options, fail failPolicy,
	prepare func(context.Context, *s3access.Client, *scanOutputs, *scan.Config) error) error {
	if dir := filepath.Dir(f.readinessPolicy); f.readinessPolicy != "" {
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			return usageErrorf("--readiness-policy %s: the directory %s does not exist", f.readinessPolicy, dir)
		}
	}
	client, err := sh.newClient(ctx, s3opts)
	if err != nil {
		return err
	}
	outs, err := sh.openOutputs(ctx, f, &cfg, client)
	if err != nil {
		return err
	}
	defer outs.closeFiles()
	if prepare != nil {
		if err := prepare(ctx, client, outs, &cfg); err != nil {
			return err
		}
	}
	if !f.inventory {
		// A report is read and decoded, not waited for: every core helps.
		sizeProcessors(cfg)
	}
	if f.cpuProfile != "" {
		stopProfile, err := startCPUProfile(f.cpuProfile)
		if err != nil {
			return usageErrorf("--cpuprofile: %v", err)
		}
		defer stopProfile()
	}
	progress := new(scan.Progress)
	var bar *progressBar
	if !f.noProgress && isTerminal(sh.stderr) {
		bar = startProgressBar(sh.stderr, progress, client)
	}
	sink := report.Writer(outs.writer)
	var draft *readiness.Draft
	if f.readinessPolicy != "" {
		draft = readiness.NewDraft(cfg.Bucket)
		sink = tee{Writer: outs.writer, also: draft}
	}
	sum, scanErr := scan.Run(ctx, client, cfg, sink, progress)
	bar.stop()
	if sum == nil {
		return &exitError{code: exitIncomplete, msg: scanErr.Error()}
	}
	resumeHint, err := outs.finish(sum, sh.stderr)
	if err != nil && scanErr == nil {
		scanErr, sum.Complete = err, false
	}
	if f.format != "table" && isTerminal(sh.stderr) {
		report.WriteSummary(sh.stderr, sum, flagSpelling)
	}
	if draft != nil {
		sh.writeReadinessPolicy(draft, sum, f.readinessPolicy)
	}
	return verdict(sum, scanErr, fail, resumeHint)
}

// newClient builds the S3 client from the flags' options and what the
// shell's environment gives.
func (sh *shell) newClient(ctx context.Context, opts s3access.Options) (*s3access.Client, error) {
	opts.UserAgent = "aclscan/" + version
	if opts.EndpointURL == "" {
		opts.EndpointURL = sh.s3.EndpointURL
	}
	opts.Credentials = sh.s3.Credentials
	if opts.InsecureSkipVerify {
		fmt.Fprintln(sh.stderr, "aclscan: warning: --insecure-skip-verify: the server's TLS certificate is not checked; anyone on the network path can read and alter what this scan sees")
	}
	client, err := s3access.New(ctx, opts)
	if err != nil {
		return nil, explainSetupError(err)
	}
	if client.PlainHTTPSessionCredentials(ctx) {
		fmt.Fprintf(sh.stderr, "aclscan: warning: session credentials go to %s over plain http: their token travels in the clear and can be replayed until it expires; use https\n", client.Endpoint)
	}
	return client, nil
}

// expectedBucketOwner is the ExpectedBucketOwner to send when reading a
// report or an inventory (--expected-bucket-owner): the caller's account
// on AWS unless another is named, none with "none".
func (f *scanFlags) expectedBucketOwner(ctx context.Context, client *s3access.Client) (string, error) {
	switch v := f.expectedOwner; {
	case v == "none":
		return "", nil
	case v != "":
		if len(v) != 12 || strings.Trim(v, "0123456789") != "" {
			return "", usageErrorf("--expected-bucket-owner %q: want a 12-digit AWS account ID, or none", v)
		}
		return v, nil
	}
	return client.ExpectedBucketOwner(ctx), nil
}

// addExpectedOwnerFlag adds --expected-bucket-owner to a command that
// reads reports or inventories from S3.
func addExpectedOwnerFlag(fl *pflag.FlagSet, f *scanFlags) {
	fl.StringVar(&f.expectedOwner, "expected-bucket-owner", "", "the AWS account the bucket read from must belong to (sent as ExpectedBucketOwner; default: the caller's, on AWS; none to not check)")
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

// config checks the flags and builds the engine's configuration and the
// client's options.
func (f *scanFlags) config(target string) (scan.Config, s3access.Options, failPolicy, error) {
	f.set.Target = target
	cfg, opts, err := f.set.Build()
	if err != nil {
		return cfg, opts, failPolicy{}, explainSetupError(err)
	}
	return f.finishConfig(cfg, opts)
}

// finishConfig checks what only the command line has.
func (f *scanFlags) finishConfig(cfg scan.Config, opts s3access.Options) (scan.Config, s3access.Options, failPolicy, error) {
	var err error
	if f.ckptEvery <= 0 {
		return cfg, opts, failPolicy{}, usageErrorf("--checkpoint-interval must be positive, got %s", f.ckptEvery)
	}
	var fail failPolicy
	if fail.effective, err = parseFailOn("--fail-on", f.failOn); err != nil {
		return cfg, opts, fail, err
	}
	fail.latent, err = parseFailOn("--fail-on-latent", f.failLatent)
	return cfg, opts, fail, err
}

// failPolicy are the finding kinds that make a complete scan exit 3:
// effective ones (--fail-on), and any an ACL says (--fail-on-latent).
type failPolicy struct{ effective, latent acl.Findings }

func (p failPolicy) kinds() acl.Findings { return p.effective | p.latent }

// kindNames lists every finding kind's name, in output order.
func kindNames() []string {
	var names []string
	for _, k := range acl.AllKinds() {
		names = append(names, k.String())
	}
	return names
}

func parseFailOn(flag, list string) (acl.Findings, error) {
	var set acl.Findings
	if list == "" {
		return 0, nil
	}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "any" {
			for _, k := range acl.AllKinds() {
				set = set.With(k)
			}
			continue
		}
		k, ok := acl.ParseKind(name)
		if !ok {
			return 0, usageErrorf("%s: unknown finding kind %q (want any, or a comma list of %s)", flag, name, strings.Join(kindNames(), ", "))
		}
		set = set.With(k)
	}
	return set, nil
}

// verdict turns the outcome of a scan into the exit code and its message.
func verdict(sum *scan.Summary, scanErr error, fail failPolicy, resumeHint string) error {
	if scanErr != nil {
		msg := scanErr.Error()
		var se *scan.Error
		switch {
		case errors.Is(scanErr, context.Canceled):
			msg = "scan interrupted"
		case errors.As(scanErr, &se):
			msg = se.Explain(flagSpelling)
		}
		msg = fmt.Sprintf("%s; %d objects reported before stopping", msg, sum.Objects)
		if sum.Unchecked > 0 {
			msg += fmt.Sprintf(", %d listed but not checked", sum.Unchecked)
		}
		return &exitError{code: exitIncomplete, msg: msg + resumeHint}
	}
	if n := sum.Count(scan.StatusError); n > 0 {
		return &exitError{code: exitIncomplete, msg: fmt.Sprintf("%d of %d objects could not be checked (status \"error\" in the report)", n, sum.Objects)}
	}
	asked := fail.kinds()
	if asked.Any(acl.OwnerDependent) && sum.BucketOwner == "" {
		return &exitError{code: exitIncomplete, msg: "--fail-on asks for cross-account or foreign-owner, which cannot be judged without the bucket owner: " + sum.OwnerProblem + "; pass --bucket-owner ID"}
	}
	for _, k := range asked.Kinds() {
		if !sum.Judged(k) {
			return &exitError{code: exitIncomplete, msg: fmt.Sprintf("--fail-on asks for %s, which could not be judged: no object's ACL could be read (%d denied, %d errors)", k, sum.Count(scan.StatusDenied), sum.Count(scan.StatusError))}
		}
	}
	var counts []string
	for _, k := range (sum.Effective() & fail.effective).Kinds() {
		counts = append(counts, fmt.Sprintf("%s %d", k, sum.FoundEffective(k)))
	}
	doors, _, doorsEffective := sum.BucketDoors()
	for _, k := range (doorsEffective & fail.effective).Kinds() {
		n := 0
		for _, d := range doors {
			if d.Effective && d.Finding == k.String() {
				n++
			}
		}
		counts = append(counts, fmt.Sprintf("%s in %d bucket policy statements (bucket-level)", k, n))
	}
	for _, k := range (sum.Findings() & fail.latent).Kinds() {
		counts = append(counts, fmt.Sprintf("%s %d in ACLs (%d effective)", k, sum.Found(k), sum.FoundEffective(k)))
	}
	if len(counts) > 0 {
		return &exitError{code: exitFindings, msg: "findings matching --fail-on: " + strings.Join(counts, ", ")}
	}
	return nil
}

// requestsPerProcessor is how many requests in flight one Go processor
// (P) serves. A scan waits on the network; each extra P mostly spins in the
// scheduler looking for work, CPU taken from the server or whatever else
// runs there: on the 2-core benchmark machine one P instead of two cut the
// client's CPU per object at the same speed (docs/benchmarks/README.md,
// "Client CPU, how it came down").
const requestsPerProcessor = 64

// sizeProcessors sets GOMAXPROCS to the scan's needs, unless the
// environment sets it.
func sizeProcessors(cfg scan.Config) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	inFlight := cfg.Concurrency
	if cfg.Strategy == scan.All {
		inFlight = runtime.NumCPU() * requestsPerProcessor
	}
	runtime.GOMAXPROCS(min(runtime.NumCPU(), max(1, (inFlight+requestsPerProcessor-1)/requestsPerProcessor)))
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
