package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/scan"
)

func htmlReport(t *testing.T, rows int, results []scan.Result, sum *scan.Summary) string {
	t.Helper()
	var buf bytes.Buffer
	w := newHTML(&buf, rows, testFlags)
	w.now = func() time.Time { return time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC) }
	for i := range results {
		if err := w.Write(&results[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(sum); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// The page opens offline and from an e-mail attachment: nothing is
// loaded from elsewhere; hostile keys are escaped; the list is bounded
// and says how many it left out.
func TestHTMLSelfContainedAndBounded(t *testing.T) {
	t.Parallel()
	sum := &scan.Summary{Bucket: "b", Objects: 5, Complete: true, Duration: time.Second}
	sum.ByKind[acl.Public], sum.ByEffective[acl.Public] = 1, 1
	page := htmlReport(t, 2, sampleResults(), sum)
	for _, external := range []*regexp.Regexp{
		regexp.MustCompile(`<(script|img|iframe)[^>]+src=`),
		regexp.MustCompile(`<link[^>]+href=`),
		regexp.MustCompile(`url\(\s*['"]?(https?:)?//`),
		regexp.MustCompile(`@import`),
	} {
		if m := external.FindString(page); m != "" {
			t.Errorf("the page loads something from elsewhere: %q", m)
		}
	}
	if strings.ContainsRune(page, '\x1b') || !strings.Contains(page, `&#34;pub\x1b[2Jlic&#34;`) {
		t.Error("a control character reached the page raw, or the key was not shown quoted")
	}
	if !strings.Contains(page, `=HYPERLINK(&#34;x&#34;)`) {
		t.Error("a key with quotes was not escaped")
	}
	if !strings.Contains(page, "Risky objects (2 listed, 2 more not shown") {
		t.Errorf("the bound is not said:\n%s", page)
	}
}

// The chart counts every object with findings by prefix, effective and
// latent apart.
func TestHTMLChartByPrefix(t *testing.T) {
	t.Parallel()
	pub := acl.Findings(0).With(acl.Public)
	var results []scan.Result
	for i := range 30 {
		r := scan.Result{Bucket: "b", Key: "shared/docs/f" + string(rune('a'+i%26)), Findings: pub, Effective: pub}
		if i%3 == 0 {
			r.Effective = 0 // latent
		}
		results = append(results, r)
	}
	results = append(results, scan.Result{Bucket: "b", Key: "top-level", Findings: pub, Effective: pub})
	page := htmlReport(t, 5, results, &scan.Summary{Bucket: "b", Objects: 31})
	if !strings.Contains(page, "b/shared/docs/</text>") || !strings.Contains(page, ">20 +10 latent</text>") || !strings.Contains(page, "b/</text>") {
		t.Errorf("chart:\n%s", page[strings.Index(page, "<svg"):strings.Index(page, "</svg>")])
	}
}

// The page marks accepted findings with their rule and new ones, and
// counts the accepted apart.
func TestHTMLAcceptedAndNew(t *testing.T) {
	t.Parallel()
	sum := &scan.Summary{Bucket: "b", Objects: 3, Complete: true}
	sum.ByKind[acl.Public], sum.ByEffective[acl.Public], sum.ByAcceptedEffective[acl.Public] = 3, 3, 1
	page := htmlReport(t, 10, append([]scan.Result{acceptedSample()}, baselineSamples()...), sum)
	for _, want := range []string{"(1 accepted)", `title="website-assets: the public website&#39;s images">public accepted`, "new: public"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
