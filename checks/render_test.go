package checks

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/agentgate/agentgate/policy"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.md from Render's output")

const detailsURL = "https://agentgate.example/gate/o/r/7?sig=abc"

func pass(name string) policy.PolicyResult {
	return policy.PolicyResult{Name: name, Verdict: policy.VerdictPass, Summary: "ok"}
}

func result(name string, v policy.Verdict, summary string, vs ...policy.Violation) policy.PolicyResult {
	for i := range vs {
		vs[i].Policy = name
	}
	return policy.PolicyResult{Name: name, Verdict: v, Summary: summary, Violations: vs}
}

func decide(ps []policy.PolicyResult, les ...policy.LoadError) policy.Decision {
	return policy.Decision{Conclusion: policy.Conclude(ps, les), Policies: ps, LoadErrors: les, PolicyDigest: "sha256:0123abcd"}
}

func TestRenderTitle(t *testing.T) {
	tests := []struct {
		name string
		d    policy.Decision
		want string
	}{
		{"all pass", decide([]policy.PolicyResult{pass("size"), pass("provenance"), pass("test-evidence"), pass("protected-paths"), pass("plan-scope")}),
			"All 5 policies passed"},
		{"one pass", decide([]policy.PolicyResult{pass("size")}), "1 policy passed"},
		{"pass and skipped", decide([]policy.PolicyResult{pass("size"), pass("provenance"), result("plan-scope", policy.VerdictSkipped, "no plan")}),
			"2 policies passed, 1 skipped"},
		{"nothing applies", decide([]policy.PolicyResult{result("plan-scope", policy.VerdictSkipped, "")}), "No policies apply"},
		{"one fail", decide([]policy.PolicyResult{pass("provenance"), result("size", policy.VerdictFail, "too big")}),
			"1 policy failed: size"},
		{"two fail, error counts as failed", decide([]policy.PolicyResult{result("size", policy.VerdictFail, ""), result("provenance", policy.VerdictError, ""), result("test-evidence", policy.VerdictPending, "")}),
			"2 policies failed: size, provenance"},
		{"pending", decide([]policy.PolicyResult{pass("size"), result("test-evidence", policy.VerdictPending, "waiting for test")}),
			"Waiting on test-evidence"},
		{"action required", decide([]policy.PolicyResult{result("protected-paths", policy.VerdictActionRequired, "needs @o/sec"), result("test-evidence", policy.VerdictPending, "")}),
			"Action required: protected-paths"},
		{"load errors", decide([]policy.PolicyResult{pass("size")}, policy.LoadError{File: ".github/agentgate/policies/x.rego", Line: 3, Message: "rego_parse_error"}),
			"1 policy load error"},
		{"load errors and failures", decide([]policy.PolicyResult{result("size", policy.VerdictFail, "")},
			policy.LoadError{File: "a.rego"}, policy.LoadError{File: "b.rego"}),
			"2 policy load errors; 1 policy failed: size"},
		{"newline in a name", decide([]policy.PolicyResult{result("repo.a\nb", policy.VerdictFail, "")}), "1 policy failed: repo.a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Render(tt.d, RenderOptions{}).Title; got != tt.want {
				t.Errorf("title = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRenderTitleManyNames(t *testing.T) {
	var ps []policy.PolicyResult
	for i := range 100 {
		ps = append(ps, result(fmt.Sprintf("repo.a_rather_long_policy_name_%03d", i), policy.VerdictFail, ""))
	}
	got := Render(decide(ps), RenderOptions{}).Title
	if len(got) > MaxTitle || !strings.HasPrefix(got, "100 policies failed: repo.a_rather_long_policy_name_000, ") || !regexp.MustCompile(` and \d+ more$`).MatchString(got) {
		t.Errorf("title = %q (%d bytes)", got, len(got))
	}
}

// TestRenderGolden pins the whole output of typical decisions. Run with
// -update to rewrite the files, then read the diff.
func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name string
		d    policy.Decision
	}{
		{"all-pass", decide([]policy.PolicyResult{
			{Name: "size", Title: "Pull request size", Verdict: policy.VerdictPass, Summary: "150 lines in 4 files (limits 500, 20)"},
			{Name: "provenance", Title: "Provenance", Verdict: policy.VerdictPass, Summary: "all 5 fields present"},
			{Name: "plan-scope", Title: "Plan scope", Verdict: policy.VerdictSkipped, Summary: "no approved plan"},
		})},
		{"mixed", decide([]policy.PolicyResult{
			{Name: "size", Title: "Pull request size", Verdict: policy.VerdictFail, Summary: "1,240 lines changed | limit 500",
				Violations: []policy.Violation{{Message: "1,240 lines changed; the limit for agent PRs is 500"}}},
			{Name: "provenance", Title: "Provenance", Verdict: policy.VerdictFail, Summary: "2 fields missing",
				Violations: []policy.Violation{
					{Message: "missing field `model`", File: "README.md"},
					{Message: "field `agent` is empty\nexpected a name", File: "./cmd/main.go", Line: 12},
				}},
			{Name: "test-evidence", Title: "Test evidence", Verdict: policy.VerdictPending, Summary: "waiting for `test`"},
			{Name: "protected-paths", Title: "Protected paths", Verdict: policy.VerdictActionRequired, Summary: "needs approval from @o/security",
				Violations: []policy.Violation{{Message: "owners of `deploy/**` have not approved", File: "deploy/prod.yaml", Line: 4}}},
			{Name: "plan-scope", Title: "Plan scope", Verdict: policy.VerdictPass, Summary: "all files within the plan"},
		}, policy.LoadError{File: ".github/agentgate/policies/x.rego", Line: 3, Message: "rego_parse_error: unexpected } token"},
			policy.LoadError{File: ".github/agentgate.yml", Message: "size.max_lines: not a number"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Render(tt.d, RenderOptions{DetailsURL: detailsURL})
			got := fmt.Sprintf("<!-- title -->\n%s\n<!-- summary -->\n%s<!-- text -->\n%s", out.Title, out.Summary, out.Text)
			path := filepath.Join("testdata", tt.name+".golden.md")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./checks -run Golden -update)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (rerun with -update and read the diff):\n%s", path, got)
			}
		})
	}
}

