//go:build unix

package gitexec

import (
	"os/exec"
	"syscall"
)

// ownGroup puts git in a process group of its own and makes cancelling
// kill the group, so that the helpers git starts (git-remote-https,
// index-pack, ssh) do not outlive a cancelled clone, fetch or push.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
