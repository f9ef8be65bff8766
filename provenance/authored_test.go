package provenance

import (
	"reflect"
	"testing"
)

func TestIsAgentAuthored(t *testing.T) {
	agents := []string{"Copilot", "devin-ai-integration[bot]"}
	tests := []struct {
		name    string
		in      AuthorshipInput
		want    bool
		reasons []string
	}{
		{name: "a person's plain pull request", in: AuthorshipInput{AuthorLogin: "alice", AuthorType: "User", AppLogin: "agentgate[bot]", AgentLogins: agents}},
		{name: "agentgate's own", in: AuthorshipInput{AuthorLogin: "agentgate[bot]", AuthorType: "Bot", AppLogin: "agentgate[bot]",
			Block: Parse(Write(Fields{KeyInvolvement: InvolvementAuthored}))},
			want: true, reasons: []string{"author agentgate[bot] is agentgate's app", "provenance block (involvement authored)"}},
		{name: "person with transformed block", in: AuthorshipInput{AuthorLogin: "alice", Block: Parse(Write(Fields{KeyInvolvement: InvolvementTransformed}))},
			want: true, reasons: []string{"provenance block (involvement transformed)"}},
		{name: "suggested alone is not agent-authored", in: AuthorshipInput{AuthorLogin: "alice", Block: Parse(Write(Fields{KeyInvolvement: InvolvementSuggested}))}},
		{name: "broken block fails closed", in: AuthorshipInput{AuthorLogin: "alice", Block: Parse("```agentgate-provenance v9\n```")},
			want: true, reasons: []string{"provenance block without a valid involvement"}},
		{name: "trailers", in: AuthorshipInput{AuthorLogin: "alice", Commits: []CommitTrailers{
			{SHA: sha1a, Trailers: map[string]string{"Signed-off-by": "a"}},
			{SHA: sha1b, Trailers: map[string]string{"Agent-Model": "m", "Agent-Run": "r"}},
			{SHA: "abc", Trailers: map[string]string{"agent-tool": "x"}},
		}}, want: true, reasons: []string{"Agent-Run trailer on 0d1a26e", "agent-tool trailer on abc"}},
		{name: "configured agent, any case", in: AuthorshipInput{AuthorLogin: "copilot", AuthorType: "Bot", AgentLogins: agents, AllBots: true},
			want: true, reasons: []string{"author copilot is a configured agent"}},
		{name: "all bots", in: AuthorshipInput{AuthorLogin: "dependabot[bot]", AuthorType: "Bot", AgentLogins: agents, AllBots: true},
			want: true, reasons: []string{"author dependabot[bot] is a bot (agents.all_bots)"}},
		{name: "bot without all_bots", in: AuthorshipInput{AuthorLogin: "dependabot[bot]", AuthorType: "Bot", AgentLogins: agents}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reasons := IsAgentAuthored(tt.in)
			if got != tt.want || !reflect.DeepEqual(reasons, tt.reasons) {
				t.Errorf("IsAgentAuthored = %v %q, want %v %q", got, reasons, tt.want, tt.reasons)
			}
		})
	}
}
