// Package proc holds what test helpers need of the processes they start.
package proc

import (
	"os/exec"
	"syscall"
)

// DieWithParent makes cmd's process end with the process that started it
// (a test binary), should that one die without stopping it.
func DieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
