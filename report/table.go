package report

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/readiness"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
)

// DefaultTableRows is how many risky objects the table lists.
const DefaultTableRows = 20

// tableWriter keeps the first risky results (bounded) and prints them with
// the summary at the end: the table is for people; JSONL is for everything.
type tableWriter struct {
	w     io.Writer
	risky Risky
	spell s3access.Spelling
}

func newTable(w io.Writer, limit int, spell s3access.Spelling) *tableWriter {
	if limit <= 0 {
		limit = DefaultTableRows
	}
	return &tableWriter{w: w, risky: Risky{Limit: limit}, spell: spelling(spell)}
}

func (t *tableWriter) Write(r *scan.Result) error {
	t.risky.Add(r)
	return nil
}

func (t *tableWriter) Close(sum *scan.Summary) error {
	out := bufio.NewWriter(t.w)
	rows := t.risky.Records
	if len(rows) > 0 {
		// Results arrive in completion order; people read what grants
		// access now first, then keys in order.
		sort.SliceStable(rows, func(i, j int) bool {
			ei, ej := len(rows[i].Effective) > 0, len(rows[j].Effective) > 0
			if ei != ej {
				return ei
			}
			return rows[i].Key < rows[j].Key
		})
		fmt.Fprintf(out, "Risky objects (%d of %d):\n", len(rows), t.risky.Total)
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STATUS\tFINDINGS\tVIA\tOWNER\tGRANTS\tKEY")
		for i := range rows {
			rec := &rows[i]
			key := printable(rec.Key)
			if sum != nil && sum.Buckets != nil {
				key = printable("s3://" + rec.Bucket + "/" + rec.Key) // several buckets: say which
			}
			if rec.VersionID != nil {
				key += " (version " + printable(*rec.VersionID) + ")"
			}
			status := rec.Status
			if rec.Error != nil {
				status += ": " + printable(*rec.Error)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", status, findingsCell(rec), printable(viaCell(rec)),
				printable(rec.OwnerID), printable(acl.Describe(rec.Grants, "")), key)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if n := t.risky.Omitted(); n > 0 {
			fmt.Fprintf(out, "... and %d more (use %s or csv with %s for every object)\n", n, t.spell(SettingFormat, "jsonl"), t.spell(SettingOutput, "FILE"))
		}
		fmt.Fprintln(out)
	} else if sum != nil && sum.Objects > 0 {
		fmt.Fprintln(out, "No risky objects.")
		fmt.Fprintln(out)
	}
	if sum != nil {
		WriteSummary(out, sum, t.spell)
	}
	return out.Flush()
}

// findingsCell lists the effective findings, then the latent ones
// marked so, and whether an anonymous request was served.
func findingsCell(rec *Record) string {
	var parts []string
	for _, f := range rec.Effective {
		if slices.Contains(rec.Accepted, f) {
			f += "(accepted)"
		} else if slices.Contains(rec.NewFindings, f) {
			f += "(new)"
		}
		parts = append(parts, f)
	}
	for _, f := range rec.Findings {
		if !slices.Contains(rec.Effective, f) {
			parts = append(parts, f+"(latent)")
		}
	}
	cell := strings.Join(parts, ",")
	if rec.VerifiedPublic != nil {
		if *rec.VerifiedPublic {
			cell += " [served to anyone]"
		} else {
			cell += " [refused to anyone]"
		}
	}
	return cell
}

// viaCell names the doors that grant access now (the ACL or the policy
// statement), and the conditions that limit them.
func viaCell(rec *Record) string {
	var parts []string
	for _, s := range rec.Sources {
		if !s.Effective {
			continue
		}
		part := s.Door
		if s.Door == acl.DoorBucketPolicy {
			part = "policy"
		}
		if s.Door != acl.DoorACL && s.Ref != "" {
			part += ":" + s.Ref
		}
		if s.Condition != "" {
			part += " if " + s.Condition
		}
		if s.Finding == acl.PolicyUnjudged.String() && s.Note != "" {
			part += " (" + s.Note + ")"
		}
		if !slices.Contains(parts, part) {
			parts = append(parts, part)
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// printable quotes text holding control or other non-printing characters,
// so a hostile key cannot move the cursor or rewrite a terminal.
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) || r == '\t' {
			return strconv.Quote(s)
		}
	}
	return s
}

// WriteSummary writes the human summary of a scan; a run over many
// buckets ends with one line per bucket. Settings are named as spell
// says (nil: plain words).
func WriteSummary(w io.Writer, sum *scan.Summary, spell s3access.Spelling) {
	spell = spelling(spell)
	if sum.Buckets != nil {
		writeTotal(w, sum, spell)
		return
	}
	target := "s3://" + sum.Bucket + "/" + sum.Prefix
	state := "Scanned"
	if !sum.Complete {
		state = "INCOMPLETE scan of"
	}
	if sum.Source == "inventory" {
		state = "Judged the inventory report (taken " + sum.ReportDate + ") of"
		if !sum.Complete {
			state = "INCOMPLETE run over the inventory report (taken " + sum.ReportDate + ") of"
		}
	}
	if sum.NotScanned {
		// Not "0 objects": the bucket's objects were not listed at all.
		fmt.Fprintf(w, "%s %s in %s: ACLs are disabled (BucketOwnerEnforced), so no object was listed or fetched", state, printable(target), roundDuration(sum.Duration))
	} else {
		fmt.Fprintf(w, "%s %s in %s: %d objects", state, printable(target), roundDuration(sum.Duration), sum.Objects)
	}
	if sum.DeleteMarkers > 0 {
		fmt.Fprintf(w, " (+%d delete markers, no ACL)", sum.DeleteMarkers)
	}
	fmt.Fprintf(w, ", %d requests (%.0f req/s)", sum.Requests, sum.RequestsPerSecond())
	if sum.Retries > 0 || sum.Throttles > 0 {
		fmt.Fprintf(w, ", %d retries (%d throttled)", sum.Retries, sum.Throttles)
	}
	if sum.Resumed {
		fmt.Fprint(w, ", resumed from a checkpoint (counts include earlier runs; time and requests are this run's)")
	}
	if sum.Duration > 0 {
		fmt.Fprintf(w, ", %.0f objects/s", float64(sum.Objects)/sum.Duration.Seconds())
	}
	fmt.Fprintf(w, ", strategy %s", sum.Strategy)
	if sum.Strategy == scan.Pool {
		fmt.Fprintf(w, " x%d", sum.Concurrency)
	}
	fmt.Fprintln(w)

	writeStatuses(w, sum)
	writeFindings(w, sum)
	if sum.BucketOwner != "" {
		fmt.Fprintf(w, "  bucket owner: %s (%s)\n", printable(sum.BucketOwner), sum.OwnerSource)
	} else if sum.OwnerProblem != "" {
		fmt.Fprintf(w, "  bucket owner unknown: %s\n", sum.OwnerProblem)
	}
	fmt.Fprintf(w, "  settings: %s\n", describeContext(sum))
	if sum.Served+sum.NotServed > 0 {
		fmt.Fprintf(w, "  verified: %d of %d effectively public objects served to an anonymous request\n", sum.Served, sum.Served+sum.NotServed+sum.VerifyFailed)
	}
	if r := readiness.Judge(sum, spell); r.Verdict != "" {
		fmt.Fprintf(w, "  ready to disable ACLs: %s", r.Verdict)
		if r.Verdict != readiness.Ready && len(r.Reasons) > 0 {
			fmt.Fprintf(w, ": %s", strings.Join(r.Reasons, "; "))
		}
		fmt.Fprintln(w)
	}
	for _, note := range sum.Notes(spell) {
		fmt.Fprintf(w, "  note: %s\n", note)
	}
	writeAcceptRules(w, sum)
	writeBaseline(w, sum)
}

// writeTotal is the summary of a run over many buckets.
func writeTotal(w io.Writer, sum *scan.Summary, spell s3access.Spelling) {
	state := "Scanned"
	if !sum.Complete {
		state = "INCOMPLETE scan of"
	}
	fmt.Fprintf(w, "%s %d buckets in %s: %d objects", state, len(sum.Buckets), roundDuration(sum.Duration), sum.Objects)
	if sum.DeleteMarkers > 0 {
		fmt.Fprintf(w, " (+%d delete markers, no ACL)", sum.DeleteMarkers)
	}
	fmt.Fprintf(w, ", %d requests (%.0f req/s)\n", sum.Requests, sum.RequestsPerSecond())
	writeStatuses(w, sum)
	writeFindings(w, sum)
	writeAcceptRules(w, sum)
	writeBaseline(w, sum)
	writeAccounts(w, sum)
	for _, b := range sum.Buckets {
		if b == nil {
			continue
		}
		fmt.Fprintf(w, "  %s", printable("s3://"+b.Bucket))
		if b.Region != "" {
			fmt.Fprintf(w, " (%s)", b.Region)
		}
		if b.Failure != nil {
			fmt.Fprintf(w, ": ERROR %s\n", printable(b.Failure.Explain(nil)))
			continue
		}
		if b.NotScanned {
			fmt.Fprint(w, ": ACLs disabled, objects not fetched")
		} else {
			fmt.Fprintf(w, ": %d objects", b.Objects)
			var found []string
			for _, k := range acl.AllKinds() {
				if n, latent := b.FoundEffective(k), b.Found(k)-b.FoundEffective(k); n+latent > 0 {
					item := fmt.Sprintf("%s %d", k, n)
					if latent > 0 {
						item += fmt.Sprintf(" (+%d latent)", latent)
					}
					found = append(found, item)
				}
			}
			if len(found) > 0 {
				fmt.Fprintf(w, ", %s", strings.Join(found, ", "))
			}
			if !b.Complete {
				fmt.Fprint(w, ", INCOMPLETE")
			}
		}
		fmt.Fprintf(w, "; ready to disable ACLs: %s", readiness.Judge(b, spell).Verdict)
		if n := len(b.Notes(spell)); n > 0 {
			fmt.Fprintf(w, "; %d notes (%s)", n, spell(SettingSummaryJSON, ""))
		}
		fmt.Fprintln(w)
	}
}

// writeStatuses writes the counts by status (unavailable, which only a
// report gives, when there is any).
func writeStatuses(w io.Writer, sum *scan.Summary) {
	fmt.Fprint(w, "  status:  ")
	for _, st := range scan.AllStatuses() {
		if st == scan.StatusUnavailable && sum.Count(st) == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s %d", st, sum.Count(st))
	}
	fmt.Fprintln(w)
}

// writeFindings writes the counts by kind: what grants access now, and
// how many more are latent (blocked by the bucket's settings).
func writeFindings(w io.Writer, sum *scan.Summary) {
	fmt.Fprint(w, "  findings:")
	for _, k := range acl.AllKinds() {
		if !sum.Judged(k) {
			fmt.Fprintf(w, "  %s ?", k)
			continue
		}
		fmt.Fprintf(w, "  %s %d", k, sum.FoundEffective(k))
		if accepted := sum.ByAcceptedEffective[k]; accepted > 0 {
			fmt.Fprintf(w, " (%d accepted)", accepted)
		}
		if latent := sum.Found(k) - sum.FoundEffective(k); latent > 0 {
			fmt.Fprintf(w, " (+%d latent)", latent)
		}
	}
	fmt.Fprintln(w)
}

// describeContext is the bucket's settings in one line.
func describeContext(sum *scan.Summary) string {
	c := &sum.Context
	ownership := "unknown"
	if c.Ownership.Known {
		ownership = c.Ownership.Value
	}
	block := func(r acl.Reading[acl.PublicAccessBlock]) string {
		if !r.Known {
			return "unknown"
		}
		var on []string
		for _, s := range []struct {
			name string
			on   bool
		}{
			{"BlockPublicAcls", r.Value.BlockPublicACLs}, {"IgnorePublicAcls", r.Value.IgnorePublicACLs},
			{"BlockPublicPolicy", r.Value.BlockPublicPolicy}, {"RestrictPublicBuckets", r.Value.RestrictPublicBuckets},
		} {
			if s.on {
				on = append(on, s.name)
			}
		}
		if len(on) == 0 {
			return "off"
		}
		if len(on) == 4 {
			return "all on"
		}
		return strings.Join(on, "+")
	}
	policy := "not read"
	switch {
	case c.Policy.Known && c.Policy.Value == "":
		policy = "none"
	case c.Policy.Known:
		policy = "judged"
		if public, judged := sum.Judge().PolicyPublic(); judged && public {
			policy = "public"
		} else if judged {
			policy = "not public"
		}
	}
	return fmt.Sprintf("Object Ownership %s; Block Public Access: bucket %s, account %s; bucket policy %s",
		ownership, block(c.BucketBlock), block(c.AccountBlock), policy)
}

// roundDuration keeps durations readable: 1.234s, 2m3.4s.
func roundDuration(d time.Duration) time.Duration {
	if d > 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// Flush does nothing: the table is written whole at Close.
func (t *tableWriter) Flush() error { return nil }

// writeAcceptRules says which accepted-exposure rules applied, and the
// ones to look at: expired, and those that matched nothing (stale).
func writeAcceptRules(w io.Writer, sum *scan.Summary) {
	if sum.Trusted > 0 {
		fmt.Fprintf(w, "  trusted: %d objects shared only with the zone of trust (not cross-account)\n", sum.Trusted)
	}
	a := sum.AcceptRules
	if a == nil {
		return
	}
	fmt.Fprintf(w, "  accepted exposures: %d rules from %s", a.Live, a.File)
	if len(a.Expired) > 0 {
		fmt.Fprintf(w, "; expired, no longer applied: %s", strings.Join(a.Expired, ", "))
	}
	if len(a.Unmatched) > 0 {
		fmt.Fprintf(w, "; matched nothing (stale?): %s", strings.Join(a.Unmatched, ", "))
	}
	fmt.Fprintln(w)
}

// newFindings counts the effective findings new since the baseline, by
// kind ("public 2, cross-account 1"; "" when none).
func newFindings(sum *scan.Summary) string {
	var fresh []string
	for _, k := range acl.AllKinds() {
		if n := sum.ByNewEffective[k]; n > 0 {
			fresh = append(fresh, fmt.Sprintf("%s %d", k, n))
		}
	}
	return strings.Join(fresh, ", ")
}

// writeBaseline says what changed since the baseline: new effective
// findings, and the objects whose findings are gone (closed).
func writeBaseline(w io.Writer, sum *scan.Summary) {
	b := sum.Baseline
	if b == nil {
		return
	}
	fresh := newFindings(sum)
	if fresh == "" {
		fresh = "none"
	}
	fmt.Fprintf(w, "  since the baseline %s: new %s; closed %d", printable(b.Name), fresh, b.Closed)
	for i, c := range b.Listed {
		if i == 5 {
			fmt.Fprintf(w, ", ... (--summary-json lists %d)", len(b.Listed))
			break
		}
		fmt.Fprintf(w, ", %s (%s)", printable("s3://"+c.Bucket+"/"+c.Key), strings.Join(c.Findings, ","))
	}
	fmt.Fprintln(w)
}

// writeAccounts is a run over accounts' rows: each listed account, what
// became of it, and its totals.
func writeAccounts(w io.Writer, sum *scan.Summary) {
	if sum.Accounts == nil {
		return
	}
	counts := map[string]int{}
	for _, a := range sum.Accounts {
		counts[a.State]++
	}
	fmt.Fprintf(w, "Accounts: %d listed: %d scanned, %d partial, %d denied, %d skipped\n", len(sum.Accounts),
		counts["scanned"], counts["partial"], counts["denied"], counts["skipped"])
	for _, a := range sum.Accounts {
		name := a.ID
		if a.Name != "" {
			name += " (" + a.Name + ")"
		}
		if a.OUPath != "" {
			name += " [" + a.OUPath + "]"
		}
		fmt.Fprintf(w, "  %s: %s", printable(name), a.State)
		if t := a.Total; t != nil {
			fmt.Fprintf(w, ", %d buckets, %d objects", a.Buckets, t.Objects)
			if found := effectiveCounts(t); found != "" {
				fmt.Fprintf(w, ", %s", found)
			}
		}
		if a.Reason != "" {
			fmt.Fprintf(w, ": %s", printable(a.Reason))
		}
		fmt.Fprintln(w)
	}
}

// effectiveCounts lists a total's effective findings by kind ("public 4,
// cross-account 1"; "" for none): an account's row in the table and HTML.
func effectiveCounts(t *scan.Summary) string {
	var found []string
	for _, k := range acl.AllKinds() {
		if n := t.FoundEffective(k); n > 0 {
			found = append(found, fmt.Sprintf("%s %d", k, n))
		}
	}
	return strings.Join(found, ", ")
}
