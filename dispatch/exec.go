package dispatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/agentgate/agentgate/dispatch/agent"
	"github.com/agentgate/agentgate/dispatch/sandbox"
	"github.com/agentgate/agentgate/dispatch/workspace"
)

// maxStdoutParse bounds the agent output kept for its adapter to parse.
const maxStdoutParse = 4 << 20

// ExecRunner runs the agent command on this machine: a fresh worktree from
// a cached mirror, the task as files, a scrubbed environment, a wall-clock
// limit, and bubblewrap when configured.
type ExecRunner struct {
	Mirrors *workspace.Mirrors
	// RunsDir holds one directory per run (worktree, task files, output,
	// scratch); it is removed when the run has landed.
	RunsDir string
	// Bwrap is the bubblewrap binary; "" runs without a sandbox.
	Bwrap string
	// Environ is the server's environment; agents get only what their
	// pass_env names.
	Environ []string
	Log     *slog.Logger
}

// Name implements Runner.
func (*ExecRunner) Name() string { return "exec" }

// Run implements Runner.
func (e *ExecRunner) Run(ctx context.Context, job *Job) (out *Outcome, err error) {
	adapter, ok := agent.Lookup(job.Agent.Adapter)
	if !ok {
		return nil, fmt.Errorf("agent %q: unknown adapter %q (known: %s)", job.Agent.Name, job.Agent.Adapter, strings.Join(agent.Names(), ", "))
	}
	token, err := job.FetchToken(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(job.Log, "agentgate: fetching %s\n", job.Task.Repository)
	_, err = e.Mirrors.Sync(ctx, job.Task.Repository, workspace.Remote{URL: job.CloneURL, Token: token})
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.RunsDir, job.Run.ID)
	_ = os.RemoveAll(dir)
	taskDir, outDir, scratch := filepath.Join(dir, "task"), filepath.Join(dir, "out"), filepath.Join(dir, "scratch")
	for _, p := range []string{taskDir, outDir, scratch} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, fmt.Errorf("run directory: %w", err)
		}
	}
	wt, err := e.Mirrors.Worktree(ctx, job.Task.Repository, job.Rev, filepath.Join(dir, "work"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	cleanup := func() {
		_ = wt.Remove(context.WithoutCancel(ctx))
		_ = os.RemoveAll(dir)
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	files := map[string][]byte{
		"prompt.md": []byte(job.Files.Prompt), "issue.md": []byte(job.Files.Issue), "task.json": job.Files.TaskJSON,
	}
	if job.Files.Plan != "" {
		files["plan.md"] = []byte(job.Files.Plan)
	}
	if job.Files.Instructions != "" {
		files["instructions.md"] = []byte(job.Files.Instructions)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(taskDir, name), data, 0o644); err != nil {
			return nil, fmt.Errorf("write task file %s: %w", name, err)
		}
	}
	promptFile := filepath.Join(taskDir, "prompt.md")
	inv, err := adapter.Invocation(job.Agent.Command[0], job.Agent.Command[1:], job.Agent.Model,
		agent.Files{Prompt: promptFile, TaskDir: taskDir, OutputDir: outDir, Workdir: wt.Path})
	if err != nil {
		return nil, fmt.Errorf("agent %q: %w", job.Agent.Name, err)
	}
	env := sandbox.ScrubbedEnv(job.Agent.PassEnv, e.Environ, map[string]string{
		"HOME": scratch, "TMPDIR": scratch,
		"AGENTGATE_TASK_ID": job.Task.ID, "AGENTGATE_RUN_ID": job.Run.ID, "AGENTGATE_RUN_KIND": job.Run.Kind,
		"AGENTGATE_REPOSITORY": job.Task.Repository, "AGENTGATE_ISSUE": strconv.Itoa(job.Task.IssueNumber),
		"AGENTGATE_TASK_DIR": taskDir, "AGENTGATE_OUTPUT_DIR": outDir, "AGENTGATE_PROMPT_FILE": promptFile,
		"AGENTGATE_MODEL": job.Agent.Model,
	})
	stdout := &capped{max: maxStdoutParse}
	spec := sandbox.Spec{
		Argv: inv.Argv, StdinFile: inv.StdinFile, Workdir: wt.Path,
		Writable: append([]string{outDir, scratch}, wt.GitDirs()...),
		ReadOnly: append([]string{taskDir}, wt.SharedDirs()...),
		Env:      env, Timeout: job.Timeout,
		Stdout: io.MultiWriter(job.Log, stdout), Stderr: job.Log,
		Bwrap: e.Bwrap, Network: job.Agent.Network,
	}
	if prog := inv.Argv[0]; filepath.IsAbs(prog) {
		// The operator's agent program may live outside the system
		// directories the sandbox shows; show it (the file alone, read-only).
		spec.ReadOnly = append(spec.ReadOnly, prog)
	}
	fmt.Fprintf(job.Log, "agentgate: starting agent %s (%s) in %s\n", job.Agent.Name, adapter.Name(), wt.Path)
	res, err := sandbox.Run(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("start agent %q: %w", job.Agent.Name, err)
	}
	fmt.Fprintf(job.Log, "agentgate: agent exited with status %d after %s (timed out: %t, cancelled: %t, sandboxed: %t)\n",
		res.ExitCode, res.Duration.Round(1e6), res.TimedOut, res.Cancelled, res.Sandboxed)
	report := adapter.Parse(stdout.Bytes())
	if data, err := readCapped(filepath.Join(outDir, "result.json"), 64<<10); err == nil {
		written, err := agent.ReadResult(data)
		if err != nil {
			fmt.Fprintf(job.Log, "agentgate: ignoring result.json: %v\n", err)
		} else {
			report = agent.Merge(report, written)
		}
	}
	if report.Agent == "" {
		report.Agent = job.Agent.Name
	}
	if report.Model == "" {
		report.Model = job.Agent.Model
	}
	out = &Outcome{
		ExitCode: res.ExitCode, TimedOut: res.TimedOut, Cancelled: res.Cancelled, Sandboxed: res.Sandboxed,
		Report: report, Worktree: wt, Cleanup: cleanup,
	}
	if job.Run.Kind == KindPlan {
		if data, err := readCapped(filepath.Join(outDir, "plan.md"), 256<<10); err == nil {
			out.PlanMarkdown = data
		} else if !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(job.Log, "agentgate: cannot read plan.md: %v\n", err)
		}
	}
	return out, nil
}

// readCapped reads a file the agent wrote, refusing more than max bytes
// and anything but a regular file (a symlink to a secret, say).
func readCapped(path string, max int64) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", filepath.Base(path))
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", filepath.Base(path), max)
	}
	return os.ReadFile(path)
}

// capped keeps the first max bytes written.
type capped struct {
	bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
