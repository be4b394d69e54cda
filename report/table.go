package report

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/scan"
)

// DefaultTableRows is how many risky objects the table lists.
const DefaultTableRows = 20

// tableWriter keeps the first risky results (bounded) and prints them with
// the summary at the end: the table is for people; JSONL is for everything.
type tableWriter struct {
	w     io.Writer
	risky Risky
}

func newTable(w io.Writer, limit int) *tableWriter {
	if limit <= 0 {
		limit = DefaultTableRows
	}
	return &tableWriter{w: w, risky: Risky{Limit: limit}}
}

func (t *tableWriter) Write(r *scan.Result) error {
	t.risky.Add(r)
	return nil
}

func (t *tableWriter) Close(sum *scan.Summary) error {
	out := bufio.NewWriter(t.w)
	rows := t.risky.Records
	if len(rows) > 0 {
		// Results arrive in completion order; people read keys in order.
		sort.Slice(rows, func(i, j int) bool { return rows[i].Key < rows[j].Key })
		fmt.Fprintf(out, "Risky objects (%d of %d):\n", len(rows), t.risky.Total)
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STATUS\tFINDINGS\tOWNER\tGRANTS\tKEY")
		for i := range rows {
			rec := &rows[i]
			key := printable(rec.Key)
			if rec.VersionID != nil {
				key += " (version " + printable(*rec.VersionID) + ")"
			}
			status := rec.Status
			if rec.Error != nil {
				status += ": " + printable(*rec.Error)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", status, strings.Join(rec.Findings, ","),
				printable(rec.OwnerID), printable(shortGrants(rec.Grants)), key)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if n := t.risky.Omitted(); n > 0 {
			fmt.Fprintf(out, "... and %d more (use --format jsonl or csv with -o FILE for every object)\n", n)
		}
		fmt.Fprintln(out)
	} else if sum != nil && sum.Objects > 0 {
		fmt.Fprintln(out, "No risky objects.")
		fmt.Fprintln(out)
	}
	if sum != nil {
		WriteSummary(out, sum)
	}
	return out.Flush()
}

// shortGrants renders grants compactly: AllUsers:READ, userb:FULL_CONTROL.
func shortGrants(grants []acl.Grant) string {
	parts := make([]string, 0, len(grants))
	for _, g := range grants {
		who := g.ID
		switch {
		case g.URI != "":
			who = g.URI[strings.LastIndexByte(g.URI, '/')+1:]
		case g.Email != "":
			who = g.Email
		case who == "":
			who = "(no id)"
		}
		parts = append(parts, who+":"+g.Permission)
	}
	return strings.Join(parts, " ")
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

// WriteSummary writes the human summary of a scan.
func WriteSummary(w io.Writer, sum *scan.Summary) {
	target := "s3://" + sum.Bucket + "/" + sum.Prefix
	state := "Scanned"
	if !sum.Complete {
		state = "INCOMPLETE scan of"
	}
	fmt.Fprintf(w, "%s %s in %s: %d objects", state, printable(target), roundDuration(sum.Duration), sum.Objects)
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

	fmt.Fprint(w, "  status:  ")
	for _, st := range scan.AllStatuses() {
		fmt.Fprintf(w, "  %s %d", st, sum.Count(st))
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, "  findings:")
	for _, k := range acl.AllKinds() {
		if sum.Judged(k) {
			fmt.Fprintf(w, "  %s %d", k, sum.Found(k))
		} else {
			fmt.Fprintf(w, "  %s ?", k)
		}
	}
	fmt.Fprintln(w)
	if sum.BucketOwner != "" {
		fmt.Fprintf(w, "  bucket owner: %s (%s)\n", printable(sum.BucketOwner), sum.OwnerSource)
	} else if sum.OwnerProblem != "" {
		fmt.Fprintf(w, "  bucket owner unknown: %s\n", sum.OwnerProblem)
	}
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
