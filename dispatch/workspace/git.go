package workspace

import (
	"strconv"
	"time"

	"github.com/agentgate/agentgate/internal/gitexec"
)

// Remote is where a repository is fetched from and pushed to. Token is an
// installation token (or "" for a remote that needs none, such as a local
// path). It never appears in argv, in a URL, in an error message, in a log
// or on disk: git runs through internal/gitexec, which hands the token over
// in git's environment and redacts git's output before it is wrapped into
// an error. String is the URL without user information.
type Remote = gitexec.Remote

// ErrAuthentication is wrapped by errors of git commands the remote
// refused for want of a valid token (missing, wrong or expired).
var ErrAuthentication = gitexec.ErrAuthentication

// gitDate is the raw date format git reads from GIT_*_DATE.
func gitDate(t time.Time) string {
	return "@" + strconv.FormatInt(t.Unix(), 10) + " " + t.Format("-0700")
}
