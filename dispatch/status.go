package dispatch

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/store"
)

// stickyMarker starts the progress comment, so people (and tools) can find it.
const stickyMarker = "<!-- agentgate:task %s -->"

// sync brings the issue up to date with the store: the sticky progress
// comment (created once) and the agent:* state label. It is idempotent and
// safe to call after any change.
func (d *Dispatcher) sync(ctx context.Context, taskID string) error {
	d.stickyMu.Lock()
	defer d.stickyMu.Unlock()
	t, err := d.store.GetTask(ctx, taskID)
	if err != nil {
		return err
	}
	client, err := d.gh.Installation(t.InstallationID)
	if err != nil {
		return err
	}
	runs, err := d.store.RunsOfTask(ctx, t.ID)
	if err != nil {
		return err
	}
	var plan *store.Plan
	if t.PlanID != "" {
		p, err := d.store.GetPlan(ctx, t.ID, t.PlanID)
		if err != nil {
			return err
		}
		plan = &p
	}
	body := d.renderSticky(t, runs, plan)
	owner, name, _ := strings.Cut(t.Repository, "/")
	if t.StatusCommentID == 0 {
		c, _, err := client.Issues.CreateComment(ctx, owner, name, t.IssueNumber, &github.IssueComment{Body: github.Ptr(body)})
		if err != nil {
			return fmt.Errorf("progress comment of task %s: %w", t.ID, err)
		}
		id := c.GetID()
		if err := d.store.SetTaskFields(ctx, t.ID, store.TaskUpdate{StatusCommentID: &id}, d.now()); err != nil {
			return err
		}
	} else if _, _, err := client.Issues.EditComment(ctx, owner, name, t.StatusCommentID, &github.IssueComment{Body: github.Ptr(body)}); err != nil {
		return fmt.Errorf("update progress comment of task %s: %w", t.ID, err)
	}
	return d.syncLabels(ctx, client, t)
}

