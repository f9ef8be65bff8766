package gitexec

import "strings"

// PushRejection is the summary `git push --porcelain` gives for the first
// ref it did not update ("[rejected] (non-fast-forward)", "[remote
// rejected] (protected branch hook declined)"), or "" if it updated them
// all. The summary may repeat what the remote said: Redact it before it
// goes into an error.
func PushRejection(porcelain string) string {
	for _, line := range strings.Split(porcelain, "\n") {
		if strings.HasPrefix(line, "!") {
			if _, summary, ok := strings.Cut(strings.TrimPrefix(line, "!\t"), "\t"); ok {
				return summary
			}
			return strings.TrimSpace(strings.TrimPrefix(line, "!"))
		}
	}
	return ""
}
