package statement_test

import (
	"time"

	"github.com/agentgate/agentgate/provenance/statement"
)

const (
	landed = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	tree   = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
	base   = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
	head   = "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"
	sha    = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	sha2   = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	sha3   = "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"
)

// input is a complete, valid Input: an agent change, plan approved by
// bob, reviewed by bob on the head commit, two required checks.
func input() *statement.Input {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	return &statement.Input{
		Repository:      "o/r",
		Commit:          landed,
		Tree:            tree,
		Ref:             "refs/heads/main",
		PullRequest:     7,
		Issue:           12,
		Agent:           "claude-code",
		AgentVersion:    "2.1.0",
		Model:           "claude-sonnet-4.5",
		TaskID:          "01JABCDEF0123456789XYZ",
		RunID:           "run-3",
		Runner:          "exec",
		Involvement:     "authored",
		Plan:            statement.Plan{ID: "p-3f2a", SHA256: sha, ApprovedBy: "bob", ApprovedAt: t0.Add(5 * time.Minute)},
		PromptSHA256:    sha2,
		IssueTextSHA256: sha3,
		BaseSHA:         base,
		HeadSHA:         head,
		PolicyDigest:    sha3,
		PolicyFiles:     []statement.PolicyFile{{Path: "rego/size.rego", SHA256: sha}},
		Gate:            statement.Gate{Passed: true, EvaluatedAt: t0.Add(50 * time.Minute)},
		InstallationID:  4242,
		BuilderID:       "https://agentgate.example.com",
		StartedOn:       t0,
		FinishedOn:      t0.Add(time.Hour),
		Checks: []statement.Check{
			{Name: "test", App: "github-actions", Conclusion: "success", URL: "https://github.com/o/r/runs/1"},
			{Name: "lint", App: "github-actions", Conclusion: "neutral", URL: "https://github.com/o/r/runs/2"},
		},
		Requester: "alice",
		Reviews: []statement.Review{
			{ID: 3000000001, User: "alice", State: "COMMENTED", CommitID: base},
			{ID: 3000000002, User: "bob", State: "APPROVED", CommitID: head, SubmittedAt: t0.Add(55 * time.Minute)},
		},
		Revisions: []statement.Revision{{RunID: "run-2", RequestedBy: "bob", HeadSHA: head, At: t0.Add(30 * time.Minute)}},
	}
}
