package command

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/agentgate/agentgate/dispatch/plan"
)

// Command is one valid command in a comment.
type Command struct {
	Verb Verb
	// Arg is the plan ID for approve (lower-case), the instructions for
	// revise (possibly several lines), and "" otherwise.
	Arg string
	// Line is the 1-based line of the command in the comment body.
	Line int
	// Raw is that line without surrounding whitespace.
	Raw string
}

// Error is a line that starts with /agent but is not a valid command.
type Error struct {
	// Line is the 1-based line in the comment body.
	Line int
	// Raw is that line without surrounding whitespace.
	Raw string
	// Verb is the command's verb when it is a known one, else "".
	Verb Verb
	// Message says what is wrong, in a sentence fit for a reply.
	Message string
	// Usage is how the command is written, on one line: the command's own
	// usage, or all the commands ("/agent run | plan | approve <plan-id> |
	// ...") when the verb is unknown or missing.
	Usage string
}

// Error implements error.
func (e Error) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Message)
}

// Parse returns the commands in a comment body, and an Error for every
// line that starts with /agent but is not a valid command, both in the
// order they appear.
func Parse(body string) (cmds []Command, errs []Error) {
	lines := splitLines(body)
	var ctx context
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if ctx.skip(line) {
			continue
		}
		t := strings.Trim(line, " \t")
		rest, ok := cutPrefix(t)
		if !ok {
			continue
		}
		n := i + 1
		verbWord, arg := cutWord(rest)
		if verbWord == "" {
			errs = append(errs, Error{Line: n, Raw: t, Message: fmt.Sprintf("`%s` needs a command; try `%s help`", Prefix, Prefix), Usage: usageList()})
			continue
		}
		verb := strings.ToLower(verbWord)
		spec, kind, known := lookup(verb)
		if !known {
			errs = append(errs, Error{Line: n, Raw: t, Message: fmt.Sprintf("unknown command `%s`; try `%s help`", quote(verbWord), Prefix), Usage: usageList()})
			continue
		}
		fail := func(format string, args ...any) {
			errs = append(errs, Error{Line: n, Raw: t, Verb: spec.Verb, Message: fmt.Sprintf(format, args...), Usage: spec.Usage()})
		}
		switch kind {
		case noArgs:
			if arg != "" {
				fail("`%s` takes no arguments; put anything else on another line", spec.Usage())
				continue
			}
			cmds = append(cmds, Command{Verb: spec.Verb, Line: n, Raw: t})
		case planIDArg:
			id, extra := cutWord(arg)
			id = strings.ToLower(strings.Trim(id, "`"))
			switch {
			case id == "":
				fail("`%s %s` needs the id of the plan to approve, as in `%s`", Prefix, spec.Verb, spec.Examples[0])
			case extra != "":
				fail("`%s %s` takes one plan id, not more", Prefix, spec.Verb)
			case !plan.ValidID(id):
				fail("`%s` is not a plan id; plan ids look like `p-3fa9c2d1` and are in the plan comment", quote(id))
			default:
				cmds = append(cmds, Command{Verb: spec.Verb, Arg: id, Line: n, Raw: t})
			}
		case textArg:
			if _, again := cutPrefix(arg); again {
				fail("put each command on its own line")
				continue
			}
			// The instructions are the rest of this line and the lines up
			// to the next line that starts with /agent, in any context.
			end := i + 1
			for end < len(lines) {
				if _, ok := cutPrefix(strings.TrimLeft(lines[end], " \t")); ok {
					break
				}
				end++
			}
			text := strings.Join(append([]string{arg}, lines[i+1:end]...), "\n")
			text = strings.Trim(trimRightLines(text), "\n")
			for j := i + 1; j < end; j++ {
				ctx.skip(lines[j]) // keep fences and comments in step
			}
			i = end - 1
			if strings.TrimSpace(text) == "" {
				fail("`%s %s` needs instructions, as in `%s`", Prefix, spec.Verb, spec.Examples[0])
				continue
			}
			cmds = append(cmds, Command{Verb: spec.Verb, Arg: text, Line: n, Raw: t})
		}
	}
	return cmds, errs
}

// splitLines splits body into lines, dropping the "\r" of "\r\n".
func splitLines(body string) []string {
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// cutPrefix reports whether t (trimmed on the left) starts with "/agent"
// as a word, and returns what follows it.
func cutPrefix(t string) (string, bool) {
	if len(t) < len(Prefix) || !strings.EqualFold(t[:len(Prefix)], Prefix) {
		return "", false
	}
	rest := t[len(Prefix):]
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return "", false
	}
	return strings.Trim(rest, " \t"), true
}

// cutWord splits s at its first run of spaces or tabs.
func cutWord(s string) (word, rest string) {
	s = strings.Trim(s, " \t")
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i], strings.Trim(s[i:], " \t")
	}
	return s, ""
}

func trimRightLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	return strings.Join(lines, "\n")
}

// quote makes s safe to show between backticks in a reply: no backticks,
// no mentions, at most 32 characters.
func quote(s string) string {
	s = strings.NewReplacer("`", "", "@", "").Replace(s)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	if utf8.RuneCountInString(s) > 32 {
		s = string([]rune(s)[:31]) + "…"
	}
	return s
}

// context follows the Markdown around a line: fenced code blocks and HTML
// comments.
type context struct {
	fence   byte // '`' or '~' inside a fenced code block
	fenceN  int
	comment bool // inside an HTML comment
}

// skip consumes line and reports whether it cannot hold a command: it is
// part of a fenced code block, a block quote, or an HTML comment.
func (c *context) skip(line string) bool {
	t := strings.TrimLeft(line, " \t")
	if c.fence != 0 {
		ch, n := fenceRun(t)
		if ch == c.fence && n >= c.fenceN && strings.Trim(t[n:], " \t") == "" {
			c.fence, c.fenceN = 0, 0
		}
		return true
	}
	if c.comment {
		if j := strings.Index(line, "-->"); j >= 0 {
			c.comment = false
			c.scanComments(line[j+3:])
		}
		return true
	}
	if strings.HasPrefix(t, ">") {
		return true
	}
	if ch, n := fenceRun(t); n >= 3 && !(ch == '`' && strings.Contains(t[n:], "`")) {
		c.fence, c.fenceN = ch, n
		return true
	}
	c.scanComments(line)
	return false
}

// scanComments follows HTML comments opened and closed within s, which is
// outside a comment at its start.
func (c *context) scanComments(s string) {
	for {
		i := strings.Index(s, "<!--")
		if i < 0 {
			return
		}
		s = s[i+4:]
		j := strings.Index(s, "-->")
		if j < 0 {
			c.comment = true
			return
		}
		s = s[j+3:]
	}
}

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
