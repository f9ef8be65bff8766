package gitexec

import (
	"errors"
	"fmt"
	"strings"
)

// ErrAuthentication is wrapped by errors of git commands the remote
// refused for want of a valid token (missing, wrong or expired).
var ErrAuthentication = errors.New("the remote refused the credentials")

// Error is a failed git command: the subcommand, how it ended and what it
// said, with the command's token redacted.
type Error struct {
	// Subcommand is the first argument that is not an option of git
	// itself ("fetch", "push"), or "?".
	Subcommand string
	// Err is how git ended: an *exec.ExitError, a failure to start it, or
	// the context's error wrapping either.
	Err error
	// ExitCode is git's exit status when git exited by itself; -1 when it
	// did not start, was killed, or the context ended meanwhile (an exit
	// status then says nothing about the repository).
	ExitCode int
	// Stderr and Stdout are the ends of git's output, redacted.
	Stderr, Stdout string
}

func (e *Error) Error() string {
	msg := strings.Join(strings.Fields(e.Stderr), " ")
	if e.authFailed() {
		msg = ErrAuthentication.Error() + ": " + msg
	}
	if msg == "" {
		return fmt.Sprintf("git %s: %v", e.Subcommand, e.Err)
	}
	return fmt.Sprintf("git %s: %v: %s", e.Subcommand, e.Err, msg)
}

// Unwrap is Err, and ErrAuthentication when git said the remote wanted
// other credentials.
func (e *Error) Unwrap() []error {
	if e.authFailed() {
		return []error{e.Err, ErrAuthentication}
	}
	return []error{e.Err}
}

// authFailed recognises git's ways of saying the server wanted other
// credentials: with prompts disabled it fails to read a username.
func (e *Error) authFailed() bool {
	for _, s := range []string{"could not read Username", "could not read Password", "Authentication failed", "The requested URL returned error: 401", "The requested URL returned error: 403"} {
		if strings.Contains(e.Stderr, s) {
			return true
		}
	}
	return false
}
