package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"

	"github.com/aclscan/aclscan/internal/settings"
	"github.com/aclscan/aclscan/readiness"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

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
  aclscan scan --all-buckets --org --org-role aclscan-audit -o org.jsonl --checkpoint org.ckpt
  aclscan scan --all-buckets --accounts accounts.yml --external-id "$EXTERNAL_ID" --format html -o accounts.html
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
	addAccountFlags(fl, &f.acct)
	fl.Int32Var(&f.set.PageSize, "page-size", f.set.PageSize, "keys per list request (1-1000)")
	_ = fl.MarkHidden("page-size")
	fl.BoolVar(&f.set.S3.SDKObjectACL, "sdk-acl", false, "fetch ACLs through the AWS SDK's full middleware stack (slower; for comparison)")
	_ = fl.MarkHidden("sdk-acl")
	fl.BoolVar(&f.set.S3.StdTransport, "std-transport", false, "send ACL and list requests through net/http's Transport instead of aclscan's own connections (for comparison)")
	_ = fl.MarkHidden("std-transport")
	return cmd
}

func (sh *shell) runScan(ctx context.Context, target string, f *scanFlags) error {
	cfg, s3opts, fail, err := f.config(target)
	if err != nil {
		return err
	}
	if len(f.acct.roleARNs) == 1 {
		if err := sh.sessionFor(ctx, f, &s3opts, &cfg); err != nil {
			return err
		}
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
	if err := f.prepareBaseline(ctx, client, &cfg); err != nil {
		return err
	}
	sh.announceAccepted(cfg.Accept)
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
	if sum != nil {
		sum.AcceptRules = scan.AcceptOutcome(cfg.Accept)
		if scanErr == nil {
			sum.Baseline = baselineOutcome(f.base, sum.Resumed, inTarget(cfg), sh.stderr)
		}
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
	if opts.Credentials == nil {
		opts.Credentials = sh.s3.Credentials
	}
	if opts.InsecureSkipVerify {
		sh.warnOnce("aclscan: warning: --insecure-skip-verify: the server's TLS certificate is not checked; anyone on the network path can read and alter what this scan sees")
	}
	client, err := s3access.New(ctx, opts)
	if err != nil {
		return nil, explainSetupError(err)
	}
	if client.PlainHTTPSessionCredentials(ctx) {
		sh.warnOnce(fmt.Sprintf("aclscan: warning: session credentials go to %s over plain http: their token travels in the clear and can be replayed until it expires; use https", client.Endpoint))
	}
	return client, nil
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
