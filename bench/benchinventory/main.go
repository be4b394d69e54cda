// Command benchinventory measures `aclscan inventory` on a generated
// 10,000,000-row report (CSV gzip and Parquet Snappy, the ACL field in
// every row, realistic keys, a few percent of risky grants), end to end
// to a JSONL report of the risky rows, beside the floors of the same run
// (reading the files; gzip -dc | wc -l). Runs are interleaved; medians.
// Run it with `make bench-inventory`; it writes docs/benchmarks/inventory.md.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aclscan/aclscan/acl"
	"github.com/aclscan/aclscan/internal/invgen"
	"github.com/aclscan/aclscan/inventory/aclfield"
)

func main() {
	rows := flag.Int("rows", 10_000_000, "rows in the report")
	files := flag.Int("files", 20, "data files")
	runs := flag.Int("runs", 3, "interleaved runs of each cell")
	dir := flag.String("dir", filepath.Join(os.TempDir(), "aclscan-bench-inventory"), "where the reports are generated (kept for the next run)")
	bin := flag.String("bin", "bin/aclscan", "the aclscan binary")
	out := flag.String("o", "docs/benchmarks/inventory.md", "report file")
	flag.Parse()
	if err := run(*rows, *files, *runs, *dir, *bin, *out); err != nil {
		fmt.Fprintln(os.Stderr, "benchinventory:", err)
		os.Exit(1)
	}
}

type measure struct {
	wall, cpu time.Duration
	rssKB     int64
}

type cell struct {
	name    string
	cmd     func() *exec.Cmd
	samples []measure
}

func (c *cell) median() measure {
	s := slices.Clone(c.samples)
	slices.SortFunc(s, func(a, b measure) int { return int(a.wall - b.wall) })
	return s[len(s)/2]
}

