package publish

import (
	"context"
	"strings"

	"github.com/agentgate/agentgate/internal/gitexec"
)

// ErrAuthentication is wrapped by errors of git commands the remote
// refused for want of a valid token (missing, wrong or expired).
var ErrAuthentication = gitexec.ErrAuthentication

// scratch is the bare repository one Publish works in, removed afterwards.
type scratch struct {
	git    *gitexec.Git
	gitDir string
}

// run runs git on the scratch repository. gc is off as well as kept in
// the foreground: nothing here lives long enough to be worth packing.
func (s *scratch) run(ctx context.Context, c gitexec.Cmd) ([]byte, error) {
	c.Env = append([]string{"GIT_DIR=" + s.gitDir}, c.Env...)
	c.Args = append([]string{"-c", "gc.auto=0"}, c.Args...)
	return s.git.Run(ctx, c)
}

// output is run's standard output, trimmed.
func (s *scratch) output(ctx context.Context, c gitexec.Cmd) (string, error) {
	out, err := s.run(ctx, c)
	return strings.TrimSpace(string(out)), err
}
