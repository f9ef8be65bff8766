package agent

import (
	"slices"
	"strings"
)

// generic runs the operator's command as written.
type generic struct{}

func (generic) Name() string { return "generic" }

// Invocation expands the placeholders in extraArgs. The prompt goes on
// stdin unless an argument mentions {prompt_file}. model is only used
// through {model}.
func (generic) Invocation(binary string, extraArgs []string, model string, files Files) (Invocation, error) {
	args, err := prepare(binary, extraArgs, model, files)
	if err != nil {
		return Invocation{}, err
	}
	inv := Invocation{Argv: append([]string{binary}, args...)}
	if !slices.ContainsFunc(extraArgs, func(a string) bool {
		return strings.Contains(strings.ReplaceAll(a, "{{", ""), "{prompt_file}")
	}) {
		inv.StdinFile = files.Prompt
	}
	return inv, nil
}

// Parse reads nothing: a generic agent reports through result.json.
func (generic) Parse([]byte) Report { return Report{} }
