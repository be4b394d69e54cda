package report

import (
	"bufio"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/readiness"
	"github.com/aclscan/aclscan/s3access"
	"github.com/aclscan/aclscan/scan"
)

//go:embed html.tmpl
var htmlTemplate string

// DefaultHTMLRows bounds the risky objects an HTML report lists; the
// counts and the chart cover every object.
const DefaultHTMLRows = 1000

// maxPrefixes bounds the distinct prefixes the chart counts.
const maxPrefixes = 10000

// htmlWriter keeps aggregates and the first risky objects, and writes one
// self-contained page at Close: no script, style or font from elsewhere,
// so it opens offline and from an e-mail attachment.
type htmlWriter struct {
	w        io.Writer
	risky    Risky
	prefixes map[string]*prefixCount
	other    prefixCount // objects whose prefix did not fit
	now      func() time.Time
	spell    s3access.Spelling
}

type prefixCount struct {
	Prefix            string
	Effective, Latent int64
}

func newHTML(w io.Writer, rows int, spell s3access.Spelling) *htmlWriter {
	if rows <= 0 {
		rows = DefaultHTMLRows
	}
	return &htmlWriter{w: w, risky: Risky{Limit: rows}, prefixes: map[string]*prefixCount{}, now: time.Now, spell: spelling(spell)}
}

// prefixOf is the first two levels of a key's hierarchy: where the
// exposure is.
func prefixOf(bucket, key string) string {
	cut := 0
	for i := 0; i < 2; i++ {
		j := strings.IndexByte(key[cut:], '/')
		if j < 0 {
			break
		}
		cut += j + 1
	}
	return bucket + "/" + key[:cut]
}

func (h *htmlWriter) Write(r *scan.Result) error {
	h.risky.Add(r)
	if r.Findings == 0 {
		return nil
	}
	p := h.prefixes[prefixOf(r.Bucket, r.Key)]
	if p == nil {
		if len(h.prefixes) >= maxPrefixes {
			p = &h.other
		} else {
			p = &prefixCount{Prefix: prefixOf(r.Bucket, r.Key)}
			h.prefixes[p.Prefix] = p
		}
	}
	if r.Effective != 0 {
		p.Effective++
	} else {
		p.Latent++
	}
	return nil
}

// htmlPage is what the template shows.
type htmlPage struct {
	Title       string
	Generated   string
	Scope       string
	Complete    bool
	Objects     int64
	Duration    string
	Kinds       []htmlKind
	Buckets     []htmlBucket
	Chart       []htmlBar
	ChartHeight int
	Rows        []htmlRow
	Omitted     int64
	// EveryObject says how to get every object (the page lists some).
	EveryObject string
	Statuses    []htmlKind
	// Baseline and Accept say what changed since a baseline and what
	// became of the accepted-exposure rules (nil when not asked).
	Baseline *htmlBaseline
	// Accounts are a run over accounts' rows (nil otherwise).
	Accounts []htmlAccount
	Accept   *htmlAccept
}

type htmlBaseline struct {
	Name, New string
	Closed    int
	Listed    []string
}

type htmlAccept struct {
	File               string
	Live               int
	Expired, Unmatched string
}

type htmlKind struct {
	Name                        string
	Effective, Latent, Accepted int64
	Judged                      bool
}

type htmlBucket struct {
	Name, Region, Settings, Readiness string
	Reasons, Notes                    []string
	Error                             string
}

type htmlBar struct {
	Prefix                                    string
	Effective, Latent                         int64
	EffectiveW, LatentW, LatentX, LabelX, Top int
}

type htmlRow struct {
	Bucket, Key, Version, Status, Owner, Grants, Findings, Latent, Verified, Via string
	// Accepted are the findings a rule accepts (AcceptedBy the rule and its
	// reason); New those a baseline did not have.
	Accepted, AcceptedBy, New string
	Effective                 bool
}