func run(rows, files, runs int, dir, bin, out string) error {
	manifests, roots := map[string]string{}, map[string]string{}
	for _, format := range []string{"CSV", "Parquet"} {
		root := filepath.Join(dir, fmt.Sprintf("%s-%d", strings.ToLower(format), rows))
		m, err := generate(root, format, rows, files)
		if err != nil {
			return err
		}
		manifests[format], roots[format] = m, root
	}
	csvData := dataFiles(filepath.Dir(filepath.Dir(manifests["CSV"])), ".csv.gz")
	parquetData := dataFiles(filepath.Dir(filepath.Dir(manifests["Parquet"])), ".parquet")
	reportFile := filepath.Join(dir, "risky.jsonl")
	aclscan := func(format string, extra ...string) func() *exec.Cmd {
		return func() *exec.Cmd {
			m := manifests[format]
			return exec.Command(bin, append([]string{"inventory", m, "--data-dir", roots[format], "--no-context", "--bucket-owner", "owner",
				"--risky-only", "--format", "jsonl", "-o", reportFile, "--no-progress", "--temp-dir", dir}, extra...)...)
		}
	}
	cells := []*cell{
		{name: "aclscan inventory, CSV gzip", cmd: aclscan("CSV")},
		{name: "aclscan inventory, Parquet Snappy", cmd: aclscan("Parquet")},
		{name: "aclscan inventory, CSV gzip read with encoding/csv (--stdlib-csv)", cmd: aclscan("CSV", "--stdlib-csv")},
		{name: "floor: gzip -dc | wc -l (CSV, one core)", cmd: func() *exec.Cmd {
			return exec.Command("sh", "-c", "gzip -dc "+strings.Join(csvData, " ")+" | wc -l")
		}},
		{name: "floor: jq -R length over the decompressed CSV (one core)", cmd: func() *exec.Cmd {
			return exec.Command("sh", "-c", "gzip -dc "+strings.Join(csvData, " ")+" | jq -R length | tail -1")
		}},
		{name: "floor: cat of the Parquet files", cmd: func() *exec.Cmd {
			return exec.Command("sh", "-c", "cat "+strings.Join(parquetData, " ")+" > /dev/null")
		}},
	}
	for r := range runs {
		for _, c := range cells {
			m, err := timed(c.cmd())
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			fmt.Fprintf(os.Stderr, "run %d %-55s %8.2fs cpu %7.2fs rss %6d MiB\n", r+1, c.name, m.wall.Seconds(), m.cpu.Seconds(), m.rssKB/1024)
			c.samples = append(c.samples, m)
		}
	}
	risky, err := countLines(reportFile)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# aclscan inventory: %d rows\n\n", rows)
	fmt.Fprintf(&b, "Measured %s on this project's 2-core machine. A generated report of %d rows in %d data files per format "+
		"(the ACL field in every row, keys of 40-90 bytes, 3%% of rows with a risky grant, a handful of distinct ACL values, as a real bucket has), "+
		"read from local files (`--data-dir`) with `--no-context --risky-only` to a JSONL report of the %d risky rows. "+
		"%d interleaved runs, medians; CPU is user + system of the process tree (`/usr/bin/time`), RSS its peak. "+
		"Reproduce: `make bench-inventory` (`go run ./bench/benchinventory -runs %d`).\n\n", time.Now().Format("2006-01-02"), rows, files, risky, runs, runs)
	fmt.Fprintf(&b, "| run | wall | rows/s | CPU per row | peak RSS |\n|---|---:|---:|---:|---:|\n")
	for _, c := range cells {
		m := c.median()
		rate := "-"
		if m.wall > 0 {
			rate = thousands(float64(rows) / m.wall.Seconds())
		}
		fmt.Fprintf(&b, "| %s | %.2f s | %s | %.0f ns | %d MiB |\n", strings.ReplaceAll(c.name, "|", "\\|"), m.wall.Seconds(), rate,
			float64(m.cpu.Nanoseconds())/float64(rows), m.rssKB/1024)
	}
	csvRun, parquetRun := cells[0].median(), cells[1].median()
	fmt.Fprintf(&b, "\nThe CSV reader is hand-written (inventory/csvrows.go): against Go's encoding/csv in the same run it takes %.2fx the time and %.2fx the CPU per row.\n",
		cells[0].median().wall.Seconds()/cells[2].median().wall.Seconds(), float64(cells[0].median().cpu)/float64(cells[2].median().cpu))
	fmt.Fprintf(&b, "\nPer billion rows at these rates: CSV %s, Parquet %s of one 2-core machine.\n",
		(time.Duration(float64(csvRun.wall) * 1e9 / float64(rows))).Round(time.Minute), (time.Duration(float64(parquetRun.wall) * 1e9 / float64(rows))).Round(time.Minute))
	fmt.Fprintf(&b, "\n## An inventory against one GetObjectAcl per object\n\n"+
		"Prices of us-east-1 as this project's notes give them (`../shared/notes/aws-formats.md` section 1.6, written 2026-11; "+
		"UNCONFIRMED: AWS's pricing page could not be read from this machine, check https://aws.amazon.com/s3/pricing/ before quoting): "+
		"S3 Inventory $0.0025 per million objects listed; GET-class requests (GetObjectAcl is one) $0.0004 per 1,000.\n\n"+
		"| objects | one inventory report | one GetObjectAcl each | ratio |\n|---:|---:|---:|---:|\n")
	for _, n := range []float64{1e6, 1e9} {
		inv, get := n/1e6*0.0025, n/1e3*0.0004
		fmt.Fprintf(&b, "| %s | $%.4f | $%.2f | %.0fx |\n", thousands(n), inv, get, get/inv)
	}
	fmt.Fprintf(&b, "\nA live scan also needs time and request rate: a billion GetObjectAcl at the ~1,500 requests/s one machine gets from the local radosgw "+
		"(docs/benchmarks/scale.md) is ~8 days; from the report, at the rates above, it is the time per billion rows above, and the bucket's request rate is untouched. "+
		"The report is up to 48 hours old; `--verify` rechecks the rows with findings live.\n")
	fmt.Fprintf(&b, "\nAll runs (s): ")
	for _, c := range cells {
		fmt.Fprintf(&b, "%s %v; ", c.name, walls(c.samples))
	}
	fmt.Fprintln(&b)
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(b.String())
	return nil
}

