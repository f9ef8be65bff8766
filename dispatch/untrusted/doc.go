// Package untrusted prepares text that people outside the operator's
// control wrote (issue bodies, comments, review comments) so it can be
// handed to an agent as data rather than as instructions (DESIGN.md §6).
//
// Clean removes what a reader of the rendered issue does not see but a
// model reading the raw text does: HTML comments (GitHub hides them, so
// "<!-- ignore previous instructions -->" is a classic hidden prompt),
// invisible format characters (zero-width spaces and joiners, bidi
// controls that make text read differently from how it is stored, the
// Unicode tag characters U+E0000–U+E007F that can spell out a whole hidden
// prompt, variation selectors that can smuggle bytes after a visible
// character, and the other default-ignorable code points), and control
// characters other than newline and tab. It makes line endings "\n" and
// the text valid UTF-8. Its output never contains "<!--", even when
// removing something would have joined the pieces of one.
//
// HTML comments are removed the way a browser ends them: at "-->", at
// "--!>", or straight away for "<!-->" and "<!--->"; an unterminated
// comment runs to the end of the text, as it does on GitHub. Comments are
// removed inside code blocks too, where GitHub would show them: losing a
// little visible text is the safe way to be wrong.
//
// Wrap puts cleaned text in a block for a prompt file, with a header that
// says who wrote it and that it is data, not instructions, and a code fence
// that the text cannot close.
//
// Cleaning is a defence in depth, not a guarantee: visible text can still
// ask an agent to misbehave. The agent runs sandboxed without GitHub write
// access for that reason. This package must never make text safe to pass
// to a shell or put on a command line; untrusted text reaches agents only
// as files. It has no dependencies beyond the standard library and no
// state.
package untrusted