func (h *htmlWriter) Close(sum *scan.Summary) error {
	if sum == nil {
		sum = &scan.Summary{}
	}
	page := htmlPage{
		Title:       "aclscan report",
		Generated:   h.now().UTC().Format("2006-01-02 15:04 UTC"),
		Complete:    sum.Complete,
		Objects:     sum.Objects,
		Duration:    roundDuration(sum.Duration).String(),
		Omitted:     h.risky.Omitted(),
		EveryObject: h.spell(SettingFormat, "jsonl"),
	}
	buckets := sum.Buckets
	if buckets == nil {
		page.Scope = "s3://" + sum.Bucket + "/" + sum.Prefix
		if sum.Source == "inventory" {
			page.Scope += " (inventory report taken " + sum.ReportDate + ")"
		}
		buckets = []*scan.Summary{sum}
	} else {
		page.Scope = fmt.Sprintf("%d buckets", len(buckets))
	}
	for _, k := range acl.AllKinds() {
		page.Kinds = append(page.Kinds, htmlKind{Name: k.String(), Effective: sum.FoundEffective(k), Latent: sum.Found(k) - sum.FoundEffective(k),
			Accepted: sum.ByAcceptedEffective[k], Judged: sum.Judged(k)})
	}
	for _, st := range scan.AllStatuses() {
		page.Statuses = append(page.Statuses, htmlKind{Name: st.String(), Effective: sum.Count(st)})
	}
	for _, b := range buckets {
		if b == nil {
			continue
		}
		hb := htmlBucket{Name: "s3://" + b.Bucket, Region: b.Region, Settings: describeContext(b), Notes: b.Notes(h.spell)}
		if b.Failure != nil {
			hb.Error = b.Failure.Explain(h.spell)
		} else {
			r := readiness.Judge(b, h.spell)
			hb.Readiness, hb.Reasons = r.Verdict, r.Reasons
		}
		page.Buckets = append(page.Buckets, hb)
	}
	for _, a := range sum.Accounts {
		ha := htmlAccount{ID: a.ID, Name: printable(a.Name), OUPath: a.OUPath, State: a.State, Reason: printable(a.Reason), Buckets: a.Buckets}
		if t := a.Total; t != nil {
			ha.Objects, ha.Findings = t.Objects, effectiveCounts(t)
		}
		page.Accounts = append(page.Accounts, ha)
	}
	if b := sum.Baseline; b != nil {
		hb := &htmlBaseline{Name: printable(b.Name), Closed: b.Closed, New: newFindings(sum)}
		for i, c := range b.Listed {
			if i == h.risky.Limit {
				break
			}
			hb.Listed = append(hb.Listed, printable("s3://"+c.Bucket+"/"+c.Key)+" ("+strings.Join(c.Findings, ", ")+")")
		}
		page.Baseline = hb
	}
	if a := sum.AcceptRules; a != nil {
		page.Accept = &htmlAccept{File: printable(a.File), Live: a.Live, Expired: strings.Join(a.Expired, ", "), Unmatched: strings.Join(a.Unmatched, ", ")}
	}
	page.Chart = h.chart()
	page.ChartHeight = 26*len(page.Chart) + 6
	rows := h.risky.Records
	sort.SliceStable(rows, func(i, j int) bool {
		ei, ej := len(rows[i].Effective) > 0, len(rows[j].Effective) > 0
		if ei != ej {
			return ei
		}
		return rows[i].Bucket+"/"+rows[i].Key < rows[j].Bucket+"/"+rows[j].Key
	})
	for i := range rows {
		rec := &rows[i]
		// Control characters are quoted, as on a terminal: a key is data.
		row := htmlRow{Bucket: rec.Bucket, Key: printable(rec.Key), Status: rec.Status, Owner: printable(rec.OwnerID), Grants: printable(acl.Describe(rec.Grants, "")),
			Findings: strings.Join(rec.Effective, ", "), Effective: len(rec.Effective) > 0, Via: printable(viaCell(rec))}
		if rec.VersionID != nil {
			row.Version = printable(*rec.VersionID)
		}
		var latent []string
		for _, f := range rec.Findings {
			if !slices.Contains(rec.Effective, f) {
				latent = append(latent, f)
			}
		}
		row.Latent = strings.Join(latent, ", ")
		row.Accepted, row.New = strings.Join(rec.Accepted, ", "), strings.Join(rec.NewFindings, ", ")
		if rec.AcceptedRule != nil {
			row.AcceptedBy = printable(*rec.AcceptedRule + ": " + *rec.AcceptedReason)
		}
		if rec.VerifiedPublic != nil {
			row.Verified = map[bool]string{true: "served to anyone", false: "refused"}[*rec.VerifiedPublic]
		}
		if rec.Error != nil {
			row.Status += ": " + printable(*rec.Error)
		}
		page.Rows = append(page.Rows, row)
	}
	tmpl, err := template.New("report").Parse(htmlTemplate)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(h.w)
	if err := tmpl.Execute(out, &page); err != nil {
		return err
	}
	return out.Flush()
}

// chart is the 20 prefixes with the most findings, as horizontal bars.
func (h *htmlWriter) chart() []htmlBar {
	all := make([]*prefixCount, 0, len(h.prefixes)+1)
	for _, p := range h.prefixes {
		all = append(all, p)
	}
	if h.other.Effective+h.other.Latent > 0 {
		h.other.Prefix = "(other prefixes)"
		all = append(all, &h.other)
	}
	sort.Slice(all, func(i, j int) bool {
		ti, tj := all[i].Effective+all[i].Latent, all[j].Effective+all[j].Latent
		if ti != tj {
			return ti > tj
		}
		return all[i].Prefix < all[j].Prefix
	})
	all = all[:min(20, len(all))]
	var top int64 = 1
	for _, p := range all {
		top = max(top, p.Effective+p.Latent)
	}
	const width = 480
	bars := make([]htmlBar, len(all))
	for i, p := range all {
		b := htmlBar{Prefix: p.Prefix, Effective: p.Effective, Latent: p.Latent,
			EffectiveW: int(p.Effective * width / top), LatentW: int(p.Latent * width / top), Top: i * 26}
		b.LatentX = 260 + b.EffectiveW
		b.LabelX = b.LatentX + b.LatentW + 6
		bars[i] = b
	}
	return bars
}

// Flush does nothing: the page is written whole at Close.
func (h *htmlWriter) Flush() error { return nil }

// htmlAccount is an account's row in a run over accounts.
type htmlAccount struct {
	ID, Name, OUPath, State, Reason string
	Buckets                         int
	Objects                         int64
	Findings                        string
}
