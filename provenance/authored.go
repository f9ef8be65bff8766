package provenance

import (
	"fmt"
	"slices"
	"strings"
)

// AuthorshipInput is what IsAgentAuthored looks at.
type AuthorshipInput struct {
	AuthorLogin string // the pull request's author
	AuthorType  string // "Bot" or "User", as GitHub says
	// AppLogin is agentgate's own bot login (e.g. "agentgate[bot]").
	AppLogin string
	Block    Block            // Parse of the pull request body
	Commits  []CommitTrailers // the pull request's commits
	// AgentLogins and AllBots are the repository's agents configuration.
	AgentLogins []string
	AllBots     bool
}

// CommitTrailers is one commit's SHA and trailers (ParseTrailers).
type CommitTrailers struct {
	SHA      string
	Trailers map[string]string
}

// IsAgentAuthored decides whether a pull request counts as agent-authored,
// and says why, each reason a short phrase. Any one of these suffices:
//   - the author is agentgate's app;
//   - the body has a provenance block with involvement authored or
//     transformed, or a block whose involvement cannot be read (failing
//     closed: the provenance policy then reports the block's errors);
//   - a commit has an Agent-* trailer;
//   - the author is a configured agent login, or a Bot when AllBots is set.
//
// A block with involvement suggested alone does not make a pull request
// agent-authored. Logins compare case-insensitively, as GitHub's do.
func IsAgentAuthored(in AuthorshipInput) (bool, []string) {
	var reasons []string
	if in.AppLogin != "" && strings.EqualFold(in.AuthorLogin, in.AppLogin) {
		reasons = append(reasons, fmt.Sprintf("author %s is agentgate's app", in.AuthorLogin))
	}
	if in.Block.Present {
		switch inv := in.Block.Fields.Text(KeyInvolvement); inv {
		case InvolvementAuthored, InvolvementTransformed:
			reasons = append(reasons, fmt.Sprintf("provenance block (involvement %s)", inv))
		case InvolvementSuggested:
		default:
			reasons = append(reasons, "provenance block without a valid involvement")
		}
	}
	for _, c := range in.Commits {
		if key := agentTrailerKey(c.Trailers); key != "" {
			reasons = append(reasons, fmt.Sprintf("%s trailer on %s", key, shortSHA(c.SHA)))
		}
	}
	if in.AuthorLogin != "" && slices.ContainsFunc(in.AgentLogins, func(l string) bool { return strings.EqualFold(l, in.AuthorLogin) }) {
		reasons = append(reasons, fmt.Sprintf("author %s is a configured agent", in.AuthorLogin))
	} else if in.AllBots && in.AuthorType == "Bot" {
		reasons = append(reasons, fmt.Sprintf("author %s is a bot (agents.all_bots)", in.AuthorLogin))
	}
	return len(reasons) > 0, reasons
}

// agentTrailerKey names the commit's first Agent-* trailer: agentgate's in
// their documented order, then any other Agent-* key alphabetically.
func agentTrailerKey(trailers map[string]string) string {
	known := AgentTrailers(trailers)
	for _, k := range agentTrailers {
		if _, ok := known[k]; ok {
			return k
		}
	}
	var other []string
	for k := range trailers {
		if len(k) > len("Agent-") && strings.EqualFold(k[:len("Agent-")], "Agent-") {
			other = append(other, k)
		}
	}
	if len(other) == 0 {
		return ""
	}
	slices.Sort(other)
	return other[0]
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
