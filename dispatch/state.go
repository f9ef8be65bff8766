package dispatch

import "fmt"

// State is where a task is in its life.
type State string

// The states of a task (DESIGN.md §4).
const (
	Queued           State = "queued"
	Planning         State = "planning"
	AwaitingApproval State = "awaiting_approval"
	Implementing     State = "implementing"
	PROpen           State = "pr_open"
	Revising         State = "revising"
	Merged           State = "merged"
	Closed           State = "closed"
	Failed           State = "failed"
	Cancelled        State = "cancelled"
)

// transitions lists the moves a task may make. Failed tasks may be retried,
// back into the state whose run failed; every unfinished state may be
// cancelled or fail.
var transitions = map[State][]State{
	Queued:           {Planning, Implementing, Failed, Cancelled},
	Planning:         {AwaitingApproval, Implementing, Failed, Cancelled},
	AwaitingApproval: {Planning, Implementing, Failed, Cancelled},
	Implementing:     {PROpen, Failed, Cancelled},
	PROpen:           {Revising, Merged, Closed, Failed, Cancelled},
	Revising:         {PROpen, Merged, Closed, Failed, Cancelled},
	Failed:           {Planning, Implementing, Revising, Closed, Merged},
	Merged:           {},
	Closed:           {},
	Cancelled:        {},
}

// Active reports whether a task in s is unfinished: at most one task per
// issue may be active.
func (s State) Active() bool {
	switch s {
	case Merged, Closed, Failed, Cancelled:
		return false
	}
	return true
}

// Terminal reports whether nothing can happen to a task in s any more.
func (s State) Terminal() bool { return s == Merged || s == Closed || s == Cancelled }

// CanMove reports whether a task may go from s to to.
func (s State) CanMove(to State) bool {
	for _, t := range transitions[s] {
		if t == to {
			return true
		}
	}
	return false
}

// checkMove is CanMove as an error for people: it says what the task is doing.
func checkMove(from, to State) error {
	if from.CanMove(to) {
		return nil
	}
	return fmt.Errorf("the task is %s and cannot become %s", from.Describe(), to)
}

// Describe says what a task in s is doing, for replies and the sticky comment.
func (s State) Describe() string {
	switch s {
	case Queued:
		return "queued"
	case Planning:
		return "writing a plan"
	case AwaitingApproval:
		return "waiting for a person to approve its plan"
	case Implementing:
		return "implementing the approved plan"
	case PROpen:
		return "done; its pull request is open for review"
	case Revising:
		return "revising its pull request"
	case Merged:
		return "merged"
	case Closed:
		return "closed without merging"
	case Failed:
		return "failed"
	case Cancelled:
		return "cancelled"
	}
	return string(s)
}

// Label is the agent:* state label a task in s carries.
func (s State) Label() string {
	switch s {
	case AwaitingApproval:
		return "agent:awaiting-approval"
	case PROpen:
		return "agent:pr-open"
	}
	return "agent:" + string(s)
}

// AllStates lists every state, in lifecycle order.
func AllStates() []State {
	return []State{Queued, Planning, AwaitingApproval, Implementing, PROpen, Revising, Merged, Closed, Failed, Cancelled}
}
