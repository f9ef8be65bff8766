package agent

import (
	"bytes"
	"encoding/json"
	"strings"
)

// codex is the OpenAI Codex CLI's exec mode.
type codex struct{}

func (codex) Name() string { return "codex" }

func (codex) Invocation(binary string, extraArgs []string, model string, files Files) (Invocation, error) {
	extra, err := prepare(binary, extraArgs, model, files)
	if err != nil {
		return Invocation{}, err
	}
	argv := []string{binary, "exec", "--json", "--sandbox", "workspace-write", "--skip-git-repo-check"}
	if files.Workdir != "" {
		argv = append(argv, "--cd", files.Workdir)
	}
	if files.OutputDir != "" && !inside(files.OutputDir, files.Workdir) {
		argv = append(argv, "--add-dir", files.OutputDir)
	}
	if model != "" {
		argv = append(argv, "--model", model)
	}
	argv = append(argv, extra...)
	return Invocation{Argv: append(argv, "-"), StdinFile: files.Prompt}, nil
}

// codexEvent is the part of an exec --json line Parse reads.
type codexEvent struct {
	Type  string `json:"type"`
	Usage *struct {
		InputTokens       int64 `json:"input_tokens"`
		CachedInputTokens int64 `json:"cached_input_tokens"`
		OutputTokens      int64 `json:"output_tokens"`
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
	Message string `json:"message"`
}

// Parse reads the JSON Lines of codex exec --json.
func (codex) Parse(stdout []byte) Report {
	var (
		rep       Report
		seen      bool
		completed bool
		failed    string
		lastError string
	)
	for line := range bytes.Lines(stdout) {
		var ev codexEvent
		if json.Unmarshal(bytes.TrimSpace(line), &ev) != nil {
			continue
		}
		switch ev.Type {
		case "thread.started", "turn.started":
			seen = true
		case "turn.completed":
			seen, completed = true, true
			if ev.Usage != nil {
				// The usage is the thread's running total: the last one wins.
				// input_tokens already counts the cached input.
				rep.Usage.InputTokens = ev.Usage.InputTokens
				rep.Usage.OutputTokens = ev.Usage.OutputTokens
			}
		case "turn.failed":
			seen = true
			failed = "turn failed"
			if ev.Error != nil && ev.Error.Message != "" {
				failed = ev.Error.Message
			}
		case "error":
			seen = true
			// Reconnect notices come as errors while the turn goes on.
			if ev.Message != "" && !strings.HasPrefix(ev.Message, "Reconnecting") {
				lastError = ev.Message
			}
		}
	}
	if !seen {
		return Report{}
	}
	rep.Agent = "codex"
	rep.Usage = rep.Usage.nonNegative()
	switch {
	case failed != "":
		rep.Error = clipError(failed)
	case !completed && lastError != "":
		rep.Error = clipError(lastError)
	case !completed:
		rep.Error = "codex exited before its turn completed"
	}
	return rep
}
