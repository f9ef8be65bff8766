// Package plan reads the plan an agent writes in a plan run (plan.md) and
// gives it an identity that a human approval can bind to.
//
// A plan is Markdown. Level-2 headings ("## ...") start sections; the
// heading match is case-insensitive and a trailing colon is ignored.
//
//   - "## Files" (or "## Files to change") lists the path globs the change
//     may touch, one top-level list item each ("- ", "* " or "+ "). The glob
//     may be wrapped in backticks; after it, whitespace and a dash ("—", "–"
//     or "-") start a comment, as in "- `dispatch/**` — the new packages".
//     Nested list items and paragraphs in the section are prose, not paths.
//     The section is required and must list at least one path.
//   - "## Acceptance" (or "## Acceptance criteria") lists the checks that
//     say the change is done: top-level list items, bulleted or numbered,
//     free text ("go test ./...", "check `ci/test` passes"). A leading task
//     box ("[ ]" or "[x]") is dropped; indented continuation lines join the
//     item. The section is optional.
//   - Every level-2 section, these two included, is kept in Sections, and
//     the whole document in Body.
//
// Headings and list items inside fenced code blocks (``` or ~~~) do not
// count.
//
// # Globs
//
// Paths are relative to the repository root and use forward slashes.
// Within a segment, "*" matches any run of characters, "?" one character
// and "[...]" a class, as in path.Match; "**" as a whole segment matches
// zero or more segments ("docs/**" is docs and everything below it). A
// trailing "/" means the directory and everything below it ("docs/" reads
// as "docs/**"), and a leading "./" is dropped. Parse rejects absolute
// paths, "." and ".." segments, empty segments, backslashes, control
// characters (NUL included), "**" inside a longer segment, and malformed
// classes; Match applies the same rules when it compares a path.
//
// # Identity
//
// Body is the document normalised (CRLF and lone CR become LF, leading
// byte-order marks and trailing spaces on each line are removed, trailing
// blank lines are dropped, and it ends with exactly one newline). SHA256 is
// the hex digest of Body and ID is "p-" followed by its first 8 hex digits.
// The same plan therefore always has the same ID and digest, and an
// approval given for one ID never applies to a plan with another body:
// whoever stores an approval must store the digest with it (DESIGN.md §4).
//
// Limits: a plan is at most 64 KiB of valid UTF-8 with at most 200 paths.
// Errors are *Error values naming the line of plan.md they are about.
//
// This package only parses. It must not read files, talk to GitHub or the
// store, or decide whether a plan is approved; it must not import other
// agentgate packages.
package plan
