package checks

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ellipsis marks text that was cut.
const ellipsis = "…"

// clip returns s cut to at most max bytes, on a rune boundary, ending in an
// ellipsis when anything was cut. s must be valid UTF-8.
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	end := max - len(ellipsis)
	if end <= 0 {
		return ""
	}
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + ellipsis
}

// clean makes s valid UTF-8 and normalises line endings, so every later
// measurement and cut is in whole runes and lines.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// cell makes s safe inside one markdown table cell: pipes escaped (GitHub
// treats any `\|` as a literal pipe, inside code spans too) and line breaks
// turned into <br>, so a message can never end a row or add a column.
func cell(s string, max int) string {
	s = clip(strings.TrimSpace(clean(s)), max)
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", "<br>")
}

// item makes s safe as the body of a markdown list item: continuation lines
// are indented so they stay inside the item.
func item(s string, max int) string {
	s = clip(strings.TrimSpace(clean(s)), max)
	return strings.ReplaceAll(s, "\n", "\n  ")
}

// code renders s as an inline code span whose fence is longer than any run
// of backticks in s.
func code(s string) string {
	s = strings.ReplaceAll(clean(s), "\n", " ")
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if longest > 0 {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// unit is a piece of markdown that is never cut: a line, a table row, a
// list item. Omitted units of a kind are counted in the truncation note.
type unit struct {
	text string // ends with "\n"
	kind string // "" for structure (headings, table header); else what n counts
	n    int
}

// fit joins units into at most limit bytes. When they do not all fit it
// keeps whole units from the start and ends with a note, set off by a blank
// line so it cannot join a table, saying how many of each kind were left
// out and where to see them.
func fit(units []unit, limit int, detailsURL string) string {
	total := 0
	left := map[string]int{}
	var kinds []string
	for _, u := range units {
		total += len(u.text)
		if u.kind != "" {
			if _, ok := left[u.kind]; !ok {
				kinds = append(kinds, u.kind)
			}
			left[u.kind] += u.n
		}
	}
	if total <= limit {
		var b strings.Builder
		b.Grow(total)
		for _, u := range units {
			b.WriteString(u.text)
		}
		return b.String()
	}
	// The note with every count at its largest is the most it can take.
	reserve := len(note(kinds, left, detailsURL))
	var b strings.Builder
	for _, u := range units {
		if b.Len()+len(u.text)+reserve > limit {
			break
		}
		b.WriteString(u.text)
		if u.kind != "" {
			left[u.kind] -= u.n
		}
	}
	n := note(kinds, left, detailsURL)
	if strings.HasSuffix(b.String(), "\n\n") {
		n = n[1:] // already set off by a blank line
	}
	b.WriteString(n)
	return b.String()
}

// note is the truncation line, e.g. "\n… 9,950 more violations not shown;
// see https://…\n".
func note(kinds []string, left map[string]int, detailsURL string) string {
	var parts []string
	for _, k := range kinds {
		if n := left[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s more %s", count(n), plural(n, k)))
		}
	}
	what := "the rest of the output"
	if len(parts) > 0 {
		what = strings.Join(parts, " and ")
	}
	where := "see the details page"
	if detailsURL != "" {
		where = "see " + detailsURL
	}
	return fmt.Sprintf("\n%s %s not shown; %s\n", ellipsis, what, where)
}

// plural returns word, or its plural when n != 1 ("policy" → "policies").
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	if strings.HasSuffix(word, "y") {
		return strings.TrimSuffix(word, "y") + "ies"
	}
	return word + "s"
}

// count formats n with thousands separators: 10000 → "10,000".
func count(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
