package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aclscan/aclscan/accept"
	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/fix"
	"github.com/aclscan/aclscan/internal/settings"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
	"github.com/spf13/cobra"
)

// fixFlags are the fix and undo commands' flags.
type fixFlags struct {
	scanFlags
	fromReport    string
	findings      string
	canned        string
	planPath      string
	apply         bool
	undoLog       string
	force         bool
	verifyPublic  bool
	bucketACL     bool
	putsPerSecond float64
	workers       int
	// allBucketsInLog: undo acts on every bucket its log names.
	allBucketsInLog bool
}

// planLines bounds the plan's lines on the terminal.
const planLines = 20

func newFixCommand(sh *shell) *cobra.Command {
	f := fixFlags{scanFlags: scanFlags{set: settings.Defaults()}, findings: "public,authenticated", putsPerSecond: 3500, workers: 16}
	cmd := &cobra.Command{
		Use:   "fix s3://BUCKET[/PREFIX] | --from-report REPORT.jsonl",
		Short: "Close what a scan found: plan (dry run), then --apply with an undo log",
		Long: `aclscan fix removes the grants that make objects public, open to any AWS user or shared with other
accounts (--findings), keeping every other grant, or writes a canned ACL instead (--canned). By default it
only plans: it prints what it would change (and writes it with --plan FILE). With --apply --undo-log FILE it
reads each ACL again, skips those changed since the plan, writes each ACL as it is to the undo log and syncs
it before changing it, and records every outcome there. Running the same command again after an
interruption changes nothing twice; aclscan undo FILE puts every ACL back.`,
		Example: `  aclscan fix s3://my-bucket                                   # the plan, nothing changed
  aclscan fix s3://my-bucket --plan plan.jsonl --findings public
  aclscan fix s3://my-bucket --apply --undo-log undo.jsonl --verify-public
  aclscan fix --from-report report.jsonl --apply --undo-log undo.jsonl
  aclscan undo undo.jsonl`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case f.fromReport != "" && len(args) != 0:
				return usageErrorf("fix takes s3://BUCKET[/PREFIX] or --from-report REPORT.jsonl, not both")
			case f.fromReport == "" && len(args) != 1:
				return usageErrorf("fix takes one s3://BUCKET[/PREFIX] argument, or --from-report REPORT.jsonl (see aclscan fix --help)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			target := ""
			if len(args) == 1 {
				target = args[0]
			}
			return sh.runFix(cmd.Context(), target, &f)
		},
	}
	fl := cmd.Flags()
	addConnectionFlags(fl, &f.scanFlags)
	fl.StringVar(&f.fromReport, "from-report", "", "act on the objects of a scan or inventory report (JSONL) instead of scanning")
	fl.StringVar(&f.findings, "findings", f.findings, "finding kinds to close: comma list of public, authenticated, cross-account")
	fl.StringVar(&f.canned, "canned", "", "write this canned ACL instead of removing grants: private or bucket-owner-full-control")
	fl.StringVar(&f.planPath, "plan", "", "write the plan (JSON lines: each ACL before and after) to FILE")
	fl.BoolVar(&f.apply, "apply", false, "change the ACLs (needs --undo-log)")
	fl.StringVar(&f.undoLog, "undo-log", "", "with --apply: the journal each ACL is saved to before it is changed (run the same command again to continue; aclscan undo FILE restores)")
	fl.BoolVar(&f.force, "force", false, "with --apply: also fix ACLs that changed since the plan (the fix made again from the ACL as it is)")
	fl.BoolVar(&f.verifyPublic, "verify-public", false, "with --apply: ask anonymously for every fixed object that was public, to prove it is no longer served")
	fl.BoolVar(&f.bucketACL, "bucket-acl", false, "also reset a bucket ACL that grants access outside the owner to the owner alone (saved and undone the same way)")
	fl.Float64Var(&f.putsPerSecond, "max-puts-per-second", f.putsPerSecond, "bound on ACL writes per second (S3 allows 3,500 PUT/s per prefix)")
	fl.IntVar(&f.workers, "workers", f.workers, "ACLs changed at once")
	fl.StringVar(&f.set.BucketOwner, "bucket-owner", "", "bucket owner's canonical ID, used when GetBucketAcl is denied")
	fl.BoolVar(&f.set.AllVersions, "all-versions", false, "fix every version of every object (PutObjectAcl with the version ID)")
	fl.IntVarP(&f.set.Concurrency, "concurrency", "c", f.set.Concurrency, "requests in flight while scanning for the plan")
	fl.BoolVar(&f.noProgress, "no-progress", false, "do not show progress on a terminal")
	fl.StringVar(&f.acceptFile, "accept", "", "accepted exposures: findings these rules accept are left as they are (default: "+accept.DefaultFile+" in the working directory, when there is one)")
	fl.BoolVar(&f.noAccept, "no-accept", false, "ignore "+accept.DefaultFile+": fix every finding of --findings")
	return cmd
}

