package plan

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

const samplePlan = `# Add retry to the webhook client

## Summary
Retry GitHub 5xx answers with backoff.

## Files to change
- ` + "`internal/ghapp/**`" + ` — the client lives here
- internal/queue/retry.go - backoff helper
* docs/
+ ./README.md
  - nested items are prose, not paths

Some prose in the Files section.

` + "```" + `
- not/a/path/**
` + "```" + `

## Acceptance criteria
1. go test ./...
2) [ ] check ` + "`ci/test`" + ` passes
- [x] a check that goes on
  over two lines

## Steps
1. Write the helper.
`

func TestParse(t *testing.T) {
	p, err := Parse([]byte(samplePlan))
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "Add retry to the webhook client" {
		t.Errorf("Title = %q", p.Title)
	}
	wantPaths := []string{"internal/ghapp/**", "internal/queue/retry.go", "docs/**", "README.md"}
	if !reflect.DeepEqual(p.Paths, wantPaths) {
		t.Errorf("Paths = %q, want %q", p.Paths, wantPaths)
	}
	wantAcc := []string{"go test ./...", "check `ci/test` passes", "a check that goes on over two lines"}
	if !reflect.DeepEqual(p.Acceptance, wantAcc) {
		t.Errorf("Acceptance = %q, want %q", p.Acceptance, wantAcc)
	}
	var headings []string
	for _, s := range p.Sections {
		headings = append(headings, fmt.Sprintf("%d:%s", s.Line, s.Heading))
	}
	wantHeadings := []string{"3:Summary", "6:Files to change", "19:Acceptance criteria", "25:Steps"}
	if !reflect.DeepEqual(headings, wantHeadings) {
		t.Errorf("Sections = %q, want %q", headings, wantHeadings)
	}
	if p.Sections[0].Text != "Retry GitHub 5xx answers with backoff." {
		t.Errorf("Summary text = %q", p.Sections[0].Text)
	}
	if p.Sections[3].Text != "1. Write the helper." {
		t.Errorf("Steps text = %q", p.Sections[3].Text)
	}
	if !ValidID(p.ID) || !strings.HasPrefix(p.SHA256, p.ID[2:]) || len(p.SHA256) != 64 {
		t.Errorf("ID %q and SHA256 %q do not agree", p.ID, p.SHA256)
	}
}

func TestIdentity(t *testing.T) {
	base := "# T\n\n## Files\n- a.go\n"
	p0, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	// The digest is of the normalised body: these differ only in ways
	// normalisation removes, so an approval given for one holds for all.
	same := []string{
		"# T\r\n\r\n## Files\r\n- a.go\r\n",
		"# T   \n\n## Files\t\n- a.go\n\n\n",
		"\ufeff\ufeff# T\n\n## Files\n- a.go",
		"# T\r\r## Files\r- a.go\r",
	}
	for _, s := range same {
		p, err := Parse([]byte(s))
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if p.ID != p0.ID || p.SHA256 != p0.SHA256 || p.Body != p0.Body {
			t.Errorf("Parse(%q) = %s %s, want %s %s", s, p.ID, p.SHA256, p0.ID, p0.SHA256)
		}
	}
	// Any visible change is a new plan that needs a new approval.
	different := []string{
		"# T\n\n## Files\n- b.go\n",
		"# T\n\n## Files\n- a.go\n- b.go\n",
		"# T.\n\n## Files\n- a.go\n",
		"  # T\n\n## Files\n- a.go\n",
	}
	for _, s := range different {
		p, err := Parse([]byte(s))
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if p.ID == p0.ID || p.SHA256 == p0.SHA256 {
			t.Errorf("Parse(%q) has the same identity %s as %q", s, p.ID, base)
		}
	}
}

func TestParseErrors(t *testing.T) {
	files := func(items ...string) string {
		return "# T\n\n## Files\n" + strings.Join(items, "\n") + "\n"
	}
	many := make([]string, MaxPaths+1)
	for i := range many {
		many[i] = fmt.Sprintf("- f%d.go", i)
	}
	tests := []struct {
		name string
		in   string
		line int
		want string
	}{
		{"empty", "", 0, "plan is empty"},
		{"blank", " \n\t\n", 0, "plan is empty"},
		{"no files section", "# T\n\n## Summary\nx\n", 0, `no "## Files" section`},
		{"files in a code block do not count", "# T\n```\n## Files\n- a.go\n```\n", 0, `no "## Files" section`},
		{"files section without items", "# T\n\n## Files\nsome prose\n", 3, "lists no paths"},
		{"two files sections", "## Files\n- a\n## Files\n- b\n", 3, "second Files section (the first is on line 1)"},
		{"absolute", files("- /etc/passwd"), 4, "absolute"},
		{"dot dot", files("- a.go", "- src/../../etc"), 5, ".. segment"},
		{"dot dot backticked", files("- `../x`"), 4, ".. segment"},
		{"NUL", files("- a\x00b"), 4, "NUL"},
		{"control", files("- a\x1bb"), 4, "control character"},
		{"backslash", files(`- src\main.go`), 4, "backslash"},
		{"double star in a segment", files("- src/**.go"), 4, "whole path segment"},
		{"bad class", files("- src/[a-.go"), 4, "malformed pattern"},
		{"empty segment", files("- src//a.go"), 4, "empty segment"},
		{"empty item", files("- a.go", "-"), 5, "empty list item"},
		{"unclosed backtick", files("- `a.go"), 4, "unclosed backtick"},
		{"too many paths", files(many...), 4 + MaxPaths, "more than 200 paths"},
		{"not UTF-8", "# T\n## Files\n- a\xff.go\n", 3, "not valid UTF-8"},
		{"too large", "## Files\n- a\n" + strings.Repeat("x", MaxSize), 0, "the limit is 65536"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse = %v, want a *plan.Error", err)
			}
			if pe.Line != tt.line || !strings.Contains(pe.Message, tt.want) {
				t.Errorf("Parse = line %d %q, want line %d containing %q", pe.Line, pe.Message, tt.line, tt.want)
			}
		})
	}
}

