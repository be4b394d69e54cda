package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/fix"
	"github.com/aclscan/aclscan/internal/settings"
	"github.com/aclscan/aclscan/report"
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
	opts.Connections = max(opts.Connections, f.workers)
	client, err := sh.newClient(ctx, opts)
	if err != nil {
		return err
	}
	p := &planner{client: client, mode: mode, contexts: map[string]*acl.BucketContext{}, bucketOwner: f.set.BucketOwner,
		pending: map[string]*fix.Record{}, reported: map[string]bool{}}
	if journal != nil {
		for _, rec := range journal.Befores() {
			if _, done := journal.Earlier(fix.RecordID(rec)); done == nil {
				p.pending[fix.RecordID(rec)] = rec
			}
		}
	}
	if target != "" {
		err = p.fromScan(ctx, cfg)
	} else {
		err = p.fromReport(ctx, f.fromReport)
	}
	if err != nil {
		return err
	}
	if f.bucketACL {
		p.addBucketACLs()
	}
	if journal != nil {
		inScope := func(rec *fix.Record) bool { return p.reported[fix.RecordID(rec)] }
		if target != "" {
			inScope = func(rec *fix.Record) bool {
				if rec.Key == "" {
					return f.bucketACL && rec.Bucket == cfg.Bucket
				}
				return rec.Bucket == cfg.Bucket && strings.HasPrefix(rec.Key, cfg.Prefix) && (rec.VersionID == "" || cfg.AllVersions)
			}
		}
		if err := p.addUnsettled(ctx, journal, inScope); err != nil {
			return err
		}
	}
	// Results arrive in completion order; the plan reads in key order.
	sort.Slice(p.entries, func(i, j int) bool { return p.entries[i].ID() < p.entries[j].ID() })
	p.print(sh.stdout, f)
	if planFile != nil {
		if err := p.write(planFile); err != nil {
			return &exitError{code: exitIncomplete, msg: fmt.Sprintf("write --plan %s: %v", f.planPath, err)}
		}
	}
	if !f.apply {
		if len(p.entries) > 0 {
			fmt.Fprintln(sh.stdout, "Nothing changed: this is the plan. Add --apply --undo-log FILE to make the changes.")
		}
		return nil
	}
	return sh.applyPlan(ctx, client, journal, p.entries, f)
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
				fmt.Fprintf(sh.stderr, "aclscan: %s: still served to anyone after the fix (a bucket policy or another grant allows it)\n", printableURL(res.Entry))
			}
		}
		if res.Raced {
			raced++
		}
		if (res.Outcome != fix.Changed || res.Raced) && lines < planLines*5 {
			lines++
			fmt.Fprintf(sh.stderr, "aclscan: %s: %s: %s\n", printableURL(res.Entry), res.Outcome, terminalSafe(res.Reason))
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
					path, rec.Line, printableURL(&e), rec.Bucket)
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
			fmt.Fprintf(sh.stderr, "aclscan: %s: %s: %s\n", printableURL(res.Entry), res.Outcome, terminalSafe(res.Reason))
		case res.Outcome == fix.WouldRestore && lines < planLines:
			lines++
			back := "its grants back: " + grantList(res.Entry.Before)
			if res.Reopens != 0 {
				back += " (RE-OPENS " + strings.Join(res.Reopens.Names(), ", ") + " access)"
			}
			fmt.Fprintf(sh.stdout, "  would restore %s: %s\n", printableURL(res.Entry), back)
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

// printableURL names an entry; a key with control characters is quoted,
// so it cannot rewrite the terminal.
func printableURL(e *fix.Entry) string {
	if e.Key == "" {
		return "the ACL of bucket s3://" + e.Bucket
	}
	w := e.Where()
	for _, r := range w {
		if !unicode.IsPrint(r) {
			return strconv.Quote(w)
		}
	}
	return w
}

// planner makes the plan: from a live scan or a report, with each
// bucket's context (its owner decides what is cross-account).
type planner struct {
	client      *s3access.Client
	mode        fix.Mode
	bucketOwner string
	contexts    map[string]*acl.BucketContext
	entries     []fix.Entry
	notes       []string
	// policyKept counts, per bucket and statement, the objects the bucket
	// policy keeps exposed in the kinds fixed: fix rewrites ACLs only.
	policyKept map[string]map[string]int
	// pending are the undo log's changes an earlier run logged but did
	// not account for, by ACL; reported marks those a --from-report
	// report names (inside this run's targets).
	pending  map[string]*fix.Record
	reported map[string]bool
}

// keptByPolicy notes the objects that stay exposed after the plan because
// a bucket policy statement, not their ACL, opens them.
func (p *planner) keptByPolicy(bucket string, sources []acl.Source) {
	for _, s := range sources {
		k, ok := acl.ParseKind(s.Finding)
		if !ok || !s.Effective || s.Door != acl.DoorBucketPolicy || !p.mode.Kinds.Has(k) {
			continue
		}
		if p.policyKept == nil {
			p.policyKept = map[string]map[string]int{}
		}
		if p.policyKept[bucket] == nil {
			p.policyKept[bucket] = map[string]int{}
		}
		p.policyKept[bucket][s.Finding+" by statement "+s.Ref]++
	}
}

