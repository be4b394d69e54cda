// Package lambdasize holds a process to a Lambda memory size's CPU share
// and memory with cgroups (v1), as the benchmarks run the function.
package lambdasize

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CPUPerMB is Lambda's CPU share: 1,769 MB is one full vCPU.
const CPUPerMB = 1769

// Limits is a pair of cgroup (v1) directories holding the function process
// to a Lambda size's CPU share and memory.
type Limits struct {
	cpuDir, memDir string
}

// New creates the cgroups for memory size mb, named by name (each
// function instance needs its own: a group's quota is shared by its
// processes). The memory group is a child of this process's own memory
// cgroup (the only writable place).
func New(name string, mb int) (*Limits, error) {
	name = fmt.Sprintf("aclscan-bench-%s-%d", name, mb)
	memParent, err := ownCgroup("memory")
	if err != nil {
		return nil, err
	}
	l := &Limits{
		cpuDir: filepath.Join("/sys/fs/cgroup/cpu", name),
		memDir: filepath.Join("/sys/fs/cgroup/memory", memParent, name),
	}
	l.Remove()
	for _, d := range []string{l.cpuDir, l.memDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create cgroup %s: %w (needs root and cgroup v1)", d, err)
		}
	}
	quota := mb * 100000 / CPUPerMB
	writes := []struct{ file, value string }{
		{filepath.Join(l.cpuDir, "cpu.cfs_period_us"), "100000"},
		{filepath.Join(l.cpuDir, "cpu.cfs_quota_us"), fmt.Sprint(quota)},
		{filepath.Join(l.memDir, "memory.limit_in_bytes"), fmt.Sprint(int64(mb) << 20)},
	}
	for _, w := range writes {
		if err := os.WriteFile(w.file, []byte(w.value), 0o644); err != nil {
			l.Remove()
			return nil, fmt.Errorf("write %s: %w", w.file, err)
		}
	}
	return l, nil
}

// Wrapper writes a script that moves itself into the groups, then execs
// its arguments: only the function process (the RIE's child) is limited.
func (l *Limits) Wrapper(dir string) (string, error) {
	path := filepath.Join(dir, "limit-and-exec")
	script := fmt.Sprintf("#!/bin/sh\necho $$ > %s/cgroup.procs && echo $$ > %s/cgroup.procs || exit 97\nexec \"$@\"\n", l.cpuDir, l.memDir)
	return path, os.WriteFile(path, []byte(script), 0o755)
}

// Remove deletes the groups (once their processes have ended).
func (l *Limits) Remove() {
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
