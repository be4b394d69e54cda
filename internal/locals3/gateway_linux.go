package locals3

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes cmd's process end with the test process that
// started it, should that one die without Kill.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
