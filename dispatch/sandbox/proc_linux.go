package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// run starts p in a process group of its own and waits for it. When the
// leader exits, is timed out or cancelled, the whole group is signalled:
// SIGTERM then SIGKILL after the grace period on timeout or cancellation,
// SIGKILL at once for whatever the leader left behind when it exits. The
// group is signalled before the leader is reaped, so its id cannot have
// been reused by then.
func run(ctx context.Context, p process) (Outcome, error) {
	// Pdeathsig fires when the thread that started the child exits; keep
	// this goroutine on its thread until the child is gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	cmd := &exec.Cmd{Path: p.argv[0], Args: p.argv, Env: p.env, Dir: p.dir, Stdout: p.stdout, Stderr: p.stderr}
	if p.stdinFile != "" {
		f, err := os.Open(p.stdinFile)
		if err != nil {
			return Outcome{}, fmt.Errorf("stdin: %w", err)
		}
		defer f.Close()
		cmd.Stdin = f
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// If something escaped the group (a daemon that called setsid) and
	// holds the output pipes, do not wait for it.
	cmd.WaitDelay = time.Second

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Outcome{}, err
	}
	pgid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() {
		waitExited(pgid)
		close(exited)
	}()

	var timeout <-chan time.Time
	if p.timeout > 0 {
		t := time.NewTimer(p.timeout)
		defer t.Stop()
		timeout = t.C
	}
	var out Outcome
	select {
	case <-exited:
	case <-timeout:
		out.TimedOut = true
	case <-ctx.Done():
		out.Cancelled = true
	}
	if out.TimedOut || out.Cancelled {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		t := time.NewTimer(p.grace)
		select {
		case <-exited:
			t.Stop()
		case <-t.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
		}
	}
	// The leader is a zombie now, so the group id is still ours: kill what
	// it left running.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	_ = cmd.Wait() // the status is in ProcessState; output errors are dropped
	out.Duration = time.Since(start)
	out.ExitCode = exitCode(cmd.ProcessState)
	return out, nil
}

// waitExited blocks until the process pid has exited, without reaping it
// (waitid with WNOWAIT).
func waitExited(pid int) {
	var info [128]byte // siginfo_t
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, 1 /* P_PID */, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		if errno != syscall.EINTR {
			return
		}
	}
}

// exitCode is the exit status, or 128 plus the signal that killed it.
func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
