// Package publish copies signed bundles (Sigstore bundle v0.3 JSON, one
// per statement, all about one landed commit) to places outside
// agentgate, for people who look there rather than at agentgate's API:
//
//   - GitNotes writes them to refs/notes/agentgate of the repository,
//     the note on the landed commit holding one bundle per line, so
//     `git fetch origin refs/notes/agentgate:refs/notes/agentgate &&
//     git notes --ref=agentgate show <sha>` finds them next to the code;
//   - GitHub stores them with GitHub's artifact attestation API
//     (POST /repos/{owner}/{repo}/attestations).
//
// Both are optional copies: the store's append-only log is the record, and
// a failure here loses nothing. Publishing the same bundles twice adds
// nothing to the notes (a bundle already in the note is not written
// again); GitHub's API has no such check, so callers post only bundles the
// store has just inserted.
//
// What this package must not do:
//   - put a token in argv, a URL, an error, a log line or a file, or let
//     git prompt, run hooks, sign, or read the user's or the system's git
//     configuration: every git command runs through internal/gitexec (as
//     dispatch/workspace's do), which hands the token over in git's
//     environment and redacts its output;
//   - overwrite notes someone else wrote: the notes ref is pushed with a
//     lease on the commit it was read at, and on a rejection read again;
//   - touch branches or tags: only refs/notes/agentgate is written.
package publish