func TestRenderSummaryTable(t *testing.T) {
	d := decide([]policy.PolicyResult{
		{Name: "size", Title: "Size | lines", Verdict: policy.VerdictFail, Summary: "a | b\nc\r\nd"},
		result("test-evidence", policy.VerdictPending, ""),
		result("protected-paths", policy.VerdictActionRequired, ""),
		result("plan-scope", policy.VerdictSkipped, ""),
		result("provenance", policy.VerdictError, "", policy.Violation{Message: "x"}, policy.Violation{Message: "y"}),
		pass("ok"),
	}, policy.LoadError{File: ".github/agentgate/policies/x.rego", Line: 3, Message: "bad"})
	s := Render(d, RenderOptions{}).Summary
	for _, want := range []string{
		"- Policy file `.github/agentgate/policies/x.rego:3`: bad\n",
		"| Policy | Verdict | Why |\n| --- | --- | --- |\n",
		"| Size \\| lines (`size`) | ❌ fail | a \\| b<br>c<br>d |\n",
		"| `test-evidence` | ⏳ pending |  |\n",
		"| `protected-paths` | 👤 action required |  |\n",
		"| `plan-scope` | ➖ skipped |  |\n",
		"| `provenance` | ❌ error | 2 violations |\n",
		"| `ok` | ✅ pass | ok |\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	if strings.Index(s, "Policy file") > strings.Index(s, "| Policy |") {
		t.Errorf("load errors should come before the table:\n%s", s)
	}
	checkTable(t, s)
}

func TestRenderTextEscapes(t *testing.T) {
	d := decide([]policy.PolicyResult{result("size", policy.VerdictFail, "",
		policy.Violation{Message: "line one\nline two | still two", File: "a`b.go", Line: 7},
		policy.Violation{Message: "no file"},
		policy.Violation{Message: "bad \xff byte"},
	)})
	text := Render(d, RenderOptions{}).Text
	for _, want := range []string{
		"### ❌ fail: `size`\n\n",
		"- `` a`b.go:7 ``: line one\n  line two | still two\n",
		"- no file\n",
		"- bad \uFFFD byte\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if !utf8.ValidString(text) {
		t.Error("text is not valid UTF-8")
	}
	if got := Render(decide([]policy.PolicyResult{pass("a")}), RenderOptions{}).Text; got != "No violations.\n" {
		t.Errorf("all-pass text = %q", got)
	}
}

