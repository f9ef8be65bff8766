package checks

import (
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/policy"
)

// GitHub's limits on a check run's output and actions.
const (
	// MaxOutput bounds the summary and the text, each. GitHub allows 65,535
	// characters; we count bytes, which are never fewer.
	MaxOutput = 65535
	// MaxTitle bounds the output title (GitHub has no published limit; a
	// title is one line in the checks tab).
	MaxTitle = 255
	// AnnotationBatch is the most annotations GitHub takes per request.
	AnnotationBatch = 50
)

// Bounds on single messages, so one enormous message cannot push every
// other one out of the summary or text.
const (
	maxWhy             = 1000 // a policy's one-line summary in the table
	maxItem            = 4000 // a violation or load error in a list
	maxAnnotation      = 8192 // an annotation message (GitHub: 64 KB)
	maxTitleNames      = 150  // the policy names listed in a title
	maxAnnotationTitle = 255  // an annotation title (GitHub: 255 characters)
)

// Annotation levels.
const (
	LevelFailure = "failure"
	LevelWarning = "warning"
	LevelNotice  = "notice"
)

// RenderOptions are what Render needs beyond the decision.
type RenderOptions struct {
	// DetailsURL is the page with the whole evaluation; truncation notes
	// point to it. Empty: the notes point to "the details page".
	DetailsURL string
}

// Output is a check run's output: what the checks tab shows.
type Output struct {
	Title   string
	Summary string // markdown: load errors, then a table of policies and verdicts
	Text    string // markdown: each policy's violations
	// Annotations are all of them; Reporter sends them in batches of
	// AnnotationBatch.
	Annotations []Annotation
}

// Annotation marks a line of a file in the pull request's checks tab and diff.
type Annotation struct {
	Path      string `json:"path"`
	StartLine int    `json:"start_line"`
	EndLine   int    `json:"end_line"`
	Level     string `json:"annotation_level"` // failure, warning or notice
	Message   string `json:"message"`
	Title     string `json:"title,omitempty"`
}

// verdictLabels are the verdict column's words, each with one symbol.
var verdictLabels = map[policy.Verdict]string{
	policy.VerdictPass:           "✅ pass",
	policy.VerdictFail:           "❌ fail",
	policy.VerdictError:          "❌ error",
	policy.VerdictPending:        "⏳ pending",
	policy.VerdictActionRequired: "👤 action required",
	policy.VerdictSkipped:        "➖ skipped",
}

func verdictLabel(v policy.Verdict) string {
	if l, ok := verdictLabels[v]; ok {
		return l
	}
	return "❓ " + oneLine(string(v))
}

// Render turns a decision into a check run's output. It is a pure function:
// the same decision and options always give the same output.
func Render(d policy.Decision, opts RenderOptions) Output {
	return Output{
		Title:       renderTitle(d),
		Summary:     fit(summaryUnits(d), MaxOutput, opts.DetailsURL),
		Text:        fit(textUnits(d), MaxOutput, opts.DetailsURL),
		Annotations: annotations(d),
	}
}

// renderTitle names what decided the conclusion: the failures, the people
// or checks being waited for, or that everything passed.
func renderTitle(d policy.Decision) string {
	var failed, acting, waiting []string
	passed, skipped := 0, 0
	for _, p := range d.Policies {
		switch p.Verdict {
		case policy.VerdictPass:
			passed++
		case policy.VerdictSkipped:
			skipped++
		case policy.VerdictPending:
			waiting = append(waiting, p.Name)
		case policy.VerdictActionRequired:
			acting = append(acting, p.Name)
		default: // fail, error, and anything unknown
			failed = append(failed, p.Name)
		}
	}
	var t string
	switch d.Conclusion {
	case "failure":
		var parts []string
		if n := len(d.LoadErrors); n > 0 {
			parts = append(parts, fmt.Sprintf("%s policy load %s", count(n), plural(n, "error")))
		}
		if n := len(failed); n > 0 {
			parts = append(parts, fmt.Sprintf("%s %s failed: %s", count(n), plural(n, "policy"), names(failed)))
		}
		t = strings.Join(parts, "; ")
		if t == "" {
			t = "Policy check failed"
		}
	case "action_required":
		t = "Action required"
		if len(acting) > 0 {
			t += ": " + names(acting)
		}
	case "":
		t = "Evaluating"
		if len(waiting) > 0 {
			t = "Waiting on " + names(waiting)
		}
	case "success":
		switch {
		case passed == 0:
			t = "No policies apply"
		case skipped > 0:
			t = fmt.Sprintf("%s %s passed, %s skipped", count(passed), plural(passed, "policy"), count(skipped))
		case passed == 1:
			t = "1 policy passed"
		default:
			t = fmt.Sprintf("All %s policies passed", count(passed))
		}
	default:
		t = "Conclusion " + d.Conclusion
	}
	return clip(oneLine(t), MaxTitle)
}

// names lists policy names for a title, as many as fit in maxTitleNames
// bytes, then "and N more".
func names(ns []string) string {
	var b strings.Builder
	for i, n := range ns {
		n = oneLine(n)
		if i > 0 && b.Len()+len(n) > maxTitleNames {
			fmt.Fprintf(&b, " and %s more", count(len(ns)-i))
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n)
	}
	return b.String()
}

