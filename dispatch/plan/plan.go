package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on a plan.
const (
	// MaxSize is the largest plan.md Parse accepts, in bytes.
	MaxSize = 64 << 10
	// MaxPaths is the most globs a Files section may list.
	MaxPaths = 200
	// maxTitle bounds Title, in runes.
	maxTitle = 200
)

// Plan is a parsed plan.md.
type Plan struct {
	// Body is the normalised document (see the package documentation); it
	// is what SHA256 and ID are computed from.
	Body string
	// SHA256 is the lower-case hex SHA-256 digest of Body.
	SHA256 string
	// ID is "p-" followed by the first 8 hex digits of SHA256.
	ID string
	// Title is the text of the first level-1 heading, or else the first
	// non-blank line, trimmed to 200 characters.
	Title string
	// Paths are the globs of the Files section, normalised, without
	// duplicates, in the order written.
	Paths []string
	// Acceptance are the items of the Acceptance section, in order.
	Acceptance []string
	// Sections are the level-2 sections in the order written.
	Sections []Section
}

// Section is one level-2 section of a plan.
type Section struct {
	// Heading is the heading text without the leading "##".
	Heading string
	// Line is the 1-based line of the heading in Body.
	Line int
	// Text is the section's content up to the next level-2 heading,
	// without leading and trailing blank lines.
	Text string
}

// Error is a problem with a plan, with the line of Body it is about (0 when
// it is about the whole document).
type Error struct {
	Line    int
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("plan.md:%d: %s", e.Line, e.Message)
	}
	return "plan.md: " + e.Message
}

func errorf(line int, format string, args ...any) *Error {
	return &Error{Line: line, Message: fmt.Sprintf(format, args...)}
}

// Allows reports whether the plan's Files section covers the repository
// path name (see Match).
func (p Plan) Allows(name string) bool {
	for _, g := range p.Paths {
		if Match(g, name) {
			return true
		}
	}
	return false
}

