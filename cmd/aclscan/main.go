// Command aclscan audits the ACL of every object in S3 buckets.
//
// Exit codes: 0 complete scan, nothing matched --fail-on; 1 the scan could
// not complete (or an object's ACL could not be fetched); 2 usage error;
// 3 complete scan with findings matching --fail-on.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unicode"

	"github.com/aclscan/aclscan/internal/settings"
	"github.com/aclscan/aclscan/report"
	"github.com/aclscan/aclscan/s3access"
	"github.com/spf13/cobra"
)

// Exit codes, part of the command-line contract.
const (
	exitOK         = 0
	exitIncomplete = 1
	exitUsage      = 2
	exitFindings   = 3
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries an exit code and a one-line message for stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

// shell is the command line's view of its process: where it writes, and
// what the AWS environment gives before any flag: the endpoint and the
// credentials (zero: the SDK's standard variables and chain). Tests give
// their own, so they need not set the process environment and can run in
// parallel.
type shell struct {
	stdout, stderr io.Writer
	s3             s3access.Options // EndpointURL and Credentials only
	// warned holds the warnings said: a run over accounts makes a client
	// per account, at once, and says each warning one time.
	warnMu sync.Mutex
	warned map[string]bool
}

// warnOnce writes a warning line to stderr the first time it is given.
func (sh *shell) warnOnce(line string) {
	sh.warnMu.Lock()
	defer sh.warnMu.Unlock()
	if sh.warned[line] {
		return
	}
	if sh.warned == nil {
		sh.warned = map[string]bool{}
	}
	sh.warned[line] = true
	fmt.Fprintln(sh.stderr, line)
}

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return (&shell{stdout: stdout, stderr: stderr}).run(ctx, args)
}

func (sh *shell) run(ctx context.Context, args []string) int {
	stdout, stderr := sh.stdout, sh.stderr
	root := &cobra.Command{
		Use:   "aclscan",
		Short: "Audit the ACL of every object in S3 buckets",
		Long: "aclscan lists every object of an S3 bucket, fetches each object's ACL and reports\nwhat is public, shared with any AWS user, shared with other accounts, or unreadable,\n" +
			"judged with the bucket's Block Public Access and Object Ownership; it reads S3 Inventory\nreports, and closes what it found with an undo log.",
		Version:       buildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%v (see %s --help)", err, c.CommandPath())
	})
	root.AddCommand(newScanCommand(sh), newInventoryCommand(sh), newReportCommand(sh), newFixCommand(sh), newUndoCommand(sh), newWatchCommand(sh), newVersionCommand(sh))

	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var e *exitError
	if errors.As(err, &e) {
		if e.msg != "" {
			fmt.Fprintf(stderr, "aclscan: %s\n", terminalSafe(e.msg))
		}
		return e.code
	}
	// Cobra's own errors (unknown command, bad arguments) are usage errors.
	fmt.Fprintf(stderr, "aclscan: %s (see aclscan --help)\n", terminalSafe(err.Error()))
	return exitUsage
}

// terminalSafe escapes the control characters of a message, which may
// hold what a server sent (an error message, a key): a hostile endpoint
// cannot move the cursor or rewrite the terminal.
func terminalSafe(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r)
}

// flagSpelling names settings as this command line's flags.
func flagSpelling(s s3access.Setting, value string) string {
	flag := "--" + string(s)
	switch {
	case s == settings.Target:
		return "s3://BUCKET[/PREFIX]"
	case s == report.SettingOutput:
		return "-o " + value
	case s == s3access.SettingCABundle && value != "":
		return flag + " " + value + " (or AWS_CA_BUNDLE)"
	case value != "":
		return flag + " " + value
	}
	return flag
}

// explainSetupError turns a failure before the scan into its exit code
// and one line: the user's settings (2), or the AWS configuration (1).
func explainSetupError(err error) error {
	var usage *s3access.UsageError
	if errors.As(err, &usage) {
		return &exitError{code: exitUsage, msg: usage.Explain(flagSpelling)}
	}
	return &exitError{code: exitIncomplete, msg: err.Error()}
}
