package redistest

import (
	"os/exec"
	"syscall"
)

// setParentDeath has the kernel kill cmd's process when the process that
// started it dies, so that a test binary killed by a timeout leaves no
// server behind. (The signal follows the OS thread that started the
// child; the Go runtime does not end threads that run ordinary
// goroutines.)
func setParentDeath(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