func newUndoCommand(sh *shell) *cobra.Command {
	f := fixFlags{scanFlags: scanFlags{set: settings.Defaults()}, putsPerSecond: 3500, workers: 16}
	cmd := &cobra.Command{
		Use:   "undo UNDO-LOG s3://BUCKET... | --all-buckets-in-log",
		Short: "Put back the ACLs an aclscan fix changed, from its undo log (a plan unless --apply)",
		Long: `aclscan undo reads the undo log of aclscan fix --apply and puts back every ACL it saved, in the buckets
named (or every bucket the log names, with --all-buckets-in-log). By default it only says what it would
restore, and warns when that gives back public or cross-account access; --apply restores. An ACL that
changed since the fix is skipped (--force restores it anyway).`,
		Example: `  aclscan undo undo.jsonl s3://my-bucket            # what would be restored, nothing changed
  aclscan undo undo.jsonl s3://my-bucket --apply
  aclscan undo undo.jsonl --all-buckets-in-log --apply --force   # also ACLs changed since the fix`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return usageErrorf("undo takes the UNDO-LOG (the --undo-log of aclscan fix --apply) and the s3://BUCKET names to restore")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return sh.runUndo(cmd.Context(), args[0], args[1:], &f) },
	}
	fl := cmd.Flags()
	addConnectionFlags(fl, &f.scanFlags)
	fl.BoolVar(&f.apply, "apply", false, "restore the ACLs (without it, undo only says what it would restore)")
	fl.BoolVar(&f.allBucketsInLog, "all-buckets-in-log", false, "act on every bucket the log names, not only those named on the command line")
	fl.BoolVar(&f.force, "force", false, "also restore ACLs that changed since the fix")
	fl.Float64Var(&f.putsPerSecond, "max-puts-per-second", f.putsPerSecond, "bound on ACL writes per second")
	fl.IntVar(&f.workers, "workers", f.workers, "ACLs restored at once")
	return cmd
}

// mode parses --findings and --canned.
func (f *fixFlags) mode() (fix.Mode, error) {
	set, err := parseFailOn("--findings", f.findings)
	if err != nil {
		return fix.Mode{}, err
	}
	m, err := fix.ParseMode(set.Kinds(), f.canned)
	if err != nil {
		return m, usageErrorf("--findings/--canned: %v", err)
	}
	if m.Kinds == 0 {
		return m, usageErrorf("--findings names no kind to close")
	}
	return m, nil
}

