package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// MaxResultSize is the largest result.json ReadResult accepts, in bytes.
const MaxResultSize = 64 << 10

// resultFile is the shape of result.json.
type resultFile struct {
	Agent        string `json:"agent"`
	AgentVersion string `json:"agent_version"`
	Model        string `json:"model"`
	Usage        *struct {
		InputTokens  int64   `json:"input_tokens"`
		OutputTokens int64   `json:"output_tokens"`
		CostUSD      float64 `json:"cost_usd"`
	} `json:"usage"`
}

// ReadResult reads the result.json an agent may write:
//
//	{"agent": "my-agent", "agent_version": "1.2.0", "model": "some-model",
//	 "usage": {"input_tokens": 1200, "output_tokens": 800, "cost_usd": 0.12}}
//
// Every field is optional and unknown fields are ignored, but a field of
// the wrong type (a token count that is not a whole number, say), a
// negative number, anything but one JSON object, or more than 64 KiB is an
// error, and so is a string with control characters or longer than 200
// bytes (the model ends up in commit trailers). The strings are still the
// agent's own words: treat them as untrusted.
func ReadResult(data []byte) (Report, error) {
	if len(data) > MaxResultSize {
		return Report{}, fmt.Errorf("result.json is %d bytes; the limit is %d", len(data), MaxResultSize)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Report{}, errors.New("result.json: want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	var f resultFile
	if err := dec.Decode(&f); err != nil {
		return Report{}, fmt.Errorf("result.json: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Report{}, errors.New("result.json: data after the JSON object")
	}
	for _, fld := range []struct{ name, value string }{
		{"agent", f.Agent}, {"agent_version", f.AgentVersion}, {"model", f.Model},
	} {
		if field(fld.value) != fld.value {
			return Report{}, fmt.Errorf("result.json: %s must be one line of at most %d bytes of printable text", fld.name, maxField)
		}
	}
	rep := Report{Agent: f.Agent, AgentVersion: f.AgentVersion, Model: f.Model}
	if u := f.Usage; u != nil {
		if u.InputTokens < 0 || u.OutputTokens < 0 || u.CostUSD < 0 || math.IsNaN(u.CostUSD) || math.IsInf(u.CostUSD, 0) {
			return Report{}, errors.New("result.json: usage counts and cost must not be negative")
		}
		rep.Usage = Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, CostUSD: u.CostUSD}
	}
	return rep, nil
}