// ValidID reports whether id has the form of a plan ID: "p-" followed by 8
// lower-case hex digits.
func ValidID(id string) bool {
	if len(id) != 10 || !strings.HasPrefix(id, "p-") {
		return false
	}
	for _, c := range []byte(id[2:]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Normalise returns the normalised form of a plan document, the text whose
// digest identifies the plan. It does not validate anything.
func Normalise(data []byte) string {
	s := strings.TrimLeft(string(data), "\ufeff")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// Parse reads plan.md. Every error it returns is a *Error.
func Parse(data []byte) (Plan, error) {
	if len(data) > MaxSize {
		return Plan{}, errorf(0, "plan is %d bytes; the limit is %d (64 KiB)", len(data), MaxSize)
	}
	if !utf8.Valid(data) {
		return Plan{}, errorf(invalidUTF8Line(data), "plan is not valid UTF-8")
	}
	body := Normalise(data)
	if strings.TrimSpace(body) == "" {
		return Plan{}, errorf(0, "plan is empty")
	}
	sum := sha256.Sum256([]byte(body))
	digest := hex.EncodeToString(sum[:])
	p := Plan{Body: body, SHA256: digest, ID: "p-" + digest[:8]}
	if err := p.parse(); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// invalidUTF8Line returns the 1-based line of the first invalid UTF-8
// sequence in data.
func invalidUTF8Line(data []byte) int {
	line := 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size == 1 {
			return line
		}
		if r == '\n' {
			line++
		}
		data = data[size:]
	}
	return line
}

// sectionKind says what a level-2 section holds.
type sectionKind int

const (
	otherSection sectionKind = iota
	filesSection
	acceptanceSection
)

func kindOf(heading string) sectionKind {
	h := strings.ToLower(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(heading), ":")))
	switch h {
	case "files", "files to change":
		return filesSection
	case "acceptance", "acceptance criteria":
		return acceptanceSection
	}
	return otherSection
}

func (p *Plan) parse() error {
	lines := strings.Split(strings.TrimSuffix(p.Body, "\n"), "\n")
	var (
		fence              fenceState
		kind               = otherSection
		cur                *Section
		start              int // index of the first content line of cur
		filesLine, accLine int
		seen               = map[string]bool{}
		lastAcc            = -1 // index in p.Acceptance of the item being continued
		firstLine          string
	)
	closeSection := func(end int) {
		if cur != nil {
			cur.Text = strings.Trim(strings.Join(lines[start:end], "\n"), "\n")
			p.Sections = append(p.Sections, *cur)
			cur = nil
		}
	}
	for i, line := range lines {
		n := i + 1
		if firstLine == "" && strings.TrimSpace(line) != "" {
			firstLine = strings.TrimSpace(line)
		}
		if fence.update(line) {
			lastAcc = -1
			continue
		}
		if level, text, ok := atxHeading(line); ok {
			if level == 1 && p.Title == "" {
				p.Title = clip(text)
			}
			if level == 2 {
				closeSection(i)
				cur, start = &Section{Heading: text, Line: n}, i+1
				kind = kindOf(text)
				lastAcc = -1
				switch kind {
				case filesSection:
					if filesLine != 0 {
						return errorf(n, "second Files section (the first is on line %d); list every path in one", filesLine)
					}
					filesLine = n
				case acceptanceSection:
					if accLine != 0 {
						return errorf(n, "second Acceptance section (the first is on line %d); list every check in one", accLine)
					}
					accLine = n
				}
				continue
			}
			if level == 1 {
				// A level-1 heading ends the section's lists but not the section.
				lastAcc = -1
				continue
			}
		}
		switch kind {
		case filesSection:
			item, ok := topLevelItem(line, false)
			if !ok {
				continue
			}
			glob, err := parsePathItem(item)
			if err == nil {
				glob = normaliseGlob(glob)
				err = ValidateGlob(glob)
			}
			if err != nil {
				return errorf(n, "Files: %v", err)
			}
			if seen[glob] {
				continue
			}
			seen[glob] = true
			if len(p.Paths) == MaxPaths {
				return errorf(n, "Files lists more than %d paths; use globs such as dir/**", MaxPaths)
			}
			p.Paths = append(p.Paths, glob)
		case acceptanceSection:
			if item, ok := topLevelItem(line, true); ok {
				item = strings.TrimSpace(stripTaskBox(item))
				if item == "" {
					lastAcc = -1
					continue
				}
				p.Acceptance = append(p.Acceptance, item)
				lastAcc = len(p.Acceptance) - 1
				continue
			}
			t := strings.TrimSpace(line)
			switch {
			case t == "":
				// A blank line may sit between an item and its continuation.
			case lastAcc >= 0 && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && !isListItem(t):
				p.Acceptance[lastAcc] += " " + t
			default:
				lastAcc = -1
			}
		}
	}
	closeSection(len(lines))
	if p.Title == "" {
		p.Title = clip(strings.TrimSpace(strings.TrimLeft(firstLine, "#")))
	}
	if filesLine == 0 {
		return errorf(0, "no \"## Files\" section; list the paths the change may touch, one \"- path/or/glob/**\" item each")
	}
	if len(p.Paths) == 0 {
		return errorf(filesLine, "the Files section lists no paths; add one \"- path/or/glob/**\" item per path")
	}
	return nil
}

func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxTitle {
		return s
	}
	r := []rune(s)
	return string(r[:maxTitle-1]) + "…"
}

// fenceState follows fenced code blocks.
type fenceState struct {
	char byte // '`' or '~' while inside a fence
	n    int  // length of the opening fence
}

// update consumes line and reports whether it is part of a fenced code
// block (its opening and closing lines included).
func (f *fenceState) update(line string) bool {
	t, indent := trimIndent(line)
	if f.char != 0 {
		if indent <= 3 {
			c, n := fenceRun(t)
			if c == f.char && n >= f.n && strings.TrimSpace(t[n:]) == "" {
				f.char, f.n = 0, 0
			}
		}
		return true
	}
	if indent > 3 {
		return false
	}
	c, n := fenceRun(t)
	if n < 3 || (c == '`' && strings.Contains(t[n:], "`")) {
		return false
	}
	f.char, f.n = c, n
	return true
}

