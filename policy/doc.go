// Package policy will hold the gate's engine: embedded OPA evaluating the
// Rego policies in rego/ (and a repository's own, from its base branch) over
// the input document built from a lazy, memoised view of a pull request.
// It is filled by the gate issue (#3); nothing here yet.
package policy
