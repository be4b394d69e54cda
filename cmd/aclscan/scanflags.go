package main

import (
	"context"
	"os"
	"path"
	"strings"
	"time"

	"github.com/aclscan/aclscan/accept"
	"github.com/aclscan/aclscan/baseline"
	"github.com/aclscan/aclscan/internal/settings"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
	"github.com/spf13/pflag"
)

// scanFlags are the scan command's flags: the shared settings, plus what
// only the command line has (report, progress, profiling).
type scanFlags struct {
	set        settings.Scan
	format     string
	output     string
	failOn     string
	failLatent string
	// acceptFile is --accept; noAccept turns the default file off;
	// accepted is what was loaded (nil: no rules).
	acceptFile string
	noAccept   bool
	accepted   *accept.Rules
	// baselinePath is --baseline; failOnNew --fail-on-new; base the
	// baseline loaded (a local file at once, s3:// once there is a client).
	baselinePath string
	failOnNew    bool
	// trusted is --trusted-accounts.
	trusted     []string
	base        *baseline.Baseline
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
	// acct chooses the accounts of a run over accounts.
	acct accountFlags
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
	fl.StringVar(&f.acceptFile, "accept", "", "accepted exposures: findings the rules of FILE match are reported as accepted, with their reason, and do not fail --fail-on (default: "+accept.DefaultFile+" in the working directory, when there is one; docs/accepted.md)")
	fl.StringVar(&f.baselinePath, "baseline", "", "compare with an earlier report (jsonl or parquet file, or s3://BUCKET/KEY of a jsonl report): each finding is new or known, and objects whose findings are gone are listed as closed")
	fl.StringSliceVar(&f.trusted, "trusted-accounts", nil, "the zone of trust: account IDs (or canonical user IDs) whose access is not external; an object shared only with them is reported trusted, not cross-account (adds to the rules file's trusted_accounts)")
	fl.BoolVar(&f.failOnNew, "fail-on-new", false, "with --baseline: --fail-on counts only findings the baseline did not have")
	fl.BoolVar(&f.noAccept, "no-accept", false, "ignore "+accept.DefaultFile+": report every finding as found")
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
	if err := f.acct.check(fl, f.allBuckets); err != nil {
		return err
	}
	for _, pattern := range append(append([]string(nil), f.include...), f.exclude...) {
		if _, err := path.Match(pattern, ""); err != nil {
			return usageErrorf("--include/--exclude: %q is not a valid glob pattern (%v)", pattern, err)
		}
	}
	return nil
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
	if fail.latent, err = parseFailOn("--fail-on-latent", f.failLatent); err != nil {
		return cfg, opts, fail, err
	}
	if cfg.Accept, err = f.loadAccepted(time.Now()); err != nil {
		return cfg, opts, fail, err
	}
	for _, id := range f.trusted {
		if err := accept.CheckTrusted(id); err != nil {
			return cfg, opts, fail, usageErrorf("--trusted-accounts: %v", err)
		}
	}
	cfg.Trusted = cfg.Accept.Trust(f.trusted)
	switch {
	case f.failOnNew && f.baselinePath == "":
		return cfg, opts, fail, usageErrorf("--fail-on-new needs --baseline REPORT: new is new since a baseline")
	case f.failOnNew && f.failOn == "":
		return cfg, opts, fail, usageErrorf("--fail-on-new narrows --fail-on to new findings: give --fail-on KINDS too")
	case f.baselinePath != "" && !strings.HasPrefix(f.baselinePath, "s3://") && f.base == nil:
		if f.base, err = baseline.Open(f.baselinePath); err != nil {
			return cfg, opts, fail, usageErrorf("--baseline: %v", err)
		}
	}
	fail.onlyNew = f.failOnNew
	return cfg, opts, fail, nil
}

// loadAccepted reads the accepted-exposure rules: --accept FILE, or the
// working directory's default file when there is one.
func (f *scanFlags) loadAccepted(now time.Time) (*accept.Rules, error) {
	if f.accepted != nil {
		return f.accepted, nil
	}
	name := f.acceptFile
	switch {
	case f.noAccept && name != "":
		return nil, usageErrorf("--accept and --no-accept contradict each other: drop one")
	case f.noAccept:
		return nil, nil
	case name == "":
		if _, err := os.Stat(accept.DefaultFile); err != nil {
			return nil, nil
		}
		name = accept.DefaultFile
	}
	rules, err := accept.Load(name, now)
	if err != nil {
		return nil, usageErrorf("--accept: %v", err)
	}
	f.accepted = rules
	return rules, nil
}