func TestAnnotations(t *testing.T) {
	d := decide([]policy.PolicyResult{
		{Name: "size", Title: "Pull request size", Verdict: policy.VerdictFail, Violations: []policy.Violation{
			{Message: "m1", File: "a.go", Line: 5},
			{Message: "m2", File: "./b.go"}, // no line: line 1
			{Message: "only in text"},       // no file: no annotation
		}},
		result("protected-paths", policy.VerdictActionRequired, "", policy.Violation{Message: "m3", File: "deploy/x.yaml", Line: -2}),
		result("test-evidence", policy.VerdictPending, "", policy.Violation{Message: "m4", File: "t_test.go", Line: 9}),
		result("provenance", policy.VerdictError, "", policy.Violation{Message: strings.Repeat("é", 10000), File: "/c.go", Line: 2}),
	}, policy.LoadError{File: "p.rego", Line: 3, Message: "parse"}, policy.LoadError{Message: "no file: no annotation"})
	got := Render(d, RenderOptions{}).Annotations
	want := []Annotation{
		{Path: "p.rego", StartLine: 3, EndLine: 3, Level: LevelFailure, Message: "parse", Title: "Policy load error"},
		{Path: "a.go", StartLine: 5, EndLine: 5, Level: LevelFailure, Message: "m1", Title: "Pull request size"},
		{Path: "b.go", StartLine: 1, EndLine: 1, Level: LevelFailure, Message: "m2", Title: "Pull request size"},
		{Path: "deploy/x.yaml", StartLine: 1, EndLine: 1, Level: LevelWarning, Message: "m3", Title: "protected-paths"},
		{Path: "t_test.go", StartLine: 9, EndLine: 9, Level: LevelNotice, Message: "m4", Title: "test-evidence"},
		{Path: "c.go", StartLine: 2, EndLine: 2, Level: LevelFailure, Title: "provenance"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d annotations, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g := got[i]
		if i == len(want)-1 {
			if len(g.Message) > maxAnnotation || !utf8.ValidString(g.Message) || !strings.HasSuffix(g.Message, ellipsis) {
				t.Errorf("long message not clipped: %d bytes, valid %v", len(g.Message), utf8.ValidString(g.Message))
			}
			g.Message = ""
		}
		if g != want[i] {
			t.Errorf("annotation %d = %+v, want %+v", i, g, want[i])
		}
	}
}

// TestRenderCap fills the summary and text far beyond GitHub's limits with
// multi-byte text, pipes and newlines, and checks what survives.
func TestRenderCap(t *testing.T) {
	long := strings.Repeat("日本語 | é\n", 30) // 3-byte and 2-byte runes, pipes, newlines
	manyViolations := func(n int) []policy.Violation {
		vs := make([]policy.Violation, n)
		for i := range vs {
			vs[i] = policy.Violation{Message: fmt.Sprintf("violation %d: %s", i, long), File: fmt.Sprintf("dir/file%d.go", i), Line: i}
		}
		return vs
	}
	var manyPolicies []policy.PolicyResult
	for i := range 2000 {
		manyPolicies = append(manyPolicies, result(fmt.Sprintf("repo.p%d", i), policy.VerdictFail, long, manyViolations(5)...))
	}
	var manyLoadErrors []policy.LoadError
	for i := range 3000 {
		manyLoadErrors = append(manyLoadErrors, policy.LoadError{File: fmt.Sprintf("p%d.rego", i), Line: i, Message: long})
	}
	tests := []struct {
		name            string
		d               policy.Decision
		summaryCut      bool
		summaryNote     string
		textNote        string
		violations      int
		wantAnnotations int
	}{
		{"10,000 violations in one policy", decide([]policy.PolicyResult{result("size", policy.VerdictFail, long, manyViolations(10000)...), pass("provenance")}),
			false, "", "more violations not shown; see " + detailsURL, 10000, 10000},
		{"2,000 failing policies", decide(manyPolicies),
			true, "more policies not shown; see " + detailsURL, "more violations not shown; see " + detailsURL, 10000, 10000},
		{"3,000 load errors", decide(manyPolicies[:3], manyLoadErrors...),
			true, "more load errors and 3 more policies not shown; see " + detailsURL, "", 15, 3015},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Render(tt.d, RenderOptions{DetailsURL: detailsURL})
			for name, s := range map[string]string{"summary": out.Summary, "text": out.Text} {
				if len(s) > MaxOutput {
					t.Errorf("%s is %d bytes, over %d", name, len(s), MaxOutput)
				}
				if !utf8.ValidString(s) {
					t.Errorf("%s is not valid UTF-8", name)
				}
			}
			if tt.summaryCut != (len(out.Summary) > MaxOutput-5000) {
				t.Errorf("summary is %d bytes; cut expected %v", len(out.Summary), tt.summaryCut)
			}
			checkNote(t, "summary", out.Summary, tt.summaryNote)
			checkNote(t, "text", out.Text, tt.textNote)
			checkTable(t, out.Summary)
			if tt.textNote != "" {
				// Shown plus "N more" must account for every violation.
				shown := strings.Count(out.Text, "\n- `dir/file")
				m := regexp.MustCompile(`… ([\d,]+) more violations not shown`).FindStringSubmatch(out.Text)
				if m == nil {
					t.Fatalf("no count in the text's note")
				}
				var more int
				fmt.Sscan(strings.ReplaceAll(m[1], ",", ""), &more)
				if shown+more != tt.violations || shown == 0 {
					t.Errorf("%d violations shown + %d not shown != %d", shown, more, tt.violations)
				}
				checkList(t, out.Text)
			}
			if len(out.Annotations) != tt.wantAnnotations {
				t.Errorf("%d annotations, want all %d", len(out.Annotations), tt.wantAnnotations)
			}
		})
	}
}

