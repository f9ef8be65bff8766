package provenance

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// InfoString is the first word of the provenance block's fence info string;
// the second is the version.
const InfoString = "agentgate-provenance"

// Version1 is the block version this package reads and writes.
const Version1 = "v1"

// Keys of the provenance block, in the order Write renders them.
const (
	KeyTask            = "task"
	KeyPlan            = "plan"
	KeyPlanSHA256      = "plan_sha256"
	KeyTriggerActor    = "trigger_actor"
	KeyTriggerDelivery = "trigger_delivery"
	KeyAgent           = "agent"
	KeyAgentVersion    = "agent_version"
	KeyModel           = "model"
	KeyPromptSHA256    = "prompt_sha256"
	KeyBaseSHA         = "base_sha"
	KeyHeadSHA         = "head_sha"
	KeyRunner          = "runner"
	KeyUsage           = "usage"
	KeyRevisions       = "revisions"
	KeyInvolvement     = "involvement"
)

// Involvement values: how much of the change the agent made.
const (
	InvolvementAuthored    = "authored"    // the agent wrote the change
	InvolvementTransformed = "transformed" // the agent rewrote a person's change (e.g. a port or refactor)
	InvolvementSuggested   = "suggested"   // a person wrote the change from the agent's suggestions
)

// ExtensionPrefix starts the keys other tools may add; they hold text.
const ExtensionPrefix = "x-"

type kind int

const (
	kindText kind = iota
	kindSHA256
	kindGitSHA
	kindInt
	kindUsage
	kindInvolvement
)

var keyOrder = []string{
	KeyTask, KeyPlan, KeyPlanSHA256, KeyTriggerActor, KeyTriggerDelivery,
	KeyAgent, KeyAgentVersion, KeyModel, KeyPromptSHA256, KeyBaseSHA,
	KeyHeadSHA, KeyRunner, KeyUsage, KeyRevisions, KeyInvolvement,
}

var keyKinds = map[string]kind{
	KeyTask: kindText, KeyPlan: kindText, KeyPlanSHA256: kindSHA256,
	KeyTriggerActor: kindText, KeyTriggerDelivery: kindText,
	KeyAgent: kindText, KeyAgentVersion: kindText, KeyModel: kindText,
	KeyPromptSHA256: kindSHA256, KeyBaseSHA: kindGitSHA, KeyHeadSHA: kindGitSHA,
	KeyRunner: kindText, KeyUsage: kindUsage, KeyRevisions: kindInt,
	KeyInvolvement: kindInvolvement,
}

// Keys returns the known keys of a version 1 block, in rendering order.
func Keys() []string { return slices.Clone(keyOrder) }

// KnownKey reports whether key is a version 1 key (extensions excluded).
func KnownKey(key string) bool { _, ok := keyKinds[key]; return ok }

// Fields are a block's values by key. Values are string for text, digests
// and involvement, int for revisions and Usage for usage; extension keys
// ("x-...") hold strings. As map[string]any it is what policy.Provenance
// carries (and Rego sees) without conversion.
type Fields map[string]any

// Text returns the string value of key, or "" when absent or not text.
func (f Fields) Text(key string) string { s, _ := f[key].(string); return s }

// Usage is what a run cost, as the runner reported it.
type Usage struct {
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
}

// Error is a precise complaint about the provenance block. It has the same
// fields as policy.ProvenanceError, so policy.ProvenanceError(e) converts it.
type Error struct {
	Field   string `json:"field,omitempty"`
	Line    int    `json:"line,omitempty"` // line in the PR body, from 1
	Message string `json:"message"`
}

func (e Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Message)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Message)
}

// Block is what Parse found in a pull request body.
type Block struct {
	Present bool   // a block was found (even a broken one)
	Version string // from the info string, e.g. "v1"
	Fields  Fields // never nil
	Errors  []Error
	// StartLine and EndLine are the lines (from 1) of the block's opening
	// and closing fences; EndLine is the body's last line when the block is
	// not closed. Both are 0 when there is no block.
	StartLine, EndLine int
}

// span is one provenance block's place in a body: lines [open, close],
// 0-based; close == len(lines) when unterminated.
type span struct {
	open, close int
	info        string
}

