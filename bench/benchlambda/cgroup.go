package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// lambdaCPUPerMB is Lambda's CPU share: 1,769 MB is one full vCPU.
const lambdaCPUPerMB = 1769

// limits is a pair of cgroup (v1) directories holding the function process
// to a Lambda size's CPU share and memory.
type limits struct {
	cpuDir, memDir string
}

// newLimits creates the cgroups for memory size mb. The memory group is a
// child of this process's own memory cgroup (the only writable place).
func newLimits(mb int) (*limits, error) {
	name := fmt.Sprintf("aclscan-bench-%d", mb)
	memParent, err := ownCgroup("memory")
	if err != nil {
		return nil, err
	}
	l := &limits{
		cpuDir: filepath.Join("/sys/fs/cgroup/cpu", name),
		memDir: filepath.Join("/sys/fs/cgroup/memory", memParent, name),
	}
	l.remove()
	for _, d := range []string{l.cpuDir, l.memDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create cgroup %s: %w (needs root and cgroup v1)", d, err)
		}
	}
	quota := mb * 100000 / lambdaCPUPerMB
	writes := []struct{ file, value string }{
		{filepath.Join(l.cpuDir, "cpu.cfs_period_us"), "100000"},
		{filepath.Join(l.cpuDir, "cpu.cfs_quota_us"), fmt.Sprint(quota)},
		{filepath.Join(l.memDir, "memory.limit_in_bytes"), fmt.Sprint(int64(mb) << 20)},
	}
	for _, w := range writes {
		if err := os.WriteFile(w.file, []byte(w.value), 0o644); err != nil {
			l.remove()
			return nil, fmt.Errorf("write %s: %w", w.file, err)
		}
	}
	return l, nil
}

// wrapper writes a script that moves itself into the groups, then execs
// its arguments: only the function process (the RIE's child) is limited.
func (l *limits) wrapper(dir string) (string, error) {
	path := filepath.Join(dir, "limit-and-exec")
	script := fmt.Sprintf("#!/bin/sh\necho $$ > %s/cgroup.procs && echo $$ > %s/cgroup.procs || exit 97\nexec \"$@\"\n", l.cpuDir, l.memDir)
	return path, os.WriteFile(path, []byte(script), 0o755)
}

func (l *limits) remove() {
	for _, d := range []string{l.cpuDir, l.memDir} {
		_ = os.Remove(d)
	}
}

// ownCgroup returns this process's cgroup path in a v1 hierarchy.
func ownCgroup(controller string) (string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) == 3 && parts[1] == controller {
			return parts[2], nil
		}
	}
	return "", fmt.Errorf("no %s cgroup (v1) for this process", controller)
}
