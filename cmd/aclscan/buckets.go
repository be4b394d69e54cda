package main

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/aclscan/aclscan/accounts"
	"github.com/aclscan/aclscan/readiness"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
)

// runAllBuckets scans every bucket of the account (ListBuckets), each
// with a client for its region, into one report.
func (sh *shell) runAllBuckets(ctx context.Context, f *scanFlags) error {
	cfg, s3opts, fail, err := f.configEach()
	if err != nil {
		return err
	}
	if err := prepareReadinessDir(f.readinessPolicy); err != nil {
		return err
	}
	base, err := sh.newClient(ctx, s3opts)
	if err != nil {
		return err
	}
	outs, err := sh.openOutputs(ctx, f, &cfg, base)
	if err != nil {
		return err
	}
	defer outs.closeFiles()
	if err := f.prepareBaseline(ctx, base, &cfg); err != nil {
		return err
	}
	start := time.Now()
	clients := map[string]*s3access.Client{base.Region: base, "": base}
	var scans []scan.BucketScan
	var plan *accounts.Plan
	var statuses []*accounts.Status
	if f.acct.given() {
		if plan, scans, statuses, err = sh.planAccounts(ctx, f, cfg, s3opts, base); err != nil {
			return err
		}
		ids := make([]string, len(statuses))
		for i, st := range statuses {
			ids[i] = st.Account.ID
		}
		if err := outs.resume.checkAccounts(ids); err != nil {
			return err
		}
	} else {
		if err := outs.resume.checkAccounts(nil); err != nil {
			return err
		}
		buckets, err := base.ListBuckets(ctx)
		if err != nil {
			se := &scan.Error{Op: "list the account's buckets (ListBuckets)", Err: err}
			return &exitError{code: exitIncomplete, msg: se.Explain(flagSpelling)}
		}
		buckets = selectBuckets(buckets, f.include, f.exclude)
		for _, b := range buckets {
			client, err := sh.regionClient(ctx, clients, s3opts, b.Region)
			if err != nil {
				return err
			}
			bcfg := cfg
			bcfg.Bucket = b.Name
			scans = append(scans, scan.BucketScan{API: client, Config: bcfg, Region: client.Region})
		}
	}
	sizeProcessors(cfg)
	sink := report.Writer(outs.writer)
	var drafts readiness.Drafts
	if f.readinessPolicy != "" {
		drafts = readiness.Drafts{}
		sink = tee{Writer: outs.writer, also: drafts}
	}
	progress := new(scan.Progress)
	var bar *progressBar
	if !f.noProgress && isTerminal(sh.stderr) {
		bar = startProgressBar(sh.stderr, progress, base)
	}
	run := scan.Buckets{Scans: scans, Parallel: f.parallelBuckets, InFlight: cfg.InFlight(), Resume: outs.resumeBuckets}
	if plan != nil {
		run.GroupsAtOnce = f.acct.concurrency
	}
	if outs.resume != nil {
		run.Checkpoint = outs.resume.bucketsSaver(outs.writer, outs.out)
		run.CheckpointInterval = f.ckptEvery
	}
	sh.announceAccepted(cfg.Accept)
	sums, runErr := scan.RunBuckets(ctx, run, sink, progress)
	bar.stop()
	total := scan.Total(sums)
	total.Duration = time.Since(start)
	delete(clients, "") // the base client, counted under its region
	all := make([]*s3access.Client, 0, len(clients))
	for _, c := range clients {
		all = append(all, c)
	}
	if plan != nil {
		all = append(all, plan.Clients()...)
		accounts.Finish(statuses, scans, sums, flagSpelling)
		total.Accounts = accounts.Summaries(statuses)
	}
	for _, c := range all {
		total.Requests += c.Requests()
		total.Retries += c.Retries()
		total.Throttles += c.Throttles()
	}
	total.AcceptRules = scan.AcceptOutcome(cfg.Accept)
	if runErr == nil {
		scanned := map[string]bool{}
		for _, sc := range scans {
			scanned[sc.Config.Bucket] = true
		}
		total.Baseline = baselineOutcome(f.base, outs.resumeBuckets != nil, func(bucket, _ string) bool { return scanned[bucket] }, sh.stderr)
	}
	resumeHint, err := outs.finish(total, sh.stderr)
	if err != nil && runErr == nil {
		runErr, total.Complete = err, false
	}
	if f.format != "table" && isTerminal(sh.stderr) {
		report.WriteSummary(sh.stderr, total, flagSpelling)
	}
	if drafts != nil {
		for _, sum := range total.Buckets {
			if sum == nil || sum.Failure != nil {
				continue
			}
			// The name becomes a file name: only a valid bucket name does.
			if err := s3access.ValidateBucketName(sum.Bucket); err != nil {
				fmt.Fprintf(sh.stderr, "aclscan: no readiness policy written for %s\n", err)
				continue
			}
			sh.writeReadinessPolicy(drafts.For(sum.Bucket), sum, filepath.Join(f.readinessPolicy, sum.Bucket+".json"))
		}
	}
	if runErr == nil && plan != nil {
		if err := accountsVerdict(statuses); err != nil {
			return err
		}
	}
	if runErr == nil {
		if failed := total.Failed(); len(failed) > 0 {
			return &exitError{code: exitIncomplete, msg: fmt.Sprintf("%d of %d buckets could not be scanned (the others were); first: %s",
				len(failed), len(total.Buckets), failed[0].Failure.Explain(flagSpelling))}
		}
	}
	return verdict(total, runErr, fail, resumeHint)
}

