//go:build !unix

package gitexec

import "os/exec"

// ownGroup leaves cancelling to os/exec where there are no process groups.
func ownGroup(*exec.Cmd) {}
