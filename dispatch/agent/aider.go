package agent

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

// aider is Aider in one-message scripting mode.
type aider struct{}

func (aider) Name() string { return "aider" }

func (aider) Invocation(binary string, extraArgs []string, model string, files Files) (Invocation, error) {
	extra, err := prepare(binary, extraArgs, model, files)
	if err != nil {
		return Invocation{}, err
	}
	argv := []string{binary, "--message-file", files.Prompt, "--yes-always", "--no-auto-commits",
		"--no-stream", "--no-pretty", "--no-check-update", "--no-analytics"}
	if model != "" {
		argv = append(argv, "--model", model)
	}
	return Invocation{Argv: append(argv, extra...)}, nil
}

var (
	ansiEscape   = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]`)
	aiderVersion = regexp.MustCompile(`^Aider v(\S+)`)
	aiderModel   = regexp.MustCompile(`^(?:Main model|Model): (\S+)`)
	aiderTokens  = regexp.MustCompile(`^Tokens: ([0-9][0-9,.]*[kKmM]?) sent(?:, .*?)?, ([0-9][0-9,.]*[kKmM]?) received\.`)
	aiderCost    = regexp.MustCompile(`Cost: \$([0-9][0-9,]*(?:\.[0-9]+)?) (?:message|request), \$([0-9][0-9,]*(?:\.[0-9]+)?) session\.`)
)

// Parse reads Aider's announcement lines and its usage reports.
func (aider) Parse(stdout []byte) Report {
	var rep Report
	var seen bool
	var messageCost float64
	var sessionCost = -1.0
	text := ansiEscape.ReplaceAllString(strings.ReplaceAll(string(stdout), "\r", "\n"), "")
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if m := aiderVersion.FindStringSubmatch(line); m != nil && rep.AgentVersion == "" {
			rep.AgentVersion, seen = field(m[1]), true
			continue
		}
		if m := aiderModel.FindStringSubmatch(line); m != nil && rep.Model == "" {
			rep.Model, seen = field(m[1]), true
			continue
		}
		if m := aiderTokens.FindStringSubmatch(line); m != nil {
			sent, ok1 := aiderCount(m[1])
			received, ok2 := aiderCount(m[2])
			if ok1 && ok2 {
				rep.Usage.InputTokens += sent
				rep.Usage.OutputTokens += received
				seen = true
			}
		}
		if m := aiderCost.FindStringSubmatch(line); m != nil {
			msg, err1 := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
			session, err2 := strconv.ParseFloat(strings.ReplaceAll(m[2], ",", ""), 64)
			if err1 == nil && err2 == nil {
				messageCost += msg
				sessionCost = session
				seen = true
			}
		}
	}
	if !seen {
		return Report{}
	}
	rep.Agent = "aider"
	// The session cost is the running total; the message costs are a
	// fallback that only matters if a version stops printing it.
	if sessionCost >= 0 {
		rep.Usage.CostUSD = sessionCost
	} else {
		rep.Usage.CostUSD = messageCost
	}
	return rep
}

// aiderCount reads a token count as Aider prints it: "412", "2,300",
// "2.3k", "15k" (and "1.2M" to be safe).
func aiderCount(s string) (int64, bool) {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, s = 1e6, s[:len(s)-1]
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
	if err != nil || f < 0 || math.IsInf(f*mult, 0) || f*mult > math.MaxInt64/2 {
		return 0, false
	}
	return int64(math.Round(f * mult)), true
}
