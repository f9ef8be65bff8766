package agent

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
)

// claudeCode is Anthropic's Claude Code CLI in print mode.
type claudeCode struct{}

func (claudeCode) Name() string { return "claude-code" }

func (claudeCode) Invocation(binary string, extraArgs []string, model string, files Files) (Invocation, error) {
	extra, err := prepare(binary, extraArgs, model, files)
	if err != nil {
		return Invocation{}, err
	}
	argv := []string{binary, "-p", "--output-format", "json", "--permission-mode", "acceptEdits"}
	if model != "" {
		argv = append(argv, "--model", model)
	}
	for _, dir := range []string{files.TaskDir, files.OutputDir} {
		if dir != "" && !inside(dir, files.Workdir) {
			argv = append(argv, "--add-dir", dir)
		}
	}
	return Invocation{Argv: append(argv, extra...), StdinFile: files.Prompt}, nil
}

// claudeResult is the part of Claude Code's result object Parse reads.
type claudeResult struct {
	Type         string  `json:"type"`
	Subtype      string  `json:"subtype"`
	IsError      bool    `json:"is_error"`
	Result       string  `json:"result"`
	TotalCostUSD float64 `json:"total_cost_usd"`
	Usage        struct {
		InputTokens              int64 `json:"input_tokens"`
		CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
		OutputTokens             int64 `json:"output_tokens"`
	} `json:"usage"`
	ModelUsage map[string]struct {
		InputTokens              int64   `json:"inputTokens"`
		OutputTokens             int64   `json:"outputTokens"`
		CacheReadInputTokens     int64   `json:"cacheReadInputTokens"`
		CacheCreationInputTokens int64   `json:"cacheCreationInputTokens"`
		CostUSD                  float64 `json:"costUSD"`
	} `json:"modelUsage"`
	Errors []json.RawMessage `json:"errors"`
	// Model is on the stream-json "system"/"init" line.
	Model string `json:"model"`
}

// Parse reads the result object of --output-format json, or the last
// "result" line of stream-json.
func (claudeCode) Parse(stdout []byte) Report {
	var res *claudeResult
	var initModel string
	var whole claudeResult
	if json.Unmarshal(bytes.TrimSpace(stdout), &whole) == nil && whole.Type == "result" {
		res = &whole
	} else {
		for line := range bytes.Lines(stdout) {
			var r claudeResult
			if json.Unmarshal(bytes.TrimSpace(line), &r) != nil {
				continue
			}
			switch r.Type {
			case "result":
				res = &r
			case "system":
				if r.Subtype == "init" && r.Model != "" {
					initModel = field(r.Model)
				}
			}
		}
	}
	if res == nil {
		return Report{Model: initModel}
	}
	rep := Report{Agent: "claude-code", Model: initModel}

	// usage is the session's total for the main model; modelUsage splits
	// it by model (subagents and helpers included) and names them. Some
	// versions leave parts of one or the other at zero, so take the larger.
	in := res.Usage.InputTokens + res.Usage.CacheCreationInputTokens + res.Usage.CacheReadInputTokens
	out := res.Usage.OutputTokens
	var mIn, mOut int64
	var mCost float64
	names := make([]string, 0, len(res.ModelUsage))
	for name, m := range res.ModelUsage {
		names = append(names, name)
		mIn += m.InputTokens + m.CacheCreationInputTokens + m.CacheReadInputTokens
		mOut += m.OutputTokens
		mCost += m.CostUSD
	}
	rep.Usage = Usage{InputTokens: max(in, mIn), OutputTokens: max(out, mOut), CostUSD: res.TotalCostUSD}
	if rep.Usage.CostUSD == 0 {
		rep.Usage.CostUSD = mCost
	}
	rep.Usage = rep.Usage.nonNegative()
	// The model is the one that cost the most (ties: most output, then
	// name), so a cheap helper model does not hide the main one.
	sort.Slice(names, func(i, j int) bool {
		a, b := res.ModelUsage[names[i]], res.ModelUsage[names[j]]
		if a.CostUSD != b.CostUSD {
			return a.CostUSD > b.CostUSD
		}
		if a.OutputTokens != b.OutputTokens {
			return a.OutputTokens > b.OutputTokens
		}
		return names[i] < names[j]
	})
	if len(names) > 0 {
		rep.Model = field(names[0])
	}

	failed := res.IsError || strings.HasPrefix(res.Subtype, "error")
	if failed {
		var msgs []string
		if res.IsError && res.Result != "" {
			msgs = append(msgs, res.Result)
		}
		for _, e := range res.Errors {
			var s string
			if json.Unmarshal(e, &s) != nil {
				s = string(e)
			}
			if s != "" {
				msgs = append(msgs, s)
			}
		}
		msg := strings.Join(msgs, "; ")
		switch {
		case msg == "" && res.Subtype != "" && res.Subtype != "success":
			msg = "claude-code stopped: " + res.Subtype
		case msg == "":
			msg = "claude-code reported an error"
		case res.Subtype != "" && res.Subtype != "success":
			msg = res.Subtype + ": " + msg
		}
		rep.Error = clipError(msg)
	}
	return rep
}
