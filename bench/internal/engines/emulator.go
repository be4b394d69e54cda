// Package engines drives the aclscan Lambda function as AWS's engines
// would, on this machine: the function's deployment zip runs under the
// Lambda Runtime Interface Emulator (several instances at once), fed
// Distributed Map batches (ItemReader + ItemBatcher + Retry +
// ResultWriter, as the Step Functions guide documents them) or S3 Batch
// Operations tasks (one per invocation, TemporaryFailure redriven). It
// exists for tests and benchmarks; it is not part of aclscan.
package engines

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// RIEVersion is the emulator the benchmarks use too (scripts/bench-lambda).
const RIEVersion = "v0.0.0-20261030222936-bef5c4ba774d"

// Build makes what the emulators run: the function's deployment zip
// (built as `make lambda` builds it, for this machine's architecture),
// unpacked into dir, and the emulator, installed into toolsDir once. It
// returns the bootstrap's and the emulator's paths.
func Build(ctx context.Context, repo, dir, toolsDir string) (bootstrap, rie string, err error) {
	zipPath := filepath.Join(dir, "aclscan-lambda.zip")
	bin := filepath.Join(dir, "build", "bootstrap")
	steps := [][]string{
		{"go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/aclscan-lambda"},
		{"go", "run", "./tools/lambdazip", "-o", zipPath, bin},
	}
	for _, s := range steps {
		cmd := exec.CommandContext(ctx, s[0], s[1:]...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("%v: %v\n%s", s, err, out)
		}
	}
	if bootstrap, err = unzipBootstrap(zipPath, filepath.Join(dir, "function")); err != nil {
		return "", "", err
	}
	rie = filepath.Join(toolsDir, "aws-lambda-rie")
	if _, err := os.Stat(rie); err != nil {
		cmd := exec.CommandContext(ctx, "go", "install", "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@"+RIEVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+toolsDir, "GOWORK=off", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("install the Runtime Interface Emulator: %v\n%s", err, out)
		}
	}
	return bootstrap, rie, nil
}

// unzipBootstrap unpacks the zip's bootstrap (what Lambda runs).
func unzipBootstrap(zipPath, dir string) (string, error) {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return "", err
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name != "bootstrap" {
			continue
		}
		if f.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%s: bootstrap is not executable in the zip (mode %v)", zipPath, f.Mode())
		}
		rc, err := f.Open()
		if err != nil {
			return "", err
		}
		defer rc.Close()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		path := filepath.Join(dir, "bootstrap")
		out, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
		if err != nil {
			return "", err
		}
		if _, err := io.Copy(out, rc); err != nil {
			out.Close()
			return "", err
		}
		return path, out.Close()
	}
	return "", fmt.Errorf("%s has no bootstrap", zipPath)
}

// Emulator is one Runtime Interface Emulator running the function: one
// execution environment, one invocation at a time.
type Emulator struct {
	rie, bootstrap string
	env            []string
	// Wrap, when set, is a command the function runs under (a script
	// that moves it into a cgroup: the benchmark's Lambda sizes).
	Wrap string

	mu   sync.Mutex
	cmd  *exec.Cmd
	addr string
	// The log has its own lock: the process writes to it while Kill
	// holds mu and waits for the process.
	logMu sync.Mutex
	log   bytes.Buffer
}

// NewEmulator prepares an emulator of bootstrap with the function's
// environment (AWS_* settings, BUCKET_NAME, REPORT_BUCKET...).
func NewEmulator(rie, bootstrap string, env []string) *Emulator {
	return &Emulator{rie: rie, bootstrap: bootstrap, env: env}
}

// Start starts (or restarts) the emulator on free ports and waits until
// it listens.
func (e *Emulator) Start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	api, err := freeAddr()
	if err != nil {
		return err
	}
	runtimeAPI, err := freeAddr()
	if err != nil {
		return err
	}
	args := []string{"--runtime-interface-emulator-address", api, "--runtime-api-address", runtimeAPI}
	if e.Wrap != "" {
		args = append(args, e.Wrap)
	}
	cmd := exec.Command(e.rie, append(args, e.bootstrap)...)
	cmd.Env = e.env
	logw := &lockedWriter{mu: &e.logMu, w: &e.log}
	cmd.Stdout, cmd.Stderr = logw, logw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the emulator: %w", err)
	}
	e.cmd, e.addr = cmd, api
	if err := WaitListening(api, 10*time.Second); err != nil {
		e.killLocked()
		return fmt.Errorf("the emulator did not listen on %s: %v", api, err)
	}
	return nil
}

// WaitListening waits until something accepts connections at addr.
func WaitListening(addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops the emulator and its function at once (SIGKILL), as a
// crashed execution environment; an invocation in flight fails.
func (e *Emulator) Kill() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.killLocked()
}

func (e *Emulator) killLocked() {
	if e.cmd != nil && e.cmd.Process != nil {
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		_ = e.cmd.Wait()
		e.cmd = nil
	}
}

// Log is what the emulator and the function printed.
func (e *Emulator) Log() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.log.String()
}

// FunctionError is an invocation that ended in the function's error: its
// errorType is what Step Functions' Retry and Catch match.
type FunctionError struct {
	Type, Message string
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// ErrServiceException is an invocation that got no answer (the
// environment died): Step Functions sees Lambda.ServiceException.
var ErrServiceException = errors.New("Lambda.ServiceException")

// Invoke sends one synchronous invocation and returns the function's
// answer, a *FunctionError, or ErrServiceException.
func (e *Emulator) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	e.mu.Lock()
	addr := e.addr
	e.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrServiceException, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrServiceException, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: the emulator answered %s: %.200s", ErrServiceException, resp.Status, body)
	}
	var fe struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &fe) == nil && fe.ErrorType != "" {
		return nil, &FunctionError{Type: fe.ErrorType, Message: fe.ErrorMessage}
	}
	return body, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w.Len() > 1<<20 {
		l.w.Reset()
	}
	return l.w.Write(p)
}
