// Package command reads /agent commands out of comments, prow style:
// commands are data (Specs), so parsing, permission checks and the
// /agent help text all come from one table.
//
// A command is a line of a comment that starts with "/agent" (after
// optional spaces or tabs), followed by whitespace or the end of the line,
// then a verb: "/agent run", "/agent approve p-3fa9c2d1". The prefix and
// the verb are case-insensitive; "/agents" and "/agentx" are not commands.
// These lines are not commands, because a reader does not see them as
// ones:
//
//   - lines inside fenced code blocks (``` or ~~~), so a command shown in
//     an example is only shown;
//   - block-quote lines ("> /agent run"), so quoting someone's command in a
//     reply does not run it again;
//   - lines inside an HTML comment, which GitHub does not display.
//
// Indentation does not matter: an indented "/agent run" is a command.
//
// "/agent approve" takes exactly one plan ID ("p-" and 8 hex digits, case
// and surrounding backticks ignored). "/agent revise" takes the rest of its
// line and the lines after it, up to the next line that starts with
// "/agent" (in any context), as its instructions, so instructions can span
// several lines, lists and code blocks. The other verbs take no arguments.
// A line that starts with "/agent" but is not a valid command (an unknown
// verb, a missing or extra argument) gives an Error with a message and the
// usage to reply with; the rest of the comment is still parsed.
//
// Comment is the one shape of a comment whatever it came from (an issue or
// pull-request comment, a review comment, a review body), so the command
// handlers do not care where the text was written.
//
// This package only reads text. It must not check permissions, talk to
// GitHub or the store, or act on a command; the dispatcher does that,
// permission first (DESIGN.md §4). Arg and Raw are what the commenter
// wrote: clean Arg with package untrusted before it reaches an agent, and
// escape Raw before quoting it in a reply.
package command
