package command

import (
	"fmt"
	"strings"
)

// Verb names a command: the word after "/agent".
type Verb string

// The verbs, in help order.
const (
	VerbRun     Verb = "run"
	VerbPlan    Verb = "plan"
	VerbApprove Verb = "approve"
	VerbRevise  Verb = "revise"
	VerbRetry   Verb = "retry"
	VerbCancel  Verb = "cancel"
	VerbStatus  Verb = "status"
	VerbHelp    Verb = "help"
)

// Prefix starts every command line.
const Prefix = "/agent"

// Spec describes one command: how it is written, what it does, who may use
// it and where.
type Spec struct {
	Verb Verb
	// Args is the argument in usage notation ("<plan-id>"), or "" for none.
	Args string
	// Summary says what the command does, in one sentence.
	Summary string
	// MinPermission is the lowest repository permission, as GitHub's
	// collaborator-permission API names it ("write"), that may use the
	// command; maintain and admin include write.
	MinPermission string
	// OnIssue and OnPullRequest say where the command may be used.
	OnIssue, OnPullRequest bool
	// Examples are complete command lines.
	Examples []string
}

// Usage returns how the command is written: "/agent approve <plan-id>".
func (s Spec) Usage() string {
	if s.Args == "" {
		return Prefix + " " + string(s.Verb)
	}
	return Prefix + " " + string(s.Verb) + " " + s.Args
}

// AllowedOn reports whether the command may be used on a pull request
// (isPullRequest) or an issue.
func (s Spec) AllowedOn(isPullRequest bool) bool {
	if isPullRequest {
		return s.OnPullRequest
	}
	return s.OnIssue
}

// argKind says what arguments a verb takes.
type argKind int

const (
	noArgs argKind = iota
	planIDArg
	textArg
)

var specs = []struct {
	Spec
	args argKind
}{
	{Spec{Verb: VerbRun, Summary: "Start the agent on this issue: it writes a plan for approval (or, for quick tasks, goes straight to a pull request).",
		MinPermission: "write", OnIssue: true, Examples: []string{"/agent run"}}, noArgs},
	{Spec{Verb: VerbPlan, Summary: "Ask the agent for a new plan; a new plan needs a new approval.",
		MinPermission: "write", OnIssue: true, Examples: []string{"/agent plan"}}, noArgs},
	{Spec{Verb: VerbApprove, Args: "<plan-id>", Summary: "Approve exactly this plan and let the agent implement it in a pull request.",
		MinPermission: "write", OnIssue: true, Examples: []string{"/agent approve p-3fa9c2d1"}}, planIDArg},
	{Spec{Verb: VerbRevise, Args: "<instructions>", Summary: "Have the agent change its pull request; the instructions run to the next /agent line and may span several lines.",
		MinPermission: "write", OnPullRequest: true, Examples: []string{"/agent revise rename the flag to --dry-run and update the README"}}, textArg},
	{Spec{Verb: VerbRetry, Summary: "Run the last failed or interrupted step again.",
		MinPermission: "write", OnIssue: true, OnPullRequest: true, Examples: []string{"/agent retry"}}, noArgs},
	{Spec{Verb: VerbCancel, Summary: "Stop the agent's task; nothing more is run or pushed for it.",
		MinPermission: "write", OnIssue: true, OnPullRequest: true, Examples: []string{"/agent cancel"}}, noArgs},
	{Spec{Verb: VerbStatus, Summary: "Reply with the task's state, its runs and what it is waiting for.",
		MinPermission: "write", OnIssue: true, OnPullRequest: true, Examples: []string{"/agent status"}}, noArgs},
	{Spec{Verb: VerbHelp, Summary: "Reply with this list of commands.",
		MinPermission: "write", OnIssue: true, OnPullRequest: true, Examples: []string{"/agent help"}}, noArgs},
}

// Specs returns the commands in help order. The result is a copy.
func Specs() []Spec {
	out := make([]Spec, len(specs))
	for i, s := range specs {
		out[i] = s.Spec
		out[i].Examples = append([]string(nil), s.Examples...)
	}
	return out
}

// Lookup returns the spec of verb (case-insensitive).
func Lookup(verb Verb) (Spec, bool) {
	for _, s := range Specs() {
		if strings.EqualFold(string(s.Verb), string(verb)) {
			return s, true
		}
	}
	return Spec{}, false
}

func lookup(verb string) (Spec, argKind, bool) {
	for _, s := range specs {
		if string(s.Verb) == verb {
			return s.Spec, s.args, true
		}
	}
	return Spec{}, 0, false
}

// usageList is every command on one line, to show when the verb is
// unknown: "/agent run | plan | approve <plan-id> | ...".
func usageList() string {
	parts := make([]string, len(specs))
	for i, s := range specs {
		parts[i] = strings.TrimPrefix(s.Usage(), Prefix+" ")
	}
	return Prefix + " " + strings.Join(parts, " | ")
}

// Help returns the /agent help reply: Markdown with a table of the
// commands, what they do, who may use them and where. appName is the name
// the app goes by ("agentgate").
func Help(appName string) string {
	appName = strings.TrimSpace(appName)
	if appName == "" {
		appName = "agentgate"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### %s commands\n\n", escapeCell(appName))
	fmt.Fprintf(&b, "Start a line of a comment with `%s`:\n\n", Prefix)
	b.WriteString("| Command | What it does | Who may use it | Where |\n")
	b.WriteString("|---|---|---|---|\n")
	for _, s := range specs {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", s.Usage(), escapeCell(s.Summary), who(s.MinPermission), where(s.Spec))
	}
	b.WriteString("\nExamples:\n\n```\n")
	for _, s := range specs {
		for _, e := range s.Examples {
			b.WriteString(e + "\n")
		}
	}
	b.WriteString("```\n\n")
	b.WriteString("Commands in code blocks, quotes and HTML comments are ignored, and so are edited comments. ")
	b.WriteString("Plan ids are in the plan comment; an approval holds only for that exact plan.\n")
	return b.String()
}

func who(perm string) string {
	switch perm {
	case "read":
		return "anyone who can read the repository"
	case "triage":
		return "people with triage, write, maintain or admin access"
	case "write":
		return "people with write, maintain or admin access"
	case "maintain":
		return "people with maintain or admin access"
	case "admin":
		return "admins"
	}
	return perm
}

func where(s Spec) string {
	switch {
	case s.OnIssue && s.OnPullRequest:
		return "issues and pull requests"
	case s.OnIssue:
		return "issues"
	case s.OnPullRequest:
		return "pull requests"
	}
	return "nowhere"
}

func escapeCell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}
