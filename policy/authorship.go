package policy

import (
	"github.com/agentgate/agentgate/provenance"
)

// This file turns the provenance package's findings (the one parser of
// provenance blocks and Agent-* trailers) into the input document.

func parseTrailers(message string) map[string]string {
	t := provenance.ParseTrailers(message)
	if t == nil {
		t = map[string]string{}
	}
	return t
}

func parseProvenance(body string) Provenance {
	b := provenance.Parse(body)
	p := Provenance{Present: b.Present, Version: b.Version, Fields: map[string]any(b.Fields)}
	for _, e := range b.Errors {
		p.Errors = append(p.Errors, ProvenanceError(e))
	}
	return p
}

// agentAuthored decides whether the pull request counts as agent-authored,
// with reasons, from what the input already holds.
func agentAuthored(in Input, appLogin string) (bool, []string) {
	commits := make([]provenance.CommitTrailers, 0, len(in.Commits))
	for _, c := range in.Commits {
		commits = append(commits, provenance.CommitTrailers{SHA: c.SHA, Trailers: c.Trailers})
	}
	block := provenance.Block{Present: in.Provenance.Present, Version: in.Provenance.Version, Fields: provenance.Fields(in.Provenance.Fields)}
	return provenance.IsAgentAuthored(provenance.AuthorshipInput{
		AuthorLogin: in.PullRequest.Author.Login, AuthorType: in.PullRequest.Author.Type, AppLogin: appLogin,
		Block: block, Commits: commits,
		AgentLogins: in.Config.Agents.Logins, AllBots: in.Config.Agents.AllBots,
	})
}

// requester is who asked for the change: the provenance block's trigger
// actor for agent work, else the pull request's author. Their own approval
// never counts as the human review of a protected path.
func requester(in Input) *Person {
	// agentgate's own record beats the PR body, which people can edit.
	if in.Task != nil && in.Task.Requester != "" {
		return &Person{Login: in.Task.Requester, Type: "User"}
	}
	if actor, _ := in.Provenance.Fields[provenance.KeyTriggerActor].(string); actor != "" {
		return &Person{Login: actor, Type: "User"}
	}
	a := in.PullRequest.Author
	return &a
}
