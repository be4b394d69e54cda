//go:build integration

package faults

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/aclscan/aclscan/internal/locals3"
	"github.com/aclscan/aclscan/internal/testkit"
)

// The command line's exit codes (its documented contract).
const (
	exitOK         = 0
	exitIncomplete = 1
	exitFindings   = 3
)

// aclscanBin is the command line under test, built once with the race
// detector: the engine runs under faults in a real process.
var aclscanBin string

func TestMain(m *testing.M) {
	locals3.Isolate()
	os.Exit(testkit.RunTests(m, true, &aclscanBin))
}

// runLocal runs the command line with the local S3 as its environment
// (user A's keys, the endpoint unless the arguments give another) and
// returns its exit code and output.
func runLocal(t *testing.T, env locals3.Env, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(aclscanBin, args...)
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_S3="+env.HTTPURL,
		"AWS_ACCESS_KEY_ID="+env.A.AccessKey, "AWS_SECRET_ACCESS_KEY="+env.A.SecretKey)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	default:
		t.Fatalf("run aclscan: %v", err)
	}
	return code, out.String(), errOut.String()
}
