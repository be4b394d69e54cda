//go:build !linux

// Package proc holds what test helpers need of the processes they start.
package proc

import "os/exec"

// DieWithParent does nothing where the system cannot tie a process's life
// to its parent's.
func DieWithParent(*exec.Cmd) {}