// fenceRun returns the fence character starting t and how many times it
// repeats, or (0, 0).
func fenceRun(t string) (byte, int) {
	if t == "" || (t[0] != '`' && t[0] != '~') {
		return 0, 0
	}
	n := 0
	for n < len(t) && t[n] == t[0] {
		n++
	}
	return t[0], n
}

// trimIndent strips leading spaces and tabs, counting a tab as 4 columns.
func trimIndent(line string) (string, int) {
	indent := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case ' ':
			indent++
		case '\t':
			indent += 4
		default:
			return line[i:], indent
		}
	}
	return "", indent
}

// atxHeading parses "#"-style headings indented by at most three spaces.
func atxHeading(line string) (level int, text string, ok bool) {
	t, indent := trimIndent(line)
	if indent > 3 || !strings.HasPrefix(t, "#") {
		return 0, "", false
	}
	for level < len(t) && t[level] == '#' {
		level++
	}
	if level > 6 || (level < len(t) && t[level] != ' ' && t[level] != '\t') {
		return 0, "", false
	}
	text = strings.TrimSpace(t[level:])
	// Drop an optional closing sequence of #s ("## Files ##").
	if j := strings.TrimRight(text, "#"); j != text && (j == "" || strings.HasSuffix(j, " ") || strings.HasSuffix(j, "\t")) {
		text = strings.TrimSpace(j)
	}
	return level, text, true
}

// topLevelItem returns the text of a list item that is not nested (indented
// by less than two columns). Numbered items count only when numbered is set.
func topLevelItem(line string, numbered bool) (string, bool) {
	t, indent := trimIndent(line)
	if indent >= 2 {
		return "", false
	}
	if len(t) >= 1 && (t[0] == '-' || t[0] == '*' || t[0] == '+') {
		if len(t) == 1 {
			return "", true
		}
		if t[1] == ' ' || t[1] == '\t' {
			return strings.TrimSpace(t[2:]), true
		}
		return "", false
	}
	if !numbered {
		return "", false
	}
	d := 0
	for d < len(t) && d < 9 && '0' <= t[d] && t[d] <= '9' {
		d++
	}
	if d == 0 || d >= len(t) || (t[d] != '.' && t[d] != ')') {
		return "", false
	}
	if d+1 == len(t) {
		return "", true
	}
	if t[d+1] != ' ' && t[d+1] != '\t' {
		return "", false
	}
	return strings.TrimSpace(t[d+2:]), true
}

// isListItem reports whether t (already trimmed) starts a list item.
func isListItem(t string) bool {
	_, ok := topLevelItem(t, true)
	return ok
}

func stripTaskBox(item string) string {
	for _, box := range []string{"[ ]", "[x]", "[X]"} {
		if rest, ok := strings.CutPrefix(item, box); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			return rest
		}
	}
	return item
}

// parsePathItem takes the glob out of a Files list item: backticked or
// bare, with an optional comment after whitespace and a dash.
func parsePathItem(item string) (string, error) {
	if item == "" {
		return "", fmt.Errorf("empty list item; write one path per item")
	}
	if item[0] == '`' {
		n := 0
		for n < len(item) && item[n] == '`' {
			n++
		}
		fence := item[:n]
		end := strings.Index(item[n:], fence)
		if end < 0 {
			return "", fmt.Errorf("unclosed backtick in %q", item)
		}
		glob := strings.TrimSpace(item[n : n+end])
		rest := item[n+end+n:]
		if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
			return "", fmt.Errorf("unexpected text after the backticked path in %q", item)
		}
		return glob, nil
	}
	glob := item
	for i := 0; i < len(item); i++ {
		if item[i] != ' ' && item[i] != '\t' {
			continue
		}
		rest := strings.TrimLeft(item[i:], " \t")
		for _, dash := range []string{"—", "–", "-"} {
			if after, ok := strings.CutPrefix(rest, dash); ok && (after == "" || after[0] == ' ' || after[0] == '\t') {
				return strings.TrimSpace(item[:i]), nil
			}
		}
	}
	return strings.TrimSpace(glob), nil
}
