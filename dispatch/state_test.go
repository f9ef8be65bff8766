package dispatch

import (
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/store"
)

func TestStateMachine(t *testing.T) {
	tests := []struct {
		from, to State
		ok       bool
	}{
		{Queued, Planning, true},
		{Queued, Implementing, true}, // a quick task skips the plan
		{Planning, AwaitingApproval, true},
		{AwaitingApproval, Implementing, true},
		{AwaitingApproval, Planning, true}, // /agent plan asks for a new plan
		{Implementing, PROpen, true},
		{PROpen, Revising, true},
		{Revising, PROpen, true},
		{PROpen, Merged, true},
		{Failed, Implementing, true}, // /agent retry
		{Queued, PROpen, false},      // no pull request without a run
		{Planning, Implementing, true},
		{AwaitingApproval, PROpen, false}, // never past approval without implementing
		{Merged, Revising, false},
		{Cancelled, Planning, false}, // cancelled is final: start a new task instead
		{Closed, PROpen, false},
	}
	for _, tc := range tests {
		if got := tc.from.CanMove(tc.to); got != tc.ok {
			t.Errorf("%s → %s allowed = %v, want %v", tc.from, tc.to, got, tc.ok)
		}
	}
	for _, s := range AllStates() {
		if s.Terminal() && len(transitions[s]) != 0 {
			t.Errorf("terminal state %s has moves %v", s, transitions[s])
		}
		if !strings.HasPrefix(s.Label(), "agent:") || strings.Contains(s.Label(), "_") {
			t.Errorf("state %s label %q", s, s.Label())
		}
		if s.Active() == (s == Merged || s == Closed || s == Failed || s == Cancelled) {
			t.Errorf("state %s active = %v", s, s.Active())
		}
	}
	// The quick label is not a state label: our own labels never start a task.
	for _, s := range AllStates() {
		if s.Label() == "agent:quick" || s.Label() == "agent" {
			t.Errorf("state %s uses a trigger label", s)
		}
	}
}

func TestStickyComment(t *testing.T) {
	d := New(Options{WebURL: "https://github.com/"})
	now := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	task := store.Task{ID: "t-0123456789", Repository: "o/r", IssueNumber: 7, Requester: "alice", Agent: "claude",
		Runner: "exec", Branch: "agent/issue-7-01234567", State: string(AwaitingApproval), PlanID: "p-0a1b2c3d"}
	plan := &store.Plan{ID: "p-0a1b2c3d", SHA256: strings.Repeat("ab", 32), CommentID: 99}
	runs := []store.Run{{ID: "r-1", Kind: KindPlan, State: RunSucceeded, Agent: "claude", Model: "m|1", CreatedAt: now}}
	body := d.renderSticky(task, runs, plan)
	for _, want := range []string{
		"<!-- agentgate:task t-0123456789 -->",
		"- [x] Plan written: [`p-0a1b2c3d`](https://github.com/o/r/issues/7#issuecomment-99) · sha256 `abababababab`",
		"- [ ] Plan approved: waiting; a person with write access comments `/agent approve p-0a1b2c3d`",
		"- [ ] Pull request opened",
		"**Status:** waiting for a person to approve its plan.",
		"| `r-1` | plan | succeeded | ` claude ` | ` m\\|1 ` |",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("sticky comment lacks %q:\n%s", want, body)
		}
	}

	task.State, task.Reason = string(Failed), "the agent exited with status 2"
	runs = append(runs, store.Run{ID: "r-2", Kind: KindImplement, State: RunFailed, Log: strings.Repeat("noise\n", 100) + "```\nboom: the last line\n"})
	body = d.renderSticky(task, runs, plan)
	for _, want := range []string{"**Status:** failed: ` the agent exited with status 2 `.", "/agent retry", "boom: the last line", "````text"} {
		if !strings.Contains(body, want) {
			t.Errorf("failed sticky comment lacks %q:\n%s", want, body)
		}
	}
	if strings.Count(body, "noise") > 30 {
		t.Errorf("the log tail is not bounded: %d lines of noise", strings.Count(body, "noise"))
	}
}

func TestQuoteIsInert(t *testing.T) {
	tests := map[string]string{
		"plain":                        "` plain `",
		"@org/everyone ![x](http://e)": "` @org/everyone ![x](http://e) `",
		"two\nlines":                   "` two lines `",
		"has `ticks` and ``more``":     "``` has `ticks` and ``more`` ```",
		"":                             "``",
	}
	for in, want := range tests {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %q, want %q", in, got, want)
		}
	}
	if got := quote(strings.Repeat("x", 1000)); len([]rune(got)) > 310 {
		t.Errorf("quote does not bound its text: %d runes", len([]rune(got)))
	}
}

func TestBoundedLogKeepsHeadAndTail(t *testing.T) {
	b := &boundedLog{max: 100}
	for i := 0; i < 100; i++ {
		b.Write([]byte("0123456789"))
	}
	b.Write([]byte("THE END"))
	s := b.String()
	if !strings.HasPrefix(s, "0123456789") || !strings.HasSuffix(s, "THE END") || !strings.Contains(s, "bytes elided") {
		t.Fatalf("bounded log = %q", s)
	}
	if len(s) > 150 {
		t.Fatalf("bounded log holds %d bytes, want about 100", len(s))
	}
}
