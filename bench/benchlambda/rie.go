package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/aclscan/aclscan/bench/internal/engines"
	"github.com/aclscan/aclscan/bench/internal/lambdasize"
)

const (
	emulatorAddr   = "127.0.0.1:8090"
	runtimeAPIAddr = "127.0.0.1:9091"
)

// cellResult holds one implementation at one memory size.
type cellResult struct {
	impl    impl
	memory  int
	invokes []float64 // REPORT Duration (ms), the first without its init part
	initMS  float64   // INIT REPORT duration (ms)
	coldMS  float64   // the first invocation's full Duration (init included)
	failure string
}

var (
	reportLine = regexp.MustCompile(`^REPORT RequestId: \S+.*\tDuration: ([0-9.]+) ms`)
	initLine   = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
)

// runCell starts one RIE for im at memory size mb and invokes it n times.
func runCell(ctx context.Context, o options, im impl, mb int, funcEnv []string, n int) cellResult {
	res := cellResult{impl: im, memory: mb}
	fail := func(format string, args ...any) cellResult {
		res.failure = fmt.Sprintf(format, args...)
		return res
	}
	lim, err := lambdasize.New("lambda", mb)
	if err != nil {
		return fail("%v", err)
	}
	defer lim.Remove()
	dir, err := os.MkdirTemp("", "benchlambda")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(dir)
	wrapper, err := lim.Wrapper(dir)
	if err != nil {
		return fail("%v", err)
	}

	cmd := exec.CommandContext(ctx, o.rie,
		"--runtime-interface-emulator-address", emulatorAddr,
		"--runtime-api-address", runtimeAPIAddr,
		wrapper, im.bootstrap)
	cmd.Env = append(append(append([]string{}, funcEnv...), im.env...),
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", mb),
		"AWS_LAMBDA_FUNCTION_TIMEOUT=120")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fail("%v", err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fail("start RIE: %v", err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()

	durations := make(chan float64, n)
	inits := make(chan float64, 1)
	var tail bytes.Buffer // the last lines, for error messages
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if tail.Len() > 4096 {
				tail.Reset()
			}
			tail.WriteString(line + "\n")
			if m := reportLine.FindStringSubmatch(line); m != nil {
				d, _ := strconv.ParseFloat(m[1], 64)
				durations <- d
			} else if m := initLine.FindStringSubmatch(line); m != nil {
				d, _ := strconv.ParseFloat(m[1], 64)
				select {
				case inits <- d:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	if err := engines.WaitListening(emulatorAddr, 10*time.Second); err != nil {
		return fail("RIE did not listen: %v", err)
	}

	client := &http.Client{Timeout: 150 * time.Second}
	url := "http://" + emulatorAddr + "/2015-03-31/functions/function/invocations"
	for i := 0; i < n; i++ {
		resp, err := client.Post(url, "application/json", bytes.NewReader([]byte("{}")))
		if err != nil {
			return fail("invocation %d: %v", i+1, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var answer struct {
			Objects      int    `json:"objects"`
			ErrorMessage string `json:"errorMessage"`
		}
		if err := json.Unmarshal(body, &answer); err != nil || answer.Objects != 100 {
			return fail("invocation %d answered %.300q (want 100 objects); RIE: %.500s", i+1, body, tail.String())
		}
		select {
		case d := <-durations:
			if i == 0 {
				res.coldMS = d
				select {
				case res.initMS = <-inits:
				case <-time.After(time.Second):
				}
				d -= res.initMS
			}
			res.invokes = append(res.invokes, d)
		case <-time.After(10 * time.Second):
			return fail("no REPORT line for invocation %d", i+1)
		}
	}
	return res
}
