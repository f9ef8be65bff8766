package agent

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Files are the paths of one run. All are absolute; only Prompt is
// required.
type Files struct {
	// Prompt is the file holding the prompt.
	Prompt string
	// TaskDir holds the task as files (issue text, plan, instructions).
	TaskDir string
	// OutputDir is where the agent writes plan.md and result.json.
	OutputDir string
	// Workdir is the worktree the agent changes; the runner starts the
	// agent there.
	Workdir string
}

// Invocation is how to start an agent: exec Argv (Argv[0] is the program)
// with the content of StdinFile on stdin, or nothing on stdin when it is "".
type Invocation struct {
	Argv      []string
	StdinFile string
}

// Usage is what a run used.
type Usage struct {
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
}

// Report is what an agent said about its run.
type Report struct {
	Agent        string `json:"agent,omitempty"`
	AgentVersion string `json:"agent_version,omitempty"`
	Model        string `json:"model,omitempty"`
	Usage        Usage  `json:"usage"`
	// Error is set when the CLI said the run failed. It is the agent's
	// own text, cut to 500 bytes: treat it as untrusted.
	Error string `json:"error,omitempty"`
}

// Adapter runs one kind of agent CLI.
type Adapter interface {
	// Name is the adapter's name in configuration ("claude-code").
	Name() string
	// Invocation returns how to run binary with the operator's extra
	// arguments (placeholders allowed), the model ("" for the CLI's
	// default) and the run's files.
	Invocation(binary string, extraArgs []string, model string, files Files) (Invocation, error)
	// Parse reads what the CLI printed on stdout. It never fails: output
	// it does not recognise gives a zero Report.
	Parse(stdout []byte) Report
}

var adapters = map[string]Adapter{
	"claude-code": claudeCode{},
	"codex":       codex{},
	"aider":       aider{},
	"generic":     generic{},
}

// Lookup returns the adapter called name.
func Lookup(name string) (Adapter, bool) {
	a, ok := adapters[name]
	return a, ok
}

// Names returns the adapters' names, sorted.
func Names() []string {
	names := make([]string, 0, len(adapters))
	for n := range adapters {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// maxField bounds Report's name fields, in bytes.
const maxField = 200

// field returns s when it can go into a Report's Agent, AgentVersion or
// Model (and on into a commit trailer): valid UTF-8, no control or
// invisible format characters, at most maxField bytes. Otherwise it
// returns "".
func field(s string) string {
	if len(s) > maxField || !utf8.ValidString(s) {
		return ""
	}
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) {
		return ""
	}
	return s
}

// nonNegative zeroes negative counts, which no CLI means to print.
func (u Usage) nonNegative() Usage {
	return Usage{InputTokens: max(u.InputTokens, 0), OutputTokens: max(u.OutputTokens, 0), CostUSD: max(u.CostUSD, 0)}
}

// maxError bounds Report.Error, in bytes.
const maxError = 500

// clipError trims s and cuts it to maxError bytes on a rune boundary.
func clipError(s string) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
	if len(s) <= maxError {
		return s
	}
	cut := maxError - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// prepare checks what every adapter needs and expands the placeholders in
// extraArgs.
func prepare(binary string, extraArgs []string, model string, files Files) ([]string, error) {
	if binary == "" {
		return nil, errors.New("no agent command configured")
	}
	if strings.ContainsRune(binary, 0) {
		return nil, errors.New("agent command contains a NUL character")
	}
	if files.Prompt == "" {
		return nil, errors.New("no prompt file")
	}
	for _, f := range []struct{ name, path string }{
		{"prompt file", files.Prompt}, {"task directory", files.TaskDir},
		{"output directory", files.OutputDir}, {"work directory", files.Workdir},
	} {
		if f.path == "" {
			continue
		}
		if !filepath.IsAbs(f.path) || strings.ContainsRune(f.path, 0) {
			return nil, fmt.Errorf("%s %q is not an absolute path", f.name, f.path)
		}
	}
	if model != "" {
		r, _ := utf8.DecodeRuneInString(model)
		if r == '-' || strings.ContainsFunc(model, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
			return nil, fmt.Errorf("model %q is not a model name", model)
		}
	}
	return expand(extraArgs, model, files)
}

// expand replaces the placeholders in args.
func expand(args []string, model string, files Files) ([]string, error) {
	values := map[string]string{
		"prompt_file": files.Prompt,
		"task_dir":    files.TaskDir,
		"output_dir":  files.OutputDir,
		"workdir":     files.Workdir,
		"model":       model,
	}
	out := make([]string, 0, len(args))
	for i, arg := range args {
		if strings.ContainsRune(arg, 0) {
			return nil, fmt.Errorf("argument %d contains a NUL character", i+1)
		}
		var b strings.Builder
		for j := 0; j < len(arg); j++ {
			switch c := arg[j]; {
			case c == '{' && j+1 < len(arg) && arg[j+1] == '{':
				b.WriteByte('{')
				j++
			case c == '}' && j+1 < len(arg) && arg[j+1] == '}':
				b.WriteByte('}')
				j++
			case c == '{':
				end := strings.IndexByte(arg[j:], '}')
				if end < 0 {
					return nil, fmt.Errorf("argument %q has an unclosed { (write {{ for a literal brace)", arg)
				}
				name := arg[j+1 : j+end]
				v, ok := values[name]
				if !ok {
					return nil, fmt.Errorf("argument %q uses the unknown placeholder {%s}; known are {prompt_file}, {task_dir}, {output_dir}, {workdir} and {model} (write {{ and }} for literal braces)", arg, name)
				}
				if v == "" {
					return nil, fmt.Errorf("argument %q uses {%s}, which is empty for this run", arg, name)
				}
				b.WriteString(v)
				j += end
			default:
				b.WriteByte(c)
			}
		}
		out = append(out, b.String())
	}
	return out, nil
}

// inside reports whether dir is root or below it.
func inside(dir, root string) bool {
	if root == "" {
		return false
	}
	rel, err := filepath.Rel(filepath.Clean(root), filepath.Clean(dir))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// Merge returns primary with its unset fields (empty strings, zero numbers)
// taken from fallback, field by field; usage counts are taken one by one.
// Use it as Merge(fromResultJSON, fromStdout) or the other way round,
// whichever source the runner trusts more.
func Merge(primary, fallback Report) Report {
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	out := Report{
		Agent:        pick(primary.Agent, fallback.Agent),
		AgentVersion: pick(primary.AgentVersion, fallback.AgentVersion),
		Model:        pick(primary.Model, fallback.Model),
		Error:        pick(primary.Error, fallback.Error),
		Usage:        primary.Usage,
	}
	if out.Usage.InputTokens == 0 {
		out.Usage.InputTokens = fallback.Usage.InputTokens
	}
	if out.Usage.OutputTokens == 0 {
		out.Usage.OutputTokens = fallback.Usage.OutputTokens
	}
	if out.Usage.CostUSD == 0 {
		out.Usage.CostUSD = fallback.Usage.CostUSD
	}
	return out
}