// syncLabels sets the task's agent:* state label and removes stale ones.
func (d *Dispatcher) syncLabels(ctx context.Context, client *github.Client, t store.Task) error {
	owner, name, _ := strings.Cut(t.Repository, "/")
	want := State(t.State).Label()
	stateLabels := map[string]bool{}
	for _, s := range AllStates() {
		stateLabels[s.Label()] = true
	}
	var have []string
	opts := &github.ListOptions{PerPage: 100}
	for {
		ls, resp, err := client.Issues.ListLabelsByIssue(ctx, owner, name, t.IssueNumber, opts)
		if err != nil {
			return fmt.Errorf("labels of %s#%d: %w", t.Repository, t.IssueNumber, err)
		}
		for _, l := range ls {
			have = append(have, l.GetName())
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	present := false
	for _, l := range have {
		switch {
		case l == want:
			present = true
		case stateLabels[l]:
			if _, err := client.Issues.RemoveLabelForIssue(ctx, owner, name, t.IssueNumber, l); err != nil && !isNotFound(err) {
				return fmt.Errorf("remove label %s from %s#%d: %w", l, t.Repository, t.IssueNumber, err)
			}
		}
	}
	if !present {
		if _, _, err := client.Issues.AddLabelsToIssue(ctx, owner, name, t.IssueNumber, []string{want}); err != nil {
			return fmt.Errorf("label %s#%d %s: %w", t.Repository, t.IssueNumber, want, err)
		}
	}
	return nil
}

// renderSticky writes the progress comment: a checklist of phases, links to
// the plan, the pull request and the run logs, and the outcome.
func (d *Dispatcher) renderSticky(t store.Task, runs []store.Run, plan *store.Plan) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, stickyMarker+"\n", t.ID)
	fmt.Fprintf(&sb, "### 🤖 agentgate task `%s`\n\n", t.ID)
	fmt.Fprintf(&sb, "Requested by @%s", t.Requester)
	if t.Agent != "" {
		fmt.Fprintf(&sb, " · agent `%s`", t.Agent)
	}
	fmt.Fprintf(&sb, " · runner `%s` · branch `%s`\n\n", t.Runner, t.Branch)

	state := State(t.State)
	reached := func(kind string) bool {
		for _, r := range runs {
			if r.Kind == kind && r.State == RunSucceeded {
				return true
			}
		}
		return false
	}
	check := func(done bool, text string) {
		mark := " "
		if done {
			mark = "x"
		}
		fmt.Fprintf(&sb, "- [%s] %s\n", mark, text)
	}
	check(true, "Queued")
	if t.Quick {
		check(true, "Plan: skipped (quick task, no approval needed)")
	} else {
		planText := "Plan written"
		if plan != nil {
			planText += fmt.Sprintf(": [`%s`](%s) · sha256 `%s`", plan.ID, d.commentURL(t, plan.CommentID), shortHash(plan.SHA256))
		}
		check(plan != nil, planText)
		approved := "Plan approved"
		if plan != nil && plan.ApprovedBy != "" && t.ApprovedPlanID == plan.ID {
			approved += " by @" + plan.ApprovedBy
		} else if state == AwaitingApproval && plan != nil {
			approved += fmt.Sprintf(": waiting; a person with write access comments `/agent approve %s`", plan.ID)
		}
		check(t.ApprovedPlanID != "", approved)
	}
	check(reached(KindImplement), "Implemented")
	pr := "Pull request opened"
	if t.PullNumber > 0 {
		pr += fmt.Sprintf(": #%d", t.PullNumber)
	}
	check(t.PullNumber > 0, pr)
	revisions := 0
	for _, r := range runs {
		if r.Kind == KindRevise && r.State == RunSucceeded {
			revisions++
		}
	}
	if revisions > 0 {
		check(true, fmt.Sprintf("Revised %d time(s)", revisions))
	}
	check(state == Merged, "Merged")

	fmt.Fprintf(&sb, "\n**Status:** %s", state.Describe())
	if t.Reason != "" && !state.Active() {
		fmt.Fprintf(&sb, ": %s", quote(t.Reason))
	}
	sb.WriteString(".\n")
	if state == Failed {
		sb.WriteString("Comment `/agent retry` to run it again.\n")
		if last := lastRun(runs); last != nil && last.Log != "" {
			fmt.Fprintf(&sb, "\n<details><summary>Last lines of the log of run <code>%s</code></summary>\n\n%s\n</details>\n", last.ID, fence(logTail(last.Log, 30, 3000)))
		}
	}
	if len(runs) > 0 {
		sb.WriteString("\n| run | kind | state | agent | model | log |\n|---|---|---|---|---|---|\n")
		for _, r := range runs {
			log := "—"
			if d.opts.Links != nil {
				log = fmt.Sprintf("[log](%s)", d.opts.Links.RunLog(t.ID, r.ID))
			}
			fmt.Fprintf(&sb, "| `%s` | %s | %s | %s | %s | %s |\n", r.ID, r.Kind, r.State, cell(r.Agent), cell(r.Model), log)
		}
	}
	if d.opts.Links != nil {
		fmt.Fprintf(&sb, "\n[Task page and audit trail](%s)\n", d.opts.Links.Task(t.ID))
	}
	return sb.String()
}

func (d *Dispatcher) commentURL(t store.Task, commentID int64) string {
	return fmt.Sprintf("%s%s/issues/%d#issuecomment-%d", d.opts.WebURL, t.Repository, t.IssueNumber, commentID)
}

func lastRun(runs []store.Run) *store.Run {
	if len(runs) == 0 {
		return nil
	}
	return &runs[len(runs)-1]
}

func cell(s string) string {
	if s == "" {
		return "—"
	}
	return strings.ReplaceAll(quote(s), "|", "\\|")
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// logTail is the last lines of a log, at most maxBytes.
func logTail(log string, lines, maxBytes int) string {
	log = strings.TrimRight(log, "\n")
	parts := strings.Split(log, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	out := strings.Join(parts, "\n")
	if len(out) > maxBytes {
		out = out[len(out)-maxBytes:]
	}
	return out
}

// longestBacktickRun is the length of the longest run of backticks in
// text: a code span or block must be delimited by a longer one.
func longestBacktickRun(text string) int {
	longest, run := 0, 0
	for _, r := range text {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// fence puts text in a code block no backtick run inside it can close.
func fence(text string) string {
	f := strings.Repeat("`", max(3, longestBacktickRun(text)+1))
	return f + "text\n" + text + "\n" + f
}

// quote renders text that people or agents wrote (a reason, a command
// line, a model name) inline and inert: one line, at most 300 characters,
// in a code span no backtick inside can close, so it cannot mention anyone,
// link, or add markdown of its own.
func quote(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if r := []rune(text); len(r) > 300 {
		text = string(r[:299]) + "…"
	}
	if text == "" {
		return "``"
	}
	f := strings.Repeat("`", longestBacktickRun(text)+1)
	return f + " " + text + " " + f
}