// regionClient returns the client for a region, made once; clients
// holds the base client under its region and under "" (no region named).
func (sh *shell) regionClient(ctx context.Context, clients map[string]*s3access.Client, opts s3access.Options, region string) (*s3access.Client, error) {
	if c := clients[region]; c != nil {
		return c, nil
	}
	opts.Region = region
	c, err := sh.newClient(ctx, opts)
	if err != nil {
		return nil, err
	}
	clients[region] = c
	return c, nil
}

// selectBuckets keeps the buckets matching an include pattern (all when
// there is none) and no exclude pattern. Patterns were checked before.
func selectBuckets(buckets []s3access.Bucket, include, exclude []string) []s3access.Bucket {
	matches := func(patterns []string, name string) bool {
		for _, p := range patterns {
			if ok, _ := path.Match(p, name); ok {
				return true
			}
		}
		return false
	}
	var out []s3access.Bucket
	for _, b := range buckets {
		if (len(include) == 0 || matches(include, b.Name)) && !matches(exclude, b.Name) {
			out = append(out, b)
		}
	}
	return out
}

// configEach is config for --all-buckets: no target.
func (f *scanFlags) configEach() (scan.Config, s3access.Options, failPolicy, error) {
	cfg, opts, err := f.set.BuildEach()
	if err != nil {
		return cfg, opts, failPolicy{}, explainSetupError(err)
	}
	return f.finishConfig(cfg, opts)
}

// prepareReadinessDir makes the directory --readiness-policy names for a
// run over many buckets, before any request.
func prepareReadinessDir(dir string) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return usageErrorf("--readiness-policy: with --all-buckets it names a directory for one BUCKET.json per bucket: %v", err)
	}
	return nil
}

// writeReadinessPolicy writes the bucket's draft policy to file and says
// what the reviewer must know, on stderr.
func (sh *shell) writeReadinessPolicy(d *readiness.Draft, sum *scan.Summary, file string) {
	who := "s3://" + sum.Bucket
	switch {
	case sum.NotScanned:
		fmt.Fprintf(sh.stderr, "aclscan: %s: ACLs are already disabled: no readiness policy needed\n", who)
		return
	case !sum.Complete:
		fmt.Fprintf(sh.stderr, "aclscan: %s: the scan is incomplete: the draft policy covers only the objects reported\n", who)
	}
	res, err := d.Policy(sum.Context.ACL.Value, sum.Context.Owner)
	if err != nil {
		fmt.Fprintf(sh.stderr, "aclscan: %s: draft policy: %v\n", who, err)
		return
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(sh.stderr, "aclscan: %s: draft policy: %s\n", who, w)
	}
	if res.Empty() {
		fmt.Fprintf(sh.stderr, "aclscan: %s: no ACL grants access to anyone but the owner: no bucket policy needed before disabling ACLs (nothing written to %s)\n", who, file)
		return
	}
	if err := os.WriteFile(file, res.JSON, 0o600); err != nil {
		fmt.Fprintf(sh.stderr, "aclscan: %s: cannot write the draft policy: %v\n", who, err)
		return
	}
	fmt.Fprintf(sh.stderr, "aclscan: %s: wrote a draft bucket policy to %s (%d statements, %d bytes); review it before use: nothing was changed\n",
		who, file, len(res.Policy.Statement), len(res.JSON))
	fmt.Fprintf(sh.stderr, "aclscan: %s: draft policy: %s\n", who, d.Verify(res, sum.Context.Owner))
}

// tee is a report writer that also hands every result to another sink.
type tee struct {
	report.Writer
	also scan.Sink
}

func (t tee) Write(r *scan.Result) error {
	if err := t.also.Write(r); err != nil {
		return err
	}
	return t.Writer.Write(r)
}