// oneLine is s cleaned, with line breaks as spaces.
func oneLine(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(clean(s), "\n", " "))
}

// summaryUnits are the summary: load errors first (they fail the check
// whatever the policies say), then one table row per policy.
func summaryUnits(d policy.Decision) []unit {
	var us []unit
	if len(d.LoadErrors) > 0 {
		us = append(us, unit{text: "**The policy set did not load**; the check fails until this is fixed:\n\n"})
		for _, e := range d.LoadErrors {
			us = append(us, unit{text: "- " + loadErrorLine(e) + "\n", kind: "load error", n: 1})
		}
		us = append(us, unit{text: "\n"})
	}
	if len(d.Policies) == 0 {
		us = append(us, unit{text: "No policies apply to this pull request.\n"})
	}
	for i, p := range d.Policies {
		row := "| " + cell(policyName(p), maxWhy) + " | " + verdictLabel(p.Verdict) + " | " + cell(why(p), maxWhy) + " |\n"
		if i == 0 {
			row = "| Policy | Verdict | Why |\n| --- | --- | --- |\n" + row
		}
		us = append(us, unit{text: row, kind: "policy", n: 1})
	}
	if d.PolicyDigest != "" {
		us = append(us, unit{text: "\nPolicy set " + code(clip(oneLine(d.PolicyDigest), 100)) + "\n"})
	}
	return us
}

// policyName is "Title (`name`)", or "`name`" when there is no title.
func policyName(p policy.PolicyResult) string {
	title := oneLine(p.Title)
	if title == "" || title == p.Name {
		return code(p.Name)
	}
	return title + " (" + code(p.Name) + ")"
}

// why is the policy's one-line reason, or a count of its violations.
func why(p policy.PolicyResult) string {
	if s := strings.TrimSpace(p.Summary); s != "" {
		return s
	}
	if n := len(p.Violations); n > 0 {
		return fmt.Sprintf("%s %s", count(n), plural(n, "violation"))
	}
	return ""
}

func loadErrorLine(e policy.LoadError) string {
	what := "Config file"
	if strings.HasSuffix(e.File, ".rego") {
		what = "Policy file"
	}
	if e.File == "" {
		return "Policy set: " + item(e.Message, maxItem)
	}
	return what + " " + code(location(e.File, e.Line)) + ": " + item(e.Message, maxItem)
}

func location(file string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

// textUnits are the text: each policy that did not pass, with its reason
// and its violations as a list.
func textUnits(d policy.Decision) []unit {
	var us []unit
	for _, p := range d.Policies {
		if len(p.Violations) == 0 && (p.Verdict == policy.VerdictPass || p.Verdict == policy.VerdictSkipped) {
			continue
		}
		head := "### " + verdictLabel(p.Verdict) + ": " + policyName(p) + "\n\n"
		if s := strings.TrimSpace(p.Summary); s != "" {
			head += item(s, maxItem) + "\n\n"
		}
		if len(p.Violations) == 0 {
			us = append(us, unit{text: head})
			continue
		}
		for i, v := range p.Violations {
			line := "- "
			if v.File != "" {
				line += code(location(annotationPath(v.File), v.Line)) + ": "
			}
			line += item(v.Message, maxItem) + "\n"
			if i == 0 {
				line = head + line // a heading never ends the text without its first violation
			}
			us = append(us, unit{text: line, kind: "violation", n: 1})
		}
		us = append(us, unit{text: "\n"})
	}
	if len(us) == 0 {
		us = append(us, unit{text: "No violations.\n"})
	}
	return us
}

// annotations are one per violation or load error with a file: load errors
// first, like the summary.
func annotations(d policy.Decision) []Annotation {
	var as []Annotation
	for _, e := range d.LoadErrors {
		if e.File == "" {
			continue
		}
		as = append(as, annotation(e.File, e.Line, LevelFailure, "Policy load error", e.Message))
	}
	for _, p := range d.Policies {
		level := annotationLevel(p.Verdict)
		title := oneLine(p.Title)
		if title == "" {
			title = oneLine(p.Name)
		}
		for _, v := range p.Violations {
			if v.File == "" {
				continue
			}
			as = append(as, annotation(v.File, v.Line, level, title, v.Message))
		}
	}
	return as
}

func annotation(file string, line int, level, title, message string) Annotation {
	line = max(line, 1) // GitHub requires a line; 0 means "the file"
	return Annotation{
		Path:      annotationPath(file),
		StartLine: line,
		EndLine:   line,
		Level:     level,
		Message:   clip(strings.TrimSpace(clean(message)), maxAnnotation),
		Title:     clip(title, maxAnnotationTitle),
	}
}

// annotationPath is file relative to the repository root, as GitHub wants.
func annotationPath(file string) string {
	file = strings.TrimPrefix(oneLine(file), "./")
	return strings.TrimLeft(file, "/")
}

// annotationLevel: violations that fail the check are failures; those
// waiting on a person are warnings; anything else is a notice.
func annotationLevel(v policy.Verdict) string {
	switch v {
	case policy.VerdictActionRequired:
		return LevelWarning
	case policy.VerdictPending, policy.VerdictPass, policy.VerdictSkipped:
		return LevelNotice
	}
	return LevelFailure
}