func (sh *shell) runFix(ctx context.Context, target string, f *fixFlags) error {
	mode, err := f.mode()
	if err != nil {
		return err
	}
	switch {
	case f.apply && f.undoLog == "":
		return usageErrorf("--apply needs --undo-log FILE: every ACL is saved there before it is changed")
	case !f.apply && (f.undoLog != "" || f.force || f.verifyPublic):
		return usageErrorf("--undo-log, --force and --verify-public act when applying: add --apply (without it, fix only plans)")
	case f.workers < 1 || f.putsPerSecond <= 0:
		return usageErrorf("--workers and --max-puts-per-second must be positive")
	}
	var journal *fix.Journal
	if f.apply {
		if journal, err = fix.OpenJournal(f.undoLog); err != nil {
			return usageErrorf("--undo-log: %v", err)
		}
		defer journal.Close()
	}
	var planFile *os.File
	if f.planPath != "" {
		if planFile, err = os.OpenFile(f.planPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return usageErrorf("cannot write --plan to %s: %v", f.planPath, errors.Unwrap(err))
		}
		defer planFile.Close()
	}
	f.set.Target = target
	if target == "" {
		f.set.Bucket = "placeholder" // the report names the buckets
	}
	cfg, opts, err := f.set.Build()
	if err != nil {
		return explainSetupError(err)
	}
	if cfg.Accept, err = f.loadAccepted(time.Now()); err != nil {
		return err
	}
	sh.announceAccepted(cfg.Accept)
	opts.Connections = max(opts.Connections, f.workers)
	client, err := sh.newClient(ctx, opts)
	if err != nil {
		return err
	}
	p := fix.NewPlanner(client, fix.PlannerOptions{Mode: mode, BucketOwner: f.set.BucketOwner, Journal: journal, Accept: cfg.Accept})
	if target != "" {
		err = p.FromScan(ctx, cfg)
	} else {
		err = planFromReport(ctx, p, f.fromReport)
	}
	if err != nil {
		return planError(err)
	}
	if f.bucketACL {
		p.AddBucketACLs()
	}
	if journal != nil {
		inScope := p.Reported
		if target != "" {
			inScope = func(rec *fix.Record) bool {
				if rec.Key == "" {
					return f.bucketACL && rec.Bucket == cfg.Bucket
				}
				return rec.Bucket == cfg.Bucket && strings.HasPrefix(rec.Key, cfg.Prefix) && (rec.VersionID == "" || cfg.AllVersions)
			}
		}
		if err := p.AddUnsettled(ctx, journal, inScope); err != nil {
			return planError(err)
		}
	}
	entries := p.Entries()
	printPlan(sh.stdout, entries, p.Notes(), f)
	if planFile != nil {
		err := p.WritePlan(planFile)
		if err == nil {
			err = planFile.Sync()
		}
		if err != nil {
			return &exitError{code: exitIncomplete, msg: fmt.Sprintf("write --plan %s: %v", f.planPath, err)}
		}
	}
	if !f.apply {
		if len(entries) > 0 {
			fmt.Fprintln(sh.stdout, "Nothing changed: this is the plan. Add --apply --undo-log FILE to make the changes.")
		}
		return nil
	}
	return sh.applyPlan(ctx, client, journal, entries, f)
}

// planFromReport plans from the --from-report file.
func planFromReport(ctx context.Context, p *fix.Planner, path string) error {
	file, err := os.Open(path)
	if err != nil {
		return usageErrorf("--from-report: %v", err)
	}
	defer file.Close()
	err = p.FromReport(ctx, file)
	var se *scan.Error
	if err != nil && !errors.As(err, &se) {
		return usageErrorf("--from-report %s: %v", path, err)
	}
	return err
}

// planError says why no plan was made, in the command line's words:
// S3 failed (exit 1) or the undo log refused it (exit 2); nothing changed.
func planError(err error) error {
	var se *scan.Error
	var refused *fix.RefusedError
	var exit *exitError
	switch {
	case errors.As(err, &exit):
		return err
	case errors.As(err, &refused):
		return usageErrorf("%s", refused.Msg)
	case errors.As(err, &se):
		msg := se.Explain(flagSpelling)
		if strings.HasPrefix(err.Error(), "scan for the plan: ") {
			msg = "scan for the plan: " + msg + "; nothing changed"
		}
		return &exitError{code: exitIncomplete, msg: msg}
	}
	return &exitError{code: exitIncomplete, msg: err.Error() + "; nothing changed"}
}

