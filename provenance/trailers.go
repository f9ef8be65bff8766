package provenance

import (
	"slices"
	"strings"
)

// Trailer keys agentgate writes on the commits of agent pull requests.
const (
	TrailerTask         = "Agent-Task"
	TrailerRun          = "Agent-Run"
	TrailerName         = "Agent-Name"
	TrailerModel        = "Agent-Model"
	TrailerPromptSHA256 = "Agent-Prompt-SHA256"
	TrailerCoAuthoredBy = "Co-authored-by"
	TrailerSignedOffBy  = "Signed-off-by"
)

// agentTrailers are the Agent-* keys agentgate writes, in that order.
var agentTrailers = []string{TrailerTask, TrailerRun, TrailerName, TrailerModel, TrailerPromptSHA256}

// canonicalKeys spells well-known keys one way whatever case a commit used
// (git compares trailer keys case-insensitively).
var canonicalKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range append(slices.Clone(agentTrailers), TrailerCoAuthoredBy, TrailerSignedOffBy) {
		m[strings.ToLower(k)] = k
	}
	return m
}()

// gitPrefixes are the lines git itself generates; one of them lets a
// paragraph that is only a quarter trailers count as the trailer block.
var gitPrefixes = []string{TrailerSignedOffBy + ": ", "(cherry picked from commit "}

// Trailer is one "Key: value" trailer, continuation lines unfolded.
type Trailer struct {
	Key   string // well-known keys canonically spelt, others as written
	Value string
}

// Trailers returns the trailers of a commit message in order, following
// git's rules (see the package documentation). Keys may repeat.
func Trailers(message string) []Trailer {
	lines := splitLines(message)
	block := trailerBlock(lines)
	if block < 0 {
		return nil
	}
	var out []Trailer
	last := -1 // index in out of the trailer a continuation line extends
	for _, l := range lines[block:] {
		if strings.HasPrefix(l, "#") {
			continue
		}
		if l != "" && (l[0] == ' ' || l[0] == '\t') {
			if last >= 0 {
				if v := strings.TrimSpace(l); v != "" {
					out[last].Value = strings.TrimSpace(out[last].Value + " " + v)
				}
			}
			continue
		}
		sep := separator(l)
		if sep <= 0 {
			last = -1 // a non-trailer line: its continuations are not ours
			continue
		}
		key := strings.TrimSpace(l[:sep])
		if c, ok := canonicalKeys[strings.ToLower(key)]; ok {
			key = c
		}
		out = append(out, Trailer{Key: key, Value: strings.TrimSpace(l[sep+1:])})
		last = len(out) - 1
	}
	return out
}

// ParseTrailers returns the trailers of a commit message by key. A key that
// occurs more than once (Co-authored-by, typically) maps to its values in
// order joined by "\n"; CoAuthors lists them separately.
func ParseTrailers(message string) map[string]string {
	m := map[string]string{}
	for _, t := range Trailers(message) {
		if prev, ok := m[t.Key]; ok {
			m[t.Key] = prev + "\n" + t.Value
		} else {
			m[t.Key] = t.Value
		}
	}
	return m
}

// AgentTrailers picks Agent-Task, Agent-Run, Agent-Name, Agent-Model and
// Agent-Prompt-SHA256 out of a commit's trailers, keyed by their canonical
// spelling whatever case the commit used.
func AgentTrailers(trailers map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range trailers {
		if c, ok := canonicalKeys[strings.ToLower(k)]; ok && strings.HasPrefix(c, "Agent-") {
			if prev, dup := out[c]; dup && prev != v { // same key in two spellings
				v = prev + "\n" + v
			}
			out[c] = v
		}
	}
	return out
}

// CoAuthors returns the values of every Co-authored-by trailer of a commit
// message, in order (e.g. "Alice <alice@example.com>").
func CoAuthors(message string) []string {
	var out []string
	for _, t := range Trailers(message) {
		if t.Key == TrailerCoAuthoredBy {
			out = append(out, t.Value)
		}
	}
	return out
}

// AppendTrailers adds trailers to a commit message: to its trailer block
// when it has one, else as a new paragraph. Line breaks in keys or values
// become spaces, so a value cannot forge another trailer.
func AppendTrailers(message string, trailers []Trailer) string {
	msg := strings.TrimRight(message, " \t\r\n")
	if len(trailers) == 0 {
		return msg + "\n"
	}
	var sb strings.Builder
	sb.WriteString(msg)
	if msg != "" {
		if trailerBlock(splitLines(msg)) < 0 {
			sb.WriteString("\n\n")
		} else {
			sb.WriteString("\n")
		}
	}
	oneLine := strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")
	for _, t := range trailers {
		sb.WriteString(strings.TrimSpace(oneLine.Replace(t.Key)) + ": " + strings.TrimSpace(oneLine.Replace(t.Value)) + "\n")
	}
	return sb.String()
}

// separator returns the index of the ':' ending a trailer key (letters,
// digits and '-', then optional blanks), or -1; git's find_separator.
func separator(line string) int {
	blank := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ':':
			return i
		case !blank && (c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'):
		case i > 0 && (c == ' ' || c == '\t'):
			blank = true
		default:
			return -1
		}
	}
	return -1
}

func isBlank(l string) bool { return strings.TrimSpace(l) == "" }

// trailerBlock returns the index of the first line of the trailer block,
// or -1 when the message has none; git's find_trailer_block_start.
func trailerBlock(lines []string) int {
	end := len(lines)
	for end > 0 && isBlank(lines[end-1]) {
		end--
	}
	// The first paragraph is the title and cannot be trailers.
	title := 0
	for title < end && !isBlank(lines[title]) {
		title++
	}
	var trailers, nonTrailers, continuations int
	recognised := false
	accept := func(start int) int {
		if trailers > 0 && nonTrailers == 0 || recognised && trailers*3 >= nonTrailers {
			return start
		}
		return -1
	}
	for i := end - 1; i >= title; i-- {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "#"):
			continue
		case isBlank(l):
			nonTrailers += continuations
			return accept(i + 1)
		case l[0] == ' ' || l[0] == '\t':
			continuations++
			continue
		}
		if slices.ContainsFunc(gitPrefixes, func(p string) bool { return strings.HasPrefix(l, p) }) {
			trailers++
			continuations = 0
			recognised = true
			continue
		}
		if separator(l) > 0 {
			trailers++
		} else {
			nonTrailers += continuations + 1
		}
		continuations = 0
	}
	return -1
}
