// Package dispatch will turn labelled issues and /agent commands into tasks,
// run agents in isolated worktrees and open pull requests for them. It is
// filled by the dispatch issue (#4); nothing here yet.
package dispatch