// applyPlan applies the entries and reports each outcome.
func (sh *shell) applyPlan(ctx context.Context, client *s3access.Client, journal *fix.Journal, entries []fix.Entry, f *fixFlags) error {
	counts := fix.Counts{}
	var mu sync.Mutex
	var stillServed, verified, earlier, raced int64
	lines := 0
	// The plan is the total: the progress line counts against it.
	progress := new(scan.Progress)
	progress.Listed.Store(int64(len(entries)))
	progress.ListingDone.Store(true)
	var bar *progressBar
	if !f.noProgress && isTerminal(sh.stderr) {
		bar = startProgressBar(sh.stderr, progress, client)
	}
	err := fix.Apply(ctx, client, journal, entries, fix.Options{Workers: f.workers, PutsPerSecond: f.putsPerSecond, Force: f.force, VerifyPublic: f.verifyPublic}, func(res fix.Result) {
		mu.Lock()
		defer mu.Unlock()
		progress.Checked.Add(1)
		if res.Outcome == fix.Failed {
			progress.Errors.Add(1)
		}
		counts[res.Outcome]++
		if res.Earlier {
			earlier++
		}
		if res.Verified {
			verified++
			if res.StillServed {
				stillServed++
				fmt.Fprintf(sh.stderr, "aclscan: %s: still served to anyone after the fix (a bucket policy or another grant allows it)\n", res.Entry.Printable())
			}
		}
		if res.Raced {
			raced++
		}
		if (res.Outcome != fix.Changed || res.Raced) && lines < planLines*5 {
			lines++
			fmt.Fprintf(sh.stderr, "aclscan: %s: %s: %s\n", res.Entry.Printable(), res.Outcome, terminalSafe(res.Reason))
		}
	})
	bar.stop()
	if cerr := journal.Close(); cerr != nil && err == nil {
		err = cerr
	}
	fmt.Fprintf(sh.stdout, "Applied: %s", counts)
	if earlier > 0 {
		fmt.Fprintf(sh.stdout, " (%d of them by an earlier run of this undo log)", earlier)
	}
	if verified > 0 {
		fmt.Fprintf(sh.stdout, "; %d of %d fixed public objects still served to anyone", stillServed, verified)
	}
	fmt.Fprintf(sh.stdout, "; every ACL changed is in %s (aclscan undo %s puts them back)\n", f.undoLog, f.undoLog)
	switch {
	case errors.Is(err, context.Canceled):
		return &exitError{code: exitIncomplete, msg: fmt.Sprintf("interrupted; run the same command again to continue (%s knows what was done)", f.undoLog)}
	case err != nil:
		return &exitError{code: exitIncomplete, msg: err.Error()}
	case counts[fix.Failed] > 0 || stillServed > 0:
		return &exitError{code: exitIncomplete, msg: fmt.Sprintf("%d ACLs could not be changed, %d fixed objects still served (see above)", counts[fix.Failed], stillServed)}
	case raced > 0:
		return &exitError{code: exitIncomplete, msg: fmt.Sprintf("%d ACLs changed again right after the fix wrote them (another writer? see above): run the fix again", raced)}
	}
	return nil
}

