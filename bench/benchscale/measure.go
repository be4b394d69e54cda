package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/aclscan/aclscan/internal/locals3"
)

// sample is one measured run of a client process.
type sample struct {
	wall   time.Duration
	cpu    time.Duration // user + system
	user   time.Duration
	maxRSS int64 // bytes
	stdout string
}

// runProcess runs one client with the local S3's credentials for user A
// and endpoint, and measures it. The process's own rusage gives CPU time
// and peak RSS (what /usr/bin/time -v reports).
func runProcess(ctx context.Context, env locals3.Env, endpoint string, argv []string) (sample, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+env.A.AccessKey, "AWS_SECRET_ACCESS_KEY="+env.A.SecretKey,
		"AWS_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ENDPOINT_URL_S3="+endpoint, "AWS_ENDPOINT_URL="+endpoint)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %v: %s", argv[0], err, lastLine(stderr.String()))
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return sample{}, fmt.Errorf("no rusage for %s", argv[0])
	}
	return sample{
		wall:   wall,
		cpu:    time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		user:   time.Duration(ru.Utime.Nano()),
		maxRSS: ru.Maxrss * 1024, // Linux reports kilobytes
		stdout: strings.TrimSpace(stdout.String()),
	}, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// series is one client measured several times.
type series struct {
	section string // "direct", "latency", "listing", "throttling"
	name    string
	objects int
	samples []sample
	fails   int
	// extra holds figures a section adds (requests/s, retries per key...).
	extra map[string]float64
	note  string
}

func (s *series) medianBy(f func(sample) float64) float64 {
	if len(s.samples) == 0 {
		return 0
	}
	v := make([]float64, len(s.samples))
	for i, x := range s.samples {
		v[i] = f(x)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func (s *series) wallMS() float64 {
	return s.medianBy(func(x sample) float64 { return float64(x.wall) / 1e6 })
}

func (s *series) rate() float64 {
	m := s.wallMS()
	if m == 0 {
		return 0
	}
	return float64(s.objects) / (m / 1000)
}

func (s *series) cpuPerObjectUS() float64 {
	return s.medianBy(func(x sample) float64 { return float64(x.cpu) / 1e3 / float64(s.objects) })
}

func (s *series) userPerObjectUS() float64 {
	return s.medianBy(func(x sample) float64 { return float64(x.user) / 1e3 / float64(s.objects) })
}

func (s *series) rssMiB() float64 {
	return s.medianBy(func(x sample) float64 { return float64(x.maxRSS) / (1 << 20) })
}
