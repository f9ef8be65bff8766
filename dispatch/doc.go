// Package dispatch turns labelled issues and /agent commands into tasks, runs
// an agent for each in an isolated workspace, and lands the agent's change as
// a pull request that agentgate commits, pushes and describes.
//
// A task moves through the states in state.go; every move is a row in the
// store (the audit trail the attestations read) and is mirrored on the issue
// by one sticky progress comment and an agent:* state label. Webhook
// handling (Dispatcher.Label, Dispatcher.Comment, ...) is quick: it checks
// permission, records the transition and queues a run. Runs execute in
// queue jobs (Dispatcher.Work) on whichever replica picks them up; a run
// claims itself by compare-and-set, reports a heartbeat, and is marked
// interrupted by the sweep when its replica dies, so nothing is lost
// silently and `/agent retry` resumes it.
//
// What this package must not do: give the agent a GitHub token, the app's
// private key or the signing key; let a repository choose an agent or a
// limit the server did not allow; put issue or comment text anywhere but in
// files marked as untrusted data; or let the agent's own words decide
// whether its change is correct (the gate does that).
package dispatch
