// Package testkit is what tests across the repository share: the built
// command line for the tests that drive it as a process (the CLI's
// signal and output tests, the fault tests, the compatibility runs) and
// the reader of the reports it writes. The local S3 they run against is
// internal/locals3; shared ACL documents are internal/fixtures.
package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aclscan/aclscan/report"
)

// BuildCLI builds the command line into a new temporary directory, with the
// race detector when race is set, and returns its path and a function
// that removes it.
func BuildCLI(race bool) (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "aclscan-cli-")
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "aclscan")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, "github.com/aclscan/aclscan/cmd/aclscan")...).CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("build aclscan: %v\n%s", err, out)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// RunTests is a TestMain body: it builds the command line into *bin, runs
// the package's tests and removes the build, returning the exit code.
func RunTests(m *testing.M, race bool, bin *string) int {
	built, cleanup, err := BuildCLI(race)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cleanup()
	*bin = built
	return m.Run()
}

// ReadReport reads a JSON-lines report file.
func ReadReport(path string) ([]report.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var recs []report.Record
	err = report.ReadJSONL(f, func(r report.Record) error { recs = append(recs, r); return nil })
	return recs, err
}

// Records reads a JSON-lines report file, failing the test when it
// cannot.
func Records(t testing.TB, path string) []report.Record {
	t.Helper()
	recs, err := ReadReport(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}
