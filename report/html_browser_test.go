//go:build integration

package report

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/scan"
)

// chromium renders a page headless (the flags this machine's closed
// network needs) and returns what it printed.
func chromium(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed (apt-get install chromium; .ci/run does)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir()}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return out.String()
}

// The HTML report in a real browser: the page renders, its script runs
// (a filter given in the link hides the rows that do not match), and a
// screenshot is taken.
func TestIntegrationHTMLInChromium(t *testing.T) {
	t.Parallel()
	sum := &scan.Summary{Bucket: "b", Objects: 5, Complete: true, Duration: time.Second}
	sum.ByKind[acl.Public], sum.ByEffective[acl.Public] = 1, 1
	page := htmlReport(t, 10, sampleResults(), sum)
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, []byte(page), 0o600); err != nil {
		t.Fatal(err)
	}
	dom := chromium(t, "--dump-dom", "file://"+path+"#filter=unreadable")
	for _, want := range []string{"aclscan report: s3://b/", "Where the findings are", `id="chart"`, "s3://b/v"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	// The filter ran: every row but the unreadable one is hidden.
	if hidden := strings.Count(dom, `style="display: none;"`); hidden != 3 {
		t.Errorf("%d rows hidden by #filter=unreadable, want 3 of 4", hidden)
	}
	shot := filepath.Join(t.TempDir(), "report.png")
	chromium(t, "--window-size=1280,1200", "--screenshot="+shot, "file://"+path)
	info, err := os.Stat(shot)
	if err != nil || info.Size() < 20_000 {
		t.Errorf("screenshot: %v (%d bytes); want a rendered page", err, info.Size())
	}
}