func TestTitle(t *testing.T) {
	tests := []struct{ in, want string }{
		{"## Files\n- a\n# Real title #\n", "Real title"},
		{"\n\nFix the thing\n## Files\n- a\n", "Fix the thing"},
		{"## Files\n- a\n", "Files"},
		{"# " + strings.Repeat("é", 300) + "\n## Files\n- a\n", strings.Repeat("é", 199) + "…"},
	}
	for _, tt := range tests {
		p, err := Parse([]byte(tt.in))
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		if p.Title != tt.want {
			t.Errorf("Parse(%q).Title = %q, want %q", tt.in, p.Title, tt.want)
		}
	}
}

func TestHeadingVariants(t *testing.T) {
	for _, h := range []string{"## files", "## FILES TO CHANGE", "## Files:", "  ## Files ##"} {
		p, err := Parse([]byte(h + "\n- a.go\n## acceptance CRITERIA\n- ok\n"))
		if err != nil {
			t.Fatalf("%q: %v", h, err)
		}
		if !reflect.DeepEqual(p.Paths, []string{"a.go"}) || !reflect.DeepEqual(p.Acceptance, []string{"ok"}) {
			t.Errorf("%q: Paths %q Acceptance %q", h, p.Paths, p.Acceptance)
		}
	}
	// "### Files" is not a section and "## Files changed" is another section.
	for _, h := range []string{"### Files", "## Files changed", "##Files"} {
		if _, err := Parse([]byte(h + "\n- a.go\n")); err == nil {
			t.Errorf("%q was taken as the Files section", h)
		}
	}
}

func TestDuplicatePathsCollapse(t *testing.T) {
	p, err := Parse([]byte("## Files\n- a.go\n- ./a.go\n- `a.go` — again\n- b/\n- b/**\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a.go", "b/**"}; !reflect.DeepEqual(p.Paths, want) {
		t.Errorf("Paths = %q, want %q", p.Paths, want)
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		glob, name string
		want       bool
	}{
		{"a.go", "a.go", true},
		{"a.go", "b/a.go", false},
		{"*.go", "a.go", true},
		{"*.go", "dir/a.go", false},
		{"**/*.go", "a.go", true},
		{"**/*.go", "x/y/a.go", true},
		{"docs/**", "docs/a/b.md", true},
		{"docs/**", "docs", true},
		{"docs/**", "docsx/a", false},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "a/x/y/c", false},
		{"a/**/**/b", "a/x/b", true},
		{"?.go", "ab.go", false},
		{"[ab].go", "b.go", true},
		{"**", "anything/at/all", true},
		// Malformed globs and names never match.
		{"../x", "../x", false},
		{"/etc/passwd", "/etc/passwd", false},
		{"[a", "[a", false},
		{"**", "a/../b", false},
		{"**", "/abs", false},
		{"**", "", false},
		{"a/*", "a//b", false},
	}
	for _, tt := range tests {
		if got := Match(tt.glob, tt.name); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.glob, tt.name, got, tt.want)
		}
	}
}

func TestAllows(t *testing.T) {
	p, err := Parse([]byte("## Files\n- dispatch/**\n- go.mod\n"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"dispatch/plan/plan.go": true, "go.mod": true, "go.sum": false, "server/x.go": false,
	} {
		if got := p.Allows(name); got != want {
			t.Errorf("Allows(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"p-3fa9c2d1": true, "p-00000000": true, "p-3FA9C2D1": false, "p-3fa9c2d": false,
		"p-3fa9c2d1a": false, "x-3fa9c2d1": false, "p-3fa9c2dg": false, "": false,
	} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(samplePlan))
	f.Add([]byte("## Files\n- a.go\n"))
	f.Add([]byte("## Files\n- `a b/**` — c\n- ./d/\n## Acceptance\n1. x\n"))
	f.Add([]byte("```\n## Files\n```\n## Files\n- [a-z]/**\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *plan.Error", err)
			}
			return
		}
		again, err := Parse(data)
		if err != nil || again.ID != p.ID || again.SHA256 != p.SHA256 {
			t.Fatalf("Parse is not deterministic: %v %s %s", err, again.ID, p.ID)
		}
		if !ValidID(p.ID) || p.ID[2:] != p.SHA256[:8] {
			t.Fatalf("ID %q does not match SHA256 %q", p.ID, p.SHA256)
		}
		if Normalise([]byte(p.Body)) != p.Body {
			t.Fatalf("Normalise is not idempotent on %q", p.Body)
		}
		// Parsing the normalised body gives the same plan.
		norm, err := Parse([]byte(p.Body))
		if err != nil || norm.SHA256 != p.SHA256 || !reflect.DeepEqual(norm.Paths, p.Paths) {
			t.Fatalf("re-parsing Body changed the plan: %v", err)
		}
		if len(p.Paths) == 0 || len(p.Paths) > MaxPaths {
			t.Fatalf("%d paths", len(p.Paths))
		}
		for _, g := range p.Paths {
			if err := ValidateGlob(g); err != nil {
				t.Fatalf("path %q is invalid: %v", g, err)
			}
		}
	})
}
