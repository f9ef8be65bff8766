// Package checks reports gate decisions as GitHub check runs.
//
// Render turns a policy.Decision into a check run's output: a title, a
// summary (a table of policies and their verdicts, load errors first), a
// text (each policy's violations) and annotations, within GitHub's limits
// (65,535 characters of summary and of text, cut between whole lines with a
// note saying what was left out). It is a pure function.
//
// Reporter posts that output: one check run per evaluation, created
// in_progress by Start and finished by Complete, which sends annotations in
// batches of 50 (GitHub appends them across updates). FindRun finds our
// latest run on a head SHA, so a pending evaluation can be completed later
// and the reconciler can see which heads have none.
//
// The package does not evaluate policies, decide conclusions (that is
// policy.Conclude) or build GitHub clients (internal/ghapp); it never writes
// commit statuses, which anyone with write access can forge, and never
// concludes neutral, which required checks treat as passing.
package checks