func (sh *shell) runUndo(ctx context.Context, path string, buckets []string, f *fixFlags) error {
	named := map[string]bool{}
	for _, arg := range buckets {
		bucket, ok := strings.CutPrefix(arg, "s3://")
		bucket = strings.TrimSuffix(bucket, "/")
		if !ok || bucket == "" || strings.Contains(bucket, "/") {
			return usageErrorf("undo: %q is not s3://BUCKET (undo restores whole buckets' lines of the log)", arg)
		}
		named[bucket] = true
	}
	if len(named) == 0 && !f.allBucketsInLog {
		return usageErrorf("undo: name the buckets to restore (aclscan undo %s s3://BUCKET ...), or --all-buckets-in-log to restore every bucket the log names", path)
	}
	if _, err := os.Stat(path); err != nil {
		return usageErrorf("undo: %v", err)
	}
	journal, err := fix.OpenJournal(path)
	if err != nil {
		return usageErrorf("undo: %v", err)
	}
	defer journal.Close()
	if !f.allBucketsInLog {
		for _, rec := range journal.Befores() {
			if !named[rec.Bucket] {
				e := fix.Entry{Bucket: rec.Bucket, Key: rec.Key, VersionID: rec.VersionID}
				return usageErrorf("undo: %s line %d restores %s, in a bucket not named on the command line: name s3://%s too, or --all-buckets-in-log; nothing changed",
					path, rec.Line, e.Printable(), rec.Bucket)
			}
		}
	}
	opts, err := f.set.ClientOptions()
	if err != nil {
		return explainSetupError(err)
	}
	opts.Connections = max(opts.Connections, f.workers)
	client, err := sh.newClient(ctx, opts)
	if err != nil {
		return err
	}
	counts := fix.Counts{}
	var mu sync.Mutex
	var reopening, raced, lines int
	reopened := map[string]int{}
	err = fix.Undo(ctx, client, journal, fix.Options{Workers: f.workers, PutsPerSecond: f.putsPerSecond, Force: f.force, Apply: f.apply}, nil, func(res fix.Result) {
		mu.Lock()
		defer mu.Unlock()
		counts[res.Outcome]++
		if res.Reopens != 0 {
			reopening++
			for _, k := range res.Reopens.Kinds() {
				reopened[k.String()]++
			}
		}
		if res.Raced {
			raced++
		}
		switch {
		case res.Outcome == fix.Skipped || res.Outcome == fix.Failed || res.Raced:
			fmt.Fprintf(sh.stderr, "aclscan: %s: %s: %s\n", res.Entry.Printable(), res.Outcome, terminalSafe(res.Reason))
		case res.Outcome == fix.WouldRestore && lines < planLines:
			lines++
			back := "its grants back: " + grantList(res.Entry.Before)
			if res.Reopens != 0 {
				back += " (RE-OPENS " + strings.Join(res.Reopens.Names(), ", ") + " access)"
			}
			fmt.Fprintf(sh.stdout, "  would restore %s: %s\n", res.Entry.Printable(), back)
		}
	})
	if reopening > 0 {
		var kinds []string
		for _, k := range []string{"public", "authenticated", "cross-account"} {
			if reopened[k] > 0 {
				kinds = append(kinds, fmt.Sprintf("%s %d", k, reopened[k]))
			}
		}
		verb := "would re-open"
		if f.apply {
			verb = "re-opened"
		}
		fmt.Fprintf(sh.stderr, "aclscan: WARNING: undo %s access the fix had closed, on %d ACLs (%s)\n", verb, reopening, strings.Join(kinds, ", "))
	}
	if !f.apply {
		fmt.Fprintf(sh.stdout, "Undo plan: %d ACLs would be restored, %d already as they were, %d skipped, %d failed to read. Nothing changed: add --apply to restore them.\n",
			counts[fix.WouldRestore], counts[fix.AlreadyRestored], counts[fix.Skipped], counts[fix.Failed])
	} else {
		fmt.Fprintf(sh.stdout, "Undo: %d restored, %d already as they were, %d skipped, %d failed\n", counts[fix.Restored], counts[fix.AlreadyRestored], counts[fix.Skipped], counts[fix.Failed])
	}
	switch {
	case err != nil:
		return &exitError{code: exitIncomplete, msg: "undo stopped: " + err.Error() + "; run it again to continue"}
	case counts[fix.Skipped]+counts[fix.Failed] > 0:
		return &exitError{code: exitIncomplete, msg: fmt.Sprintf("%d ACLs were not restored (see above)", counts[fix.Skipped]+counts[fix.Failed])}
	case raced > 0:
		return &exitError{code: exitIncomplete, msg: fmt.Sprintf("%d ACLs changed again right after they were restored (see above)", raced)}
	}
	return nil
}

// printPlan writes the plan's summary, its first lines and its notes.
func printPlan(w io.Writer, entries []fix.Entry, notes []string, f *fixFlags) {
	kinds := map[string]int{}
	grants := 0
	for i := range entries {
		for _, k := range entries[i].Findings {
			kinds[k]++
		}
		grants += len(entries[i].Removed)
	}
	how := "remove the grants of " + f.findings
	if f.canned != "" {
		how = "write the canned ACL " + f.canned + " where " + f.findings + " is found"
	}
	fmt.Fprintf(w, "Plan (%s): %d ACLs", how, len(entries))
	if len(entries) > 0 {
		var parts []string
		for _, k := range []string{"public", "authenticated", "cross-account"} {
			if kinds[k] > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", k, kinds[k]))
			}
		}
		fmt.Fprintf(w, " (%s), %d grants removed", strings.Join(parts, ", "), grants)
	}
	fmt.Fprintln(w)
	for i := range entries {
		if i == planLines {
			fmt.Fprintf(w, "  ... and %d more (--plan FILE has them all)\n", len(entries)-planLines)
			break
		}
		e := &entries[i]
		fmt.Fprintf(w, "  %s: remove %s\n", e.Printable(), grantList(e.Removed))
	}
	for _, n := range notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

func grantList(grants []acl.Grant) string {
	if len(grants) == 0 {
		return "nothing (the ACL is rewritten as it is)"
	}
	return acl.Describe(grants, "")
}