// timed runs cmd under /usr/bin/time for its CPU and peak RSS.
func timed(cmd *exec.Cmd) (measure, error) {
	args := append([]string{"-f", "%e %U %S %M", cmd.Path}, cmd.Args[1:]...)
	timedCmd := exec.Command("/usr/bin/time", args...)
	var stderr bytes.Buffer
	timedCmd.Stdout, timedCmd.Stderr = os.Stdout, &stderr
	if err := timedCmd.Run(); err != nil {
		// aclscan exits 3 only with --fail-on; anything else is a failure.
		return measure{}, fmt.Errorf("%v: %s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) != 4 {
		return measure{}, fmt.Errorf("unexpected /usr/bin/time output %q", stderr.String())
	}
	num := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
	return measure{
		wall:  time.Duration(num(f[0]) * float64(time.Second)),
		cpu:   time.Duration((num(f[1]) + num(f[2])) * float64(time.Second)),
		rssKB: int64(num(f[3])),
	}, nil
}

// generate writes a report of rows rows under dir, unless one is there.
func generate(dir, format string, rows, files int) (string, error) {
	if found, _ := filepath.Glob(filepath.Join(dir, "src", "bench", "*", "manifest.json")); len(found) == 1 {
		return found[0], nil
	}
	_ = os.RemoveAll(dir)
	fmt.Fprintf(os.Stderr, "generating a %s report of %d rows in %s\n", format, rows, dir)
	r := invgen.Report{SourceBucket: "src", DestinationBucket: "dest", ConfigID: "bench", Format: format, Created: time.Now().UTC()}
	put := func(key string, body []byte) error {
		path := filepath.Join(dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		return os.WriteFile(path, body, 0o644)
	}
	acls := syntheticACLs()
	perFile := rows / files
	err := r.WriteChunks(files, func(i int) []Object {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		out := make([]Object, perFile)
		for j := range out {
			n := i*perFile + j
			a := acls[0]
			if x := rng.IntN(100); x < 3 {
				a = acls[1+x]
			}
			out[j] = Object{Key: syntheticKey(rng, n), Size: int64(rng.IntN(1 << 20)), LastModified: time.Unix(1700000000+int64(n), 0), ETag: "d41d8cd98f00b204e9800998ecf8427e",
				StorageClass: "STANDARD", ACL: a, Owner: "owner"}
		}
		return out
	}, put)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.FromSlash(r.ManifestKey())), nil
}

// Object is invgen's row.
type Object = invgen.Object

// syntheticACLs: the private ACL most rows have, then three risky ones.
func syntheticACLs() []string {
	owner := acl.Grant{Type: acl.TypeCanonicalUser, ID: "owner", Permission: "FULL_CONTROL"}
	return []string{
		aclfield.Encode([]acl.Grant{owner}, false),
		aclfield.Encode([]acl.Grant{owner, {Type: acl.TypeGroup, URI: acl.AllUsersURI, Permission: "READ"}}, false),
		aclfield.Encode([]acl.Grant{owner, {Type: acl.TypeGroup, URI: acl.AuthenticatedUsersURI, Permission: "READ"}}, false),
		aclfield.Encode([]acl.Grant{owner, {Type: acl.TypeCanonicalUser, ID: "partner-account-canonical-id", Permission: "READ"}}, false),
	}
}

var words = []string{"data", "logs", "images", "exports", "backups", "users", "reports", "archive", "uploads", "tmp", "2024", "2025", "eu-west-1", "photos", "invoices"}

func syntheticKey(rng *rand.Rand, n int) string {
	var b strings.Builder
	for range 2 + rng.IntN(4) {
		b.WriteString(words[rng.IntN(len(words))])
		b.WriteByte('/')
	}
	fmt.Fprintf(&b, "object-%09d-%x.json", n, rng.Uint32())
	return b.String()
}

func dataFiles(base, ext string) []string {
	found, _ := filepath.Glob(filepath.Join(base, "data", "*"+ext))
	return found
}

func countLines(path string) (int, error) {
	b, err := os.ReadFile(path)
	return bytes.Count(b, []byte("\n")), err
}

func thousands(v float64) string {
	s := strconv.FormatInt(int64(v), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func walls(ms []measure) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = fmt.Sprintf("%.2f", m.wall.Seconds())
	}
	return out
}