// splitLines splits a body into lines without their "\n" or "\r\n".
func splitLines(body string) []string {
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

type fence struct {
	char byte
	n    int
	info string
}

// openingFence recognises a CommonMark fence opening.
func openingFence(line string) (fence, bool) {
	rest, ok := stripIndent(line)
	if !ok || len(rest) < 3 || (rest[0] != '`' && rest[0] != '~') {
		return fence{}, false
	}
	c := rest[0]
	n := 0
	for n < len(rest) && rest[n] == c {
		n++
	}
	if n < 3 {
		return fence{}, false
	}
	info := strings.TrimSpace(rest[n:])
	if c == '`' && strings.ContainsRune(info, '`') {
		return fence{}, false
	}
	return fence{char: c, n: n, info: info}, true
}

func (f fence) closedBy(line string) bool {
	rest, ok := stripIndent(line)
	if !ok {
		return false
	}
	n := 0
	for n < len(rest) && rest[n] == f.char {
		n++
	}
	return n >= f.n && strings.TrimSpace(rest[n:]) == ""
}

// stripIndent removes up to three leading spaces; four or more make an
// indented code line, never a fence.
func stripIndent(line string) (string, bool) {
	i := 0
	for i < len(line) && line[i] == ' ' {
		i++
	}
	if i > 3 {
		return "", false
	}
	return line[i:], true
}

// spans finds the provenance blocks of a body, skipping other fenced blocks
// (and anything inside them).
func spans(lines []string) []span {
	var out []span
	for i := 0; i < len(lines); i++ {
		f, ok := openingFence(lines[i])
		if !ok {
			continue
		}
		j := i + 1
		for j < len(lines) && !f.closedBy(lines[j]) {
			j++
		}
		if words := strings.Fields(f.info); len(words) > 0 && words[0] == InfoString {
			out = append(out, span{open: i, close: j, info: f.info})
		}
		i = j
	}
	return out
}

// Parse finds and reads the provenance block of a pull request body. It
// never fails: problems are Errors with the line in the body. CRLF line
// endings are tolerated.
func Parse(body string) Block {
	b := Block{Fields: Fields{}}
	lines := splitLines(body)
	found := spans(lines)
	if len(found) == 0 {
		return b
	}
	first := found[0]
	b.Present = true
	b.StartLine = first.open + 1
	b.EndLine = min(first.close, len(lines)-1) + 1
	for _, s := range found[1:] {
		b.errorf(s.open+1, "", "more than one provenance block (the first is at line %d)", b.StartLine)
	}
	fields := strings.Fields(first.info)
	switch {
	case len(fields) < 2:
		b.errorf(b.StartLine, "", "provenance block has no version: want %q", "```"+InfoString+" "+Version1)
	case fields[1] != Version1:
		b.Version = fields[1]
		b.errorf(b.StartLine, "", "unknown provenance block version %q (this agentgate reads %s)", fields[1], Version1)
	case len(fields) > 2:
		b.Version = fields[1]
		b.errorf(b.StartLine, "", "unexpected %q after the version", strings.Join(fields[2:], " "))
	default:
		b.Version = Version1
	}
	if first.close == len(lines) {
		b.errorf(b.StartLine, "", "provenance block is not closed: add a closing fence")
	}
	if b.Version == Version1 {
		b.readFields(lines, first)
	}
	slices.SortStableFunc(b.Errors, func(x, y Error) int { return x.Line - y.Line })
	return b
}

func (b *Block) errorf(line int, field, format string, args ...any) {
	b.Errors = append(b.Errors, Error{Field: field, Line: line, Message: fmt.Sprintf(format, args...)})
}

func (b *Block) readFields(lines []string, s span) {
	seen := map[string]int{}
	for i := s.open + 1; i < s.close; i++ {
		n := i + 1
		t := strings.TrimSpace(lines[i])
		if t == "" || t[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(t, ":")
		if !ok || !validKeySyntax(key) {
			b.errorf(n, "", "malformed line %q: want \"key: value\" with a lower-case key", clip(t))
			continue
		}
		val = strings.TrimSpace(val)
		if prev, dup := seen[key]; dup {
			b.errorf(n, key, "duplicate key (first at line %d)", prev)
			continue
		}
		seen[key] = n
		k, known := keyKinds[key]
		if !known && !strings.HasPrefix(key, ExtensionPrefix) {
			b.errorf(n, key, "unknown field (known: %s; extensions start with %q)", strings.Join(keyOrder, ", "), ExtensionPrefix)
			continue
		}
		if !known {
			k = kindText
		}
		v, err := parseValue(k, val)
		if err != nil {
			b.errorf(n, key, "%s", err)
			continue
		}
		b.Fields[key] = v
	}
}

// validKeySyntax: a known-style key ([a-z][a-z0-9_]*) or an extension
// ("x-" then [a-z0-9_-]+).
func validKeySyntax(key string) bool {
	if rest, ok := strings.CutPrefix(key, ExtensionPrefix); ok {
		return rest != "" && strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz0123456789_-") == ""
	}
	return key != "" && key[0] >= 'a' && key[0] <= 'z' &&
		strings.Trim(key, "abcdefghijklmnopqrstuvwxyz0123456789_") == ""
}

func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	i := 77
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

// parseValue checks and converts one value; the same rules back Validate,
// so whatever Parse accepts, Write renders back unchanged.
func parseValue(k kind, val string) (any, error) {
	if err := checkText(val); err != nil {
		return nil, err
	}
	switch k {
	case kindSHA256:
		return val, checkHex(val, 64)
	case kindGitSHA:
		return val, checkHex(val, 40)
	case kindInt:
		if strings.Trim(val, "0123456789") != "" || (len(val) > 1 && val[0] == '0') {
			return nil, fmt.Errorf("%q is not a non-negative integer", clip(val))
		}
		n, err := strconv.Atoi(val)
		if err != nil {
			return nil, fmt.Errorf("%q is out of range", clip(val))
		}
		return n, nil
	case kindUsage:
		return parseUsage(val)
	case kindInvolvement:
		switch val {
		case InvolvementAuthored, InvolvementTransformed, InvolvementSuggested:
			return val, nil
		}
		return nil, fmt.Errorf("unknown involvement %q: want %s, %s or %s", clip(val), InvolvementAuthored, InvolvementTransformed, InvolvementSuggested)
	}
	return val, nil
}

func checkText(s string) error {
	switch {
	case s == "":
		return errors.New("empty value")
	case !utf8.ValidString(s):
		return errors.New("value is not valid UTF-8")
	case strings.ContainsFunc(s, unicode.IsControl):
		return errors.New("value contains a control character")
	case strings.TrimSpace(s) != s:
		return errors.New("value has leading or trailing white space")
	}
	return nil
}

func checkHex(s string, n int) error {
	if len(s) != n || strings.Trim(s, "0123456789abcdef") != "" {
		return fmt.Errorf("want %d lower-case hex digits, got %q (%d characters)", n, clip(s), utf8.RuneCountInString(s))
	}
	return nil
}

// parseUsage reads a one-line JSON object strictly: known members only, no
// duplicates, non-negative numbers, integral token counts.
func parseUsage(val string) (Usage, error) {
	var u Usage
	bad := func(format string, args ...any) (Usage, error) {
		return Usage{}, fmt.Errorf("usage: "+format, args...)
	}
	dec := json.NewDecoder(strings.NewReader(val))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return bad("want a JSON object like %s", `{"input_tokens":1200,"output_tokens":800,"cost_usd":0.12}`)
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return bad("malformed JSON: %v", err)
		}
		name, _ := t.(string)
		if seen[name] {
			return bad("duplicate member %q", name)
		}
		seen[name] = true
		t, err = dec.Token()
		if err != nil {
			return bad("malformed JSON: %v", err)
		}
		num, ok := t.(json.Number)
		if !ok {
			return bad("%s: want a number", name)
		}
		switch name {
		case "input_tokens", "output_tokens":
			v, err := strconv.ParseInt(string(num), 10, 64)
			if err != nil || v < 0 {
				return bad("%s: want a non-negative integer, got %s", name, num)
			}
			if name == "input_tokens" {
				u.InputTokens = v
			} else {
				u.OutputTokens = v
			}
		case "cost_usd":
			v, err := strconv.ParseFloat(string(num), 64)
			if err != nil || v < 0 || math.IsInf(v, 0) {
				return bad("%s: want a non-negative number, got %s", name, num)
			}
			u.CostUSD = v
		default:
			return bad("unknown member %q (known: input_tokens, output_tokens, cost_usd)", name)
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return bad("malformed JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("unexpected text after the JSON object")
	}
	return u, nil
}

func formatUsage(u Usage) string {
	return fmt.Sprintf(`{"input_tokens":%d,"output_tokens":%d,"cost_usd":%s}`,
		u.InputTokens, u.OutputTokens, strconv.FormatFloat(u.CostUSD, 'g', -1, 64))
}

// Validate reports every field Write could not render so that Parse reads
// it back unchanged: unknown keys, wrong types, bad digests and text with
// control characters or surrounding white space.
func (f Fields) Validate() error {
	var errs []error
	for _, key := range sortedKeys(f) {
		k, known := keyKinds[key]
		switch {
		case known:
		case strings.HasPrefix(key, ExtensionPrefix) && validKeySyntax(key):
			k = kindText
		default:
			errs = append(errs, fmt.Errorf("%s: unknown field", key))
			continue
		}
		var err error
		switch v := f[key].(type) {
		case string:
			if k == kindInt || k == kindUsage {
				err = fmt.Errorf("want %s, got a string", map[kind]string{kindInt: "an int", kindUsage: "a Usage"}[k])
			} else {
				_, err = parseValue(k, v)
			}
		case int:
			if k != kindInt {
				err = errors.New("want a string, got an int")
			} else if v < 0 {
				err = errors.New("must not be negative")
			}
		case Usage:
			if k != kindUsage {
				err = errors.New("want a string, got a Usage")
			} else if v.InputTokens < 0 || v.OutputTokens < 0 || !(v.CostUSD >= 0) || math.IsInf(v.CostUSD, 0) {
				err = errors.New("usage must be non-negative and finite")
			}
		default:
			err = fmt.Errorf("unsupported value type %T", v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	return errors.Join(errs...)
}

func sortedKeys(f Fields) []string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Write renders fields as a version 1 block, ending in a newline: known keys
// in the documented order, then extensions sorted. It is deterministic, and
// Parse(Write(f)).Fields equals f whenever f.Validate() is nil. Write never
// lets a value break out of its line: control characters in text become
// U+FFFD, and keys that are neither known nor extensions are left out.
func Write(fields Fields) string {
	var sb strings.Builder
	sb.WriteString("```" + InfoString + " " + Version1 + "\n")
	line := func(key string) {
		v, ok := fields[key]
		if !ok {
			return
		}
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case int:
			s = strconv.Itoa(v)
		case Usage:
			s = formatUsage(v)
		default:
			s = fmt.Sprint(v)
		}
		s = strings.TrimSpace(strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return utf8.RuneError
			}
			return r
		}, s))
		if s == "" {
			return
		}
		sb.WriteString(key + ": " + s + "\n")
	}
	for _, key := range keyOrder {
		line(key)
	}
	for _, key := range sortedKeys(fields) {
		if !KnownKey(key) && strings.HasPrefix(key, ExtensionPrefix) && validKeySyntax(key) {
			line(key)
		}
	}
	sb.WriteString("```\n")
	return sb.String()
}

// Strip removes every provenance block from body, and nothing else: the
// lines of the blocks (fences included) go, every other byte stays.
func Strip(body string) string {
	out, _, _ := cut(body)
	return out
}

// Replace puts Write(fields) where body's first provenance block was (all
// provenance blocks are removed), or appends it after a blank line when
// there was none. CRLF bodies get CRLF lines.
func Replace(body string, fields Fields) string {
	stripped, at, crlf := cut(body)
	block := strings.TrimSuffix(Write(fields), "\n")
	if crlf {
		block = strings.ReplaceAll(block, "\n", "\r\n")
	}
	nl := "\n"
	if crlf {
		nl = "\r\n"
	}
	if at < 0 {
		trimmed := strings.TrimRight(stripped, "\r\n")
		if trimmed == "" {
			return block + nl
		}
		return trimmed + nl + nl + block + nl
	}
	segs := strings.Split(stripped, "\n")
	if at == len(segs) { // the block was last; end it with a newline
		return strings.Join(append(segs, block), "\n") + nl
	}
	if crlf {
		block += "\r" // the "\n" joining the next line completes its "\r\n"
	}
	return strings.Join(slices.Insert(segs, at, block), "\n")
}

// cut removes the provenance blocks' lines, returning the rest, the index
// of the first removed line (or -1) and whether the body uses CRLF.
func cut(body string) (string, int, bool) {
	segs := strings.Split(body, "\n")
	found := spans(splitLines(body))
	if len(found) == 0 {
		return body, -1, strings.Contains(body, "\r\n")
	}
	crlf := strings.HasSuffix(segs[found[0].open], "\r")
	drop := make([]bool, len(segs))
	for _, s := range found {
		for i := s.open; i <= s.close && i < len(segs); i++ {
			drop[i] = true
		}
	}
	var kept []string
	for i, s := range segs {
		if !drop[i] {
			kept = append(kept, s)
		}
	}
	return strings.Join(kept, "\n"), found[0].open, crlf
}