// policyNotes say what the plan leaves exposed through bucket policies.
func (p *planner) policyNotes() []string {
	var notes []string
	for _, bucket := range slices.Sorted(maps.Keys(p.policyKept)) {
		for _, what := range slices.Sorted(maps.Keys(p.policyKept[bucket])) {
			notes = append(notes, fmt.Sprintf("s3://%s: %d objects stay %s of the bucket policy after this fix: fix rewrites ACLs, not policies; change the statement to close them",
				bucket, p.policyKept[bucket][what], what))
		}
	}
	return notes
}

func (p *planner) context(ctx context.Context, bucket string) (*acl.BucketContext, error) {
	if c := p.contexts[bucket]; c != nil {
		return c, nil
	}
	bc, err := p.client.BucketContext(ctx, bucket)
	if err != nil {
		se := &scan.Error{Op: fmt.Sprintf("read the ACL of bucket %q", bucket), Err: err}
		return nil, &exitError{code: exitIncomplete, msg: se.Explain(flagSpelling)}
	}
	if bc.Owner == "" {
		bc.Owner = p.bucketOwner
	}
	if bc.ACLReadsEffective && bc.IgnoresPublicACLs() {
		p.notes = append(p.notes, fmt.Sprintf("s3://%s: IgnorePublicAcls is on and this is AWS: GetObjectAcl leaves out the public grants S3 ignores, so an ACL written back from it deletes them too, and the undo log cannot hold them", bucket))
	}
	if bc.ACLsDisabled() {
		p.notes = append(p.notes, fmt.Sprintf("s3://%s: ACLs are disabled (BucketOwnerEnforced): S3 refuses ACL changes (AccessControlListNotSupported); the dormant ACLs can only be fixed after re-enabling ACLs", bucket))
	}
	p.contexts[bucket] = &bc
	return &bc, nil
}

func (p *planner) add(bucket string, bc *acl.BucketContext, key, versionID, owner string, grants []acl.Grant) {
	e, ok := fix.Plan(bc.Owner, owner, grants, p.mode)
	if !ok {
		return
	}
	e.Bucket, e.Key, e.VersionID = bucket, key, versionID
	p.entries = append(p.entries, e)
}

// fromScan scans the target live and plans every ACL with findings.
func (p *planner) fromScan(ctx context.Context, cfg scan.Config) error {
	bc, err := p.context(ctx, cfg.Bucket)
	if err != nil {
		return err
	}
	cfg.Context = bc
	// The sink is called from one goroutine (the engine's contract).
	sum, err := scan.Run(ctx, p.client, cfg, scan.SinkFunc(func(r *scan.Result) error {
		if r.Status == scan.StatusOK && r.Findings&p.mode.Kinds != 0 {
			p.add(r.Bucket, bc, r.Key, r.VersionID, r.OwnerID, r.Grants)
		}
		if r.Effective&p.mode.Kinds != 0 {
			p.keptByPolicy(r.Bucket, report.ResultSources(r))
		}
		return nil
	}), nil)
	if err != nil {
		var se *scan.Error
		msg := err.Error()
		if errors.As(err, &se) {
			msg = se.Explain(flagSpelling)
		}
		return &exitError{code: exitIncomplete, msg: "scan for the plan: " + msg + "; nothing changed"}
	}
	if n := sum.Count(scan.StatusDenied); n > 0 {
		p.notes = append(p.notes, fmt.Sprintf("%d objects' ACLs could not be read (owned by other accounts?): they are not in the plan", n))
	}
	return nil
}

// fromReport plans from a JSONL report's records.
func (p *planner) fromReport(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return usageErrorf("--from-report: %v", err)
	}
	defer f.Close()
	err = report.ReadJSONL(f, func(rec report.Record) error {
		p.keptByPolicy(rec.Bucket, rec.Sources)
		if len(p.pending) > 0 {
			version := ""
			if rec.VersionID != nil {
				version = *rec.VersionID
			}
			if id := rec.Bucket + "\x00" + rec.Key + "\x00" + version; p.pending[id] != nil {
				p.reported[id] = true
			}
		}
		if rec.Status != "ok" || len(rec.Findings) == 0 {
			return nil
		}
		bc, err := p.context(ctx, rec.Bucket)
		if err != nil {
			return err
		}
		version := ""
		if rec.VersionID != nil {
			version = *rec.VersionID
		}
		p.add(rec.Bucket, bc, rec.Key, version, rec.OwnerID, rec.Grants)
		return nil
	})
	var exit *exitError
	if errors.As(err, &exit) {
		return err
	}
	if err != nil {
		return usageErrorf("--from-report %s: %v", path, err)
	}
	return nil
}

