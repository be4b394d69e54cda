// Command benchaccounts measures a run over accounts on the local
// radosgw: tenants stand in for accounts, each entered through its role
// (STS AssumeRole) and holding one bucket; the built CLI scans them all
// in one run (--accounts FILE). It reports accounts per minute, AssumeRole
// calls per account, and the time an account whose role cannot be
// assumed costs, as the median of -runs runs, and writes
// docs/benchmarks/accounts.md. Run it with `make bench-accounts`.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/internal/testkit"
	"github.com/aclscan/aclscan/report"
)

func main() {
	accountsN := flag.Int("accounts", 40, "tenants (accounts) to scan")
	objects := flag.Int("objects", 200, "objects in each account's bucket")
	concurrency := flag.Int("account-concurrency", 4, "accounts at once")
	runs := flag.Int("runs", 3, "runs; the median is reported")
	out := flag.String("o", "docs/benchmarks/accounts.md", "report file")
	flag.Parse()
	if err := run(*accountsN, *objects, *concurrency, *runs, *out); err != nil {
		fmt.Fprintln(os.Stderr, "benchaccounts:", err)
		os.Exit(1)
	}
}

type sample struct {
	took        time.Duration
	assumeCalls int
	objects     int64
	denied      time.Duration // a run of the denied account alone
}

func run(n, objects, concurrency, runs int, out string) error {
	ctx := context.Background()
	env, err := locals3.Start(ctx)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "benchaccounts-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var yml strings.Builder
	yml.WriteString("accounts:\n")
	setup := time.Now()
	for i := range n {
		tn, err := locals3.NewTenant(ctx, env, fmt.Sprintf("bench%d", i))
		if err != nil {
			return err
		}
		owner := env.Client(tn.Owner)
		bucket := "b-" + tn.Name
		if err := locals3.CreateBucket(ctx, owner, bucket); err != nil {
			return err
		}
		if err := locals3.PutObjects(ctx, owner, bucket, locals3.Keys("k/", objects), nil); err != nil {
			return err
		}
		// radosgw lists no bucket through a role: the file names it.
		fmt.Fprintf(&yml, "- name: a%d\n  role: %s\n  buckets: [%s]\n", i, tn.RoleARN, bucket)
	}
	fmt.Fprintf(os.Stderr, "benchaccounts: %d tenants ready in %s\n", n, time.Since(setup).Round(time.Second))
	file := filepath.Join(dir, "accounts.yml")
	if err := os.WriteFile(file, []byte(yml.String()), 0o600); err != nil {
		return err
	}
	deniedFile := filepath.Join(dir, "denied.txt")
	if err := os.WriteFile(deniedFile, []byte("arn:aws:iam::nosuchtenant:role/aclscan\n"), 0o600); err != nil {
		return err
	}
	bin, cleanup, err := testkit.BuildCLI(false)
	if err != nil {
		return err
	}
	defer cleanup()
	// Through the STS gateway: roles are assumed and their sessions used there.
	cliEnv := append(os.Environ(), "AWS_ENDPOINT_URL_S3="+env.STSURL, "AWS_ACCESS_KEY_ID="+env.A.AccessKey, "AWS_SECRET_ACCESS_KEY="+env.A.SecretKey, "AWS_REGION=us-east-1")
	var samples []sample
	for r := range runs {
		summary := filepath.Join(dir, fmt.Sprintf("summary-%d.json", r))
		cmd := exec.Command(bin, "scan", "--all-buckets", "--accounts", file, "--account-concurrency", fmt.Sprint(concurrency),
			"-o", filepath.Join(dir, "r.jsonl"), "--summary-json", summary, "--no-progress")
		cmd.Env = cliEnv
		start := time.Now()
		if outb, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("run %d: %v\n%s", r, err, outb)
		}
		s := sample{took: time.Since(start)}
		var sum report.SummaryRecord
		b, err := os.ReadFile(summary)
		if err != nil || json.Unmarshal(b, &sum) != nil {
			return fmt.Errorf("summary: %v", err)
		}
		for _, a := range sum.Accounts {
			if a.State != "scanned" {
				return fmt.Errorf("account %s %s: %s", a.ID, a.State, a.Reason)
			}
			s.assumeCalls += a.AssumeRoleCalls
		}
		s.objects = sum.Objects
		cmd = exec.Command(bin, "scan", "--all-buckets", "--accounts", deniedFile, "-o", filepath.Join(dir, "d.jsonl"), "--no-progress")
		cmd.Env = cliEnv
		start = time.Now()
		_ = cmd.Run() // exits 1: the account was not scanned
		s.denied = time.Since(start)
		samples = append(samples, s)
		fmt.Fprintf(os.Stderr, "benchaccounts: run %d: %d accounts in %s (%.0f per minute), %d AssumeRole calls; denied account alone %s\n",
			r+1, n, s.took.Round(time.Millisecond), float64(n)/s.took.Minutes(), s.assumeCalls, s.denied.Round(time.Millisecond))
	}
	return write(out, n, objects, concurrency, samples)
}

func write(out string, n, objects, concurrency int, samples []sample) error {
	took := make([]time.Duration, len(samples))
	denied := make([]time.Duration, len(samples))
	for i, s := range samples {
		took[i], denied[i] = s.took, s.denied
	}
	slices.Sort(took)
	slices.Sort(denied)
	med, medDenied := took[len(took)/2], denied[len(denied)/2]
	perMinute := float64(n) / med.Minutes()
	var b strings.Builder
	fmt.Fprintf(&b, "# A run over accounts\n\nMeasured %s on this 2-core machine with `make bench-accounts` (`go run ./bench/benchaccounts`).\n",
		time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "%d radosgw tenants stand in for %d accounts, each entered through its role (STS AssumeRole on radosgw) and holding\n", n, n)
	fmt.Fprintf(&b, "one bucket of %d objects; the built CLI scans them all in one run (`--accounts FILE --account-concurrency %d`).\n\n", objects, concurrency)
	b.WriteString("| run | wall time | accounts per minute | AssumeRole calls | objects |\n|---|---|---|---|---|\n")
	for i, s := range samples {
		fmt.Fprintf(&b, "| %d | %s | %.0f | %d (%.1f per account) | %d |\n", i+1, s.took.Round(time.Millisecond), float64(n)/s.took.Minutes(),
			s.assumeCalls, float64(s.assumeCalls)/float64(n), s.objects)
	}
	fmt.Fprintf(&b, "| **median** | **%s** | **%.0f** | | |\n\n", med.Round(time.Millisecond), perMinute)
	fmt.Fprintf(&b, "An account whose role cannot be assumed, alone in a run: %s (median), the whole process included: the\n", medDenied.Round(time.Millisecond))
	b.WriteString("refusal is one request, STS's error is not retried.\n")
	return os.WriteFile(out, []byte(b.String()), 0o644)
}