func checkNote(t *testing.T, name, s, note string) {
	t.Helper()
	has := strings.Contains(s, "\n\n"+ellipsis+" ")
	if note == "" {
		if has {
			t.Errorf("%s has a truncation note it should not:\n%s", name, s[max(0, len(s)-300):])
		}
		return
	}
	if !has || !strings.Contains(s, note) || !strings.HasSuffix(s, detailsURL+"\n") {
		t.Errorf("%s should end with a note containing %q; it ends:\n%s", name, note, s[max(0, len(s)-300):])
	}
}

// checkTable asserts the summary's table is whole: a header, a delimiter row,
// then rows of exactly three cells until a blank line.
func checkTable(t *testing.T, s string) {
	t.Helper()
	_, table, ok := strings.Cut(s, "| Policy | Verdict | Why |\n| --- | --- | --- |\n")
	if !ok {
		return
	}
	table, rest, _ := strings.Cut(table, "\n\n")
	for i, row := range strings.Split(table, "\n") {
		if row == "" && rest == "" {
			continue // the summary ends with the table
		}
		if !strings.HasPrefix(row, "| ") || !strings.HasSuffix(row, " |") {
			t.Fatalf("row %d is broken: %q", i, row)
		}
		// Cell separators are pipes not preceded by a backslash.
		n := 0
		for j := range len(row) {
			if row[j] == '|' && (j == 0 || row[j-1] != '\\') {
				n++
			}
		}
		if n != 4 {
			t.Fatalf("row %d has %d cell separators, want 4: %q", i, n, row)
		}
	}
}

// checkList asserts every line of the text is a heading, a list item, an
// item's continuation, blank, or the note.
func checkList(t *testing.T, s string) {
	t.Helper()
	for i, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		switch {
		case line == "", strings.HasPrefix(line, "### "), strings.HasPrefix(line, "- "),
			strings.HasPrefix(line, "  "), strings.HasPrefix(line, ellipsis+" "):
		default:
			// A policy's summary paragraph under its heading.
			if i > 0 && strings.HasPrefix(line, "日本語") {
				continue
			}
			t.Fatalf("line %d is not part of a list: %q", i, line)
		}
	}
}

func TestFit(t *testing.T) {
	a, b := strings.Repeat("a", 99)+"\n", strings.Repeat("b", 99)+"\n"
	us := []unit{{text: "head\n"}, {text: a, kind: "violation", n: 1}, {text: b, kind: "violation", n: 1}}
	all := "head\n" + a + b
	if got := fit(us, len(all), ""); got != all {
		t.Errorf("exactly at the limit: %q", got)
	}
	if got := fit(us, len(all)-1, ""); len(got) > len(all)-1 || !strings.HasSuffix(got, "\n\n… 1 more violation not shown; see the details page\n") {
		t.Errorf("one byte over: %q", got)
	}
	// Room for the head, one violation and the note: the second is counted.
	limit := len("head\n"+a) + len(note([]string{"violation"}, map[string]int{"violation": 2}, "u"))
	if got, want := fit(us, limit, "u"), "head\n"+a+"\n… 1 more violation not shown; see u\n"; got != want {
		t.Errorf("fit = %q, want %q", got, want)
	}
	if got := fit([]unit{{text: strings.Repeat("x", 100)}}, 80, ""); got != "\n… the rest of the output not shown; see the details page\n" {
		t.Errorf("structural overflow: %q", got)
	}
}

func TestClip(t *testing.T) {
	s := "aé日本語🙂b"
	for limit := 0; limit <= len(s)+1; limit++ {
		got := clip(s, limit)
		if len(got) > limit || !utf8.ValidString(got) {
			t.Errorf("clip(%d) = %q (%d bytes)", limit, got, len(got))
		}
		if limit >= len(s) && got != s {
			t.Errorf("clip(%d) cut an unclipped string: %q", limit, got)
		}
		if limit < len(s) && got != "" && !strings.HasSuffix(got, ellipsis) {
			t.Errorf("clip(%d) = %q, no ellipsis", limit, got)
		}
	}
}

func TestCode(t *testing.T) {
	for in, want := range map[string]string{
		"a.go":  "`a.go`",
		"a`b":   "`` a`b ``",
		"a``b`": "``` a``b` ```",
		"x\ny":  "`x y`",
	} {
		if got := code(in); got != want {
			t.Errorf("code(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 65535: "65,535", 1234567: "1,234,567"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}
