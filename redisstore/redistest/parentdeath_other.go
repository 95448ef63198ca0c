//go:build !linux

package redistest

import "os/exec"

// setParentDeath does nothing outside Linux: stop servers with Stop.
func setParentDeath(*exec.Cmd) {}
