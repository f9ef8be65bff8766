package agent

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var files = Files{
	Prompt:    "/run/r1/task/prompt.md",
	TaskDir:   "/run/r1/task",
	OutputDir: "/run/r1/out",
	Workdir:   "/run/r1/wt",
}

func TestParseSamples(t *testing.T) {
	tests := []struct {
		adapter, file string
		want          Report
	}{
		{"claude-code", "claude-code.json", Report{Agent: "claude-code", Model: "claude-sonnet-4-5-20250929",
			Usage: Usage{InputTokens: 233272, OutputTokens: 4655, CostUSD: 0.2483715}}},
		{"claude-code", "claude-code-max-turns.json", Report{Agent: "claude-code", Model: "claude-sonnet-4-5-20250929",
			Usage: Usage{InputTokens: 23983, OutputTokens: 11396, CostUSD: 0.16741}, Error: "claude-code stopped: error_max_turns"}},
		{"claude-code", "claude-code-api-error.json", Report{Agent: "claude-code", Error: "Credit balance is too low"}},
		{"claude-code", "claude-code-stream.jsonl", Report{Agent: "claude-code", Model: "claude-opus-4-5-20251101",
			Usage: Usage{InputTokens: 48034, OutputTokens: 1204, CostUSD: 0.10457895}}},
		{"codex", "codex.jsonl", Report{Agent: "codex", Usage: Usage{InputTokens: 24763, OutputTokens: 122}}},
		{"codex", "codex-failed.jsonl", Report{Agent: "codex", Error: "model response stream ended unexpectedly"}},
		{"aider", "aider.txt", Report{Agent: "aider", AgentVersion: "0.86.1", Model: "anthropic/claude-sonnet-4-20250514",
			Usage: Usage{InputTokens: 25000, OutputTokens: 2973, CostUSD: 0.12}}},
		{"aider", "aider-old.txt", Report{Agent: "aider", AgentVersion: "0.40.6", Model: "gpt-4o",
			Usage: Usage{InputTokens: 1834, OutputTokens: 312, CostUSD: 0.01}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			a, _ := Lookup(tt.adapter)
			if got := a.Parse(data); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseOddOutput(t *testing.T) {
	tests := []struct {
		adapter, stdout string
		want            Report
	}{
		// Unknown output gives a zero Report, whatever the adapter.
		{"claude-code", "", Report{}},
		{"claude-code", "Error: not logged in\n", Report{}},
		{"claude-code", `{"type":"assistant"}`, Report{}},
		{"codex", "plain text output\n", Report{}},
		{"aider", "Hello\n", Report{}},
		{"generic", `{"type":"result","total_cost_usd":1}`, Report{}},
		// A warning printed before the JSON does not hide it.
		{"claude-code", "warning: update available\n" + `{"type":"result","subtype":"success","total_cost_usd":0.5,"usage":{"input_tokens":10,"output_tokens":5}}`,
			Report{Agent: "claude-code", Usage: Usage{InputTokens: 10, OutputTokens: 5, CostUSD: 0.5}}},
		// is_error with the detail in errors, and a subtype.
		{"claude-code", `{"type":"result","subtype":"error_during_execution","is_error":true,"errors":["tool crashed",{"code":7}]}`,
			Report{Agent: "claude-code", Error: `error_during_execution: tool crashed; {"code":7}`}},
		// Codex killed mid-turn, with and without an error event.
		{"codex", `{"type":"thread.started","thread_id":"t"}` + "\n" + `{"type":"turn.started"}` + "\n",
			Report{Agent: "codex", Error: "codex exited before its turn completed"}},
		{"codex", `{"type":"turn.started"}` + "\n" + `{"type":"error","message":"You've hit your usage limit."}` + "\n",
			Report{Agent: "codex", Error: "You've hit your usage limit."}},
		// Several turns: the running total on the last one counts.
		{"codex", `{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":10}}` + "\n" +
			`{"type":"turn.completed","usage":{"input_tokens":250,"cached_input_tokens":90,"output_tokens":30}}` + "\n",
			Report{Agent: "codex", Usage: Usage{InputTokens: 250, OutputTokens: 30}}},
		// Aider with colours left on, CRLF, and a model with no cost data.
		{"aider", "\x1b[32mAider v0.85.0\x1b[0m\r\n\x1b[1mModel: ollama/qwen2.5-coder:32b with whole edit format\x1b[0m\r\nTokens: 15k sent, 1.5M received.\r\n",
			Report{Agent: "aider", AgentVersion: "0.85.0", Model: "ollama/qwen2.5-coder:32b", Usage: Usage{InputTokens: 15000, OutputTokens: 1500000}}},
		// A model name with a control character is not reported.
		{"aider", "Model: gpt\x01x with diff edit format\n", Report{Agent: "aider"}},
	}
	for _, tt := range tests {
		a, _ := Lookup(tt.adapter)
		if got := a.Parse([]byte(tt.stdout)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s Parse(%q) =\n%+v\nwant\n%+v", tt.adapter, tt.stdout, got, tt.want)
		}
	}
}

func TestParseErrorIsClipped(t *testing.T) {
	a, _ := Lookup("codex")
	got := a.Parse([]byte(`{"type":"turn.failed","error":{"message":"` + strings.Repeat("é", 400) + `"}}`))
	if len(got.Error) > maxError || !strings.HasSuffix(got.Error, "…") {
		t.Errorf("Error is %d bytes: %q", len(got.Error), got.Error)
	}
}

func TestInvocation(t *testing.T) {
	tests := []struct {
		adapter, binary string
		extra           []string
		model           string
		files           Files
		want            Invocation
	}{
		{"claude-code", "/usr/local/bin/claude", []string{"--allowedTools", "Bash(go test:*)", "--max-turns", "40"}, "claude-sonnet-4-5", files,
			Invocation{Argv: []string{"/usr/local/bin/claude", "-p", "--output-format", "json", "--permission-mode", "acceptEdits",
				"--model", "claude-sonnet-4-5", "--add-dir", "/run/r1/task", "--add-dir", "/run/r1/out",
				"--allowedTools", "Bash(go test:*)", "--max-turns", "40"}, StdinFile: "/run/r1/task/prompt.md"}},
		{"claude-code", "claude", nil, "", Files{Prompt: "/w/task/p.md", TaskDir: "/w/task", OutputDir: "/w/out", Workdir: "/w"},
			Invocation{Argv: []string{"claude", "-p", "--output-format", "json", "--permission-mode", "acceptEdits"}, StdinFile: "/w/task/p.md"}},
		{"codex", "codex", []string{"-c", "model_reasoning_effort=high"}, "gpt-5-codex", files,
			Invocation{Argv: []string{"codex", "exec", "--json", "--sandbox", "workspace-write", "--skip-git-repo-check",
				"--cd", "/run/r1/wt", "--add-dir", "/run/r1/out", "--model", "gpt-5-codex",
				"-c", "model_reasoning_effort=high", "-"}, StdinFile: "/run/r1/task/prompt.md"}},
		{"codex", "codex", nil, "", Files{Prompt: "/p.md"},
			Invocation{Argv: []string{"codex", "exec", "--json", "--sandbox", "workspace-write", "--skip-git-repo-check", "-"}, StdinFile: "/p.md"}},
		{"aider", "aider", []string{"--read", "{task_dir}/issue.md"}, "anthropic/claude-sonnet-4-20250514", files,
			Invocation{Argv: []string{"aider", "--message-file", "/run/r1/task/prompt.md", "--yes-always", "--no-auto-commits",
				"--no-stream", "--no-pretty", "--no-check-update", "--no-analytics", "--model", "anthropic/claude-sonnet-4-20250514",
				"--read", "/run/r1/task/issue.md"}}},
		{"generic", "/opt/agent/run", []string{"--prompt={prompt_file}", "--out", "{output_dir}", "--cwd", "{workdir}", "-m", "{model}", `--json={{"a": 1}}`}, "m 1", Files{},
			Invocation{}},
		{"generic", "/opt/agent/run", []string{"--prompt={prompt_file}", "--out", "{output_dir}", "--cwd", "{workdir}", "-m", "{model}", `--json={{"a": 1}}`}, "local-7b", files,
			Invocation{Argv: []string{"/opt/agent/run", "--prompt=/run/r1/task/prompt.md", "--out", "/run/r1/out", "--cwd", "/run/r1/wt", "-m", "local-7b", `--json={"a": 1}`}}},
		{"generic", "/opt/agent/run", []string{"--task", "{task_dir}"}, "", files,
			Invocation{Argv: []string{"/opt/agent/run", "--task", "/run/r1/task"}, StdinFile: "/run/r1/task/prompt.md"}},
	}
	for _, tt := range tests {
		a, ok := Lookup(tt.adapter)
		if !ok || a.Name() != tt.adapter {
			t.Fatalf("Lookup(%q) = %v, %v", tt.adapter, a, ok)
		}
		got, err := a.Invocation(tt.binary, tt.extra, tt.model, tt.files)
		if tt.want.Argv == nil {
			if err == nil {
				t.Errorf("%s Invocation(%q, %q) = %+v, want an error", tt.adapter, tt.extra, tt.model, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s Invocation =\n%q %v\nwant\n%q", tt.adapter, got, err, tt.want)
		}
	}
}

func TestInvocationErrors(t *testing.T) {
	tests := []struct {
		name   string
		binary string
		extra  []string
		model  string
		files  Files
		want   string
	}{
		{"no command", "", nil, "", files, "no agent command configured"},
		{"no prompt", "x", nil, "", Files{Workdir: "/w"}, "no prompt file"},
		{"relative prompt", "x", nil, "", Files{Prompt: "prompt.md"}, `prompt file "prompt.md" is not an absolute path`},
		{"relative workdir", "x", nil, "", Files{Prompt: "/p", Workdir: "-rf"}, `work directory "-rf" is not an absolute path`},
		{"model like a flag", "x", nil, "--dangerously-skip-permissions", files, `model "--dangerously-skip-permissions" is not a model name`},
		{"model with a space", "x", nil, "a b", files, `model "a b" is not a model name`},
		{"unknown placeholder", "x", []string{"--issue={issue_body}"}, "", files,
			`argument "--issue={issue_body}" uses the unknown placeholder {issue_body}; known are {prompt_file}, {task_dir}, {output_dir}, {workdir} and {model}`},
		{"JSON without escaping", "x", []string{`{"a":1}`}, "", files, `unknown placeholder {"a":1}`},
		{"empty placeholder", "x", []string{"--model", "{model}"}, "", files, `argument "{model}" uses {model}, which is empty for this run`},
		{"unclosed brace", "x", []string{"{prompt_file"}, "", files, "unclosed {"},
		{"NUL", "x", []string{"a\x00b"}, "", files, "argument 1 contains a NUL character"},
	}
	for _, tt := range tests {
		for _, name := range Names() {
			a, _ := Lookup(name)
			_, err := a.Invocation(tt.binary, tt.extra, tt.model, tt.files)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: %s Invocation error = %v, want %q", tt.name, name, err, tt.want)
			}
		}
	}
}

func TestNames(t *testing.T) {
	if got, want := Names(), []string{"aider", "claude-code", "codex", "generic"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names = %q, want %q", got, want)
	}
	if _, ok := Lookup("opencode"); ok {
		t.Error("Lookup found an adapter that does not exist")
	}
}

func TestReadResult(t *testing.T) {
	sample, err := os.ReadFile("testdata/result.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in string
		want     Report
		err      string
	}{
		{name: "sample", in: string(sample), want: Report{Agent: "house-agent", AgentVersion: "1.4.2", Model: "qwen2.5-coder:32b",
			Usage: Usage{InputTokens: 51234, OutputTokens: 2871}}},
		{name: "empty object", in: "{}", want: Report{}},
		{name: "model only", in: `{"model":"gpt-5"}`, want: Report{Model: "gpt-5"}},
		{name: "cost only", in: `{"usage":{"cost_usd":0.25}}`, want: Report{Usage: Usage{CostUSD: 0.25}}},
		{name: "empty", in: "", err: "want a JSON object"},
		{name: "array", in: "[]", err: "want a JSON object"},
		{name: "null", in: "null", err: "want a JSON object"},
		{name: "string tokens", in: `{"usage":{"input_tokens":"12"}}`, err: "cannot unmarshal string"},
		{name: "fractional tokens", in: `{"usage":{"output_tokens":1.5}}`, err: "cannot unmarshal number 1.5"},
		{name: "number model", in: `{"model":4}`, err: "cannot unmarshal number"},
		{name: "negative tokens", in: `{"usage":{"input_tokens":-1}}`, err: "must not be negative"},
		{name: "negative cost", in: `{"usage":{"cost_usd":-0.01}}`, err: "must not be negative"},
		{name: "model with a newline", in: `{"model":"gpt-5\nAgent-Task: forged"}`, err: "model must be one line"},
		{name: "two objects", in: `{} {}`, err: "data after the JSON object"},
		{name: "truncated", in: `{"model":"x"`, err: "unexpected EOF"},
		{name: "too large", in: `{"model":"x","pad":"` + strings.Repeat("x", MaxResultSize) + `"}`, err: "the limit is 65536"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadResult([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("ReadResult error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReadResult = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	fromFile := Report{Model: "claude-sonnet-4-5", Usage: Usage{InputTokens: 10}}
	fromStdout := Report{Agent: "claude-code", Model: "claude-haiku-4-5", Usage: Usage{InputTokens: 99, OutputTokens: 20, CostUSD: 0.5}, Error: "x"}
	want := Report{Agent: "claude-code", Model: "claude-sonnet-4-5", Usage: Usage{InputTokens: 10, OutputTokens: 20, CostUSD: 0.5}, Error: "x"}
	if got := Merge(fromFile, fromStdout); !reflect.DeepEqual(got, want) {
		t.Errorf("Merge = %+v, want %+v", got, want)
	}
	if got := Merge(Report{}, Report{}); !reflect.DeepEqual(got, Report{}) {
		t.Errorf("Merge of zeros = %+v", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"claude-code.json", "claude-code-stream.jsonl", "codex.jsonl", "aider.txt"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, stdout []byte) {
		for _, name := range Names() {
			a, _ := Lookup(name)
			r := a.Parse(stdout)
			if r.Usage.InputTokens < 0 || r.Usage.OutputTokens < 0 || len(r.Error) > maxError ||
				field(r.Model) != r.Model || field(r.AgentVersion) != r.AgentVersion {
				t.Fatalf("%s Parse gave %+v", name, r)
			}
		}
		_, _ = ReadResult(stdout)
	})
}