// addBucketACLs plans a reset, to the owner alone, of every bucket ACL
// that grants anyone else: what keeps a bucket from disabling ACLs.
func (p *planner) addBucketACLs() {
	buckets := make([]string, 0, len(p.contexts))
	for b := range p.contexts {
		buckets = append(buckets, b)
	}
	sort.Strings(buckets)
	for _, b := range buckets {
		bc := p.contexts[b]
		if !bc.ACL.Known || bc.Owner == "" {
			p.notes = append(p.notes, fmt.Sprintf("s3://%s: the bucket ACL or its owner is unknown (%s): not in the plan", b, bc.ACL.Problem))
			continue
		}
		owner := acl.Grant{Type: acl.TypeCanonicalUser, ID: bc.Owner, Permission: "FULL_CONTROL"}
		e := fix.Entry{Bucket: b, Owner: bc.Owner, BucketOwner: bc.Owner, Canned: fix.CannedPrivate, Before: bc.ACL.Value, After: []acl.Grant{owner}}
		for _, g := range bc.ACL.Value {
			if g != owner {
				e.Removed = append(e.Removed, g)
				if g.Type == acl.TypeGroup && strings.HasSuffix(g.URI, "/LogDelivery") {
					p.notes = append(p.notes, fmt.Sprintf("s3://%s: the bucket ACL's LogDelivery grant goes too: grant logging.s3.amazonaws.com in the bucket policy first, or server access logs stop", b))
				}
			}
		}
		if len(e.Removed) > 0 {
			e.Findings = acl.Classify(bc.Owner, bc.Owner, e.Removed).Names()
			p.entries = append(p.entries, e)
		}
	}
}

// addUnsettled adds the ACLs an earlier run logged but did not account
// for (it stopped between the two): they are settled whether or not a
// new scan still finds them. Each must lie inside this run's targets and
// only remove grants from the ACL it saved (but the owners' FULL_CONTROL,
// with the bucket owner read now, not taken from the log): anything else
// is refused, naming the log line, before anything changes.
func (p *planner) addUnsettled(ctx context.Context, j *fix.Journal, inScope func(*fix.Record) bool) error {
	planned := map[string]bool{}
	for i := range p.entries {
		planned[p.entries[i].ID()] = true
	}
	for _, rec := range j.Befores() {
		id := fix.RecordID(rec)
		if p.pending[id] == nil {
			continue
		}
		e := fix.Entry{Bucket: rec.Bucket, Key: rec.Key, VersionID: rec.VersionID, Owner: rec.Owner, Before: rec.Grants, After: rec.After}
		if !inScope(rec) {
			return usageErrorf("undo log %s line %d: a pending change of %s is outside this run's targets: run the fix of its own target with this log to settle it, or use another undo log; nothing changed",
				j.Path(), rec.Line, printableURL(&e))
		}
		bc, err := p.context(ctx, rec.Bucket)
		if err != nil {
			return err
		}
		if err := fix.CheckAfter(rec.Owner, bc.Owner, rec.Grants, rec.After); err != nil {
			return usageErrorf("undo log %s line %d: its change of %s is refused: %v (was the log edited?); nothing changed",
				j.Path(), rec.Line, printableURL(&e), err)
		}
		e.BucketOwner = bc.Owner
		if !planned[id] {
			p.entries = append(p.entries, e)
		}
	}
	return nil
}

// print writes the plan's summary and its first lines.
func (p *planner) print(w io.Writer, f *fixFlags) {
	kinds := map[string]int{}
	grants := 0
	for i := range p.entries {
		for _, k := range p.entries[i].Findings {
			kinds[k]++
		}
		grants += len(p.entries[i].Removed)
	}
	how := "remove the grants of " + f.findings
	if f.canned != "" {
		how = "write the canned ACL " + f.canned + " where " + f.findings + " is found"
	}
	fmt.Fprintf(w, "Plan (%s): %d ACLs", how, len(p.entries))
	if len(p.entries) > 0 {
		var parts []string
		for _, k := range []string{"public", "authenticated", "cross-account"} {
			if kinds[k] > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", k, kinds[k]))
			}
		}
		fmt.Fprintf(w, " (%s), %d grants removed", strings.Join(parts, ", "), grants)
	}
	fmt.Fprintln(w)
	for i := range p.entries {
		if i == planLines {
			fmt.Fprintf(w, "  ... and %d more (--plan FILE has them all)\n", len(p.entries)-planLines)
			break
		}
		e := &p.entries[i]
		fmt.Fprintf(w, "  %s: remove %s\n", printableURL(e), grantList(e.Removed))
	}
	for _, n := range append(p.notes, p.policyNotes()...) {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

func grantList(grants []acl.Grant) string {
	if len(grants) == 0 {
		return "nothing (the ACL is rewritten as it is)"
	}
	return acl.Describe(grants, "")
}

// write writes the plan as JSON lines.
func (p *planner) write(f *os.File) error {
	enc := json.NewEncoder(f)
	enc.SetEscapeHTML(false)
	for i := range p.entries {
		if err := enc.Encode(&p.entries[i]); err != nil {
			return err
		}
	}
	return f.Sync()
}
