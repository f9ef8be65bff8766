package githubtest_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/githubtest"
)

func TestSubmitReview(t *testing.T) {
	t.Parallel() // git is slow to start; the fakes share nothing
	ctx := context.Background()
	f := newMergeFixture(t)
	s := f.s
	s.SetPermission(repoName, "alice", "write")

	id, err := s.SubmitReview("octo-org", "repo-000", f.pullNumber, githubtest.Review{
		User: githubtest.Account{Login: "alice"}, State: "APPROVED", Body: "Ship it.",
	})
	if err != nil {
		t.Fatal(err)
	}
	// An older commit can be reviewed too.
	if _, err := s.SubmitReview("octo-org", "repo-000", f.pullNumber, githubtest.Review{
		User: githubtest.Account{Login: "bob"}, State: "CHANGES_REQUESTED", CommitID: f.topic1,
	}); err != nil {
		t.Fatal(err)
	}

	reviews, _, err := f.gh.PullRequests.ListReviews(ctx, "octo-org", "repo-000", f.pullNumber, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(reviews) != 2 || reviews[0].GetID() != id || reviews[0].GetState() != "APPROVED" || reviews[0].GetCommitID() != f.topic2 ||
		reviews[0].GetUser().GetLogin() != "alice" || reviews[0].GetBody() != "Ship it." ||
		reviews[1].GetState() != "CHANGES_REQUESTED" || reviews[1].GetCommitID() != f.topic1 {
		t.Errorf("reviews = %+v", reviews)
	}

	got, _ := f.rc.snapshot() // SubmitReview returns after the delivery
	if len(got) != 2 || got[0].event != "pull_request_review" {
		t.Fatalf("webhooks = %+v", got)
	}
	var p struct {
		Action string `json:"action"`
		Review struct {
			ID                int64  `json:"id"`
			State             string `json:"state"`
			CommitID          string `json:"commit_id"`
			AuthorAssociation string `json:"author_association"`
			User              struct {
				Login string `json:"login"`
			} `json:"user"`
		} `json:"review"`
		PullRequest struct {
			Number int `json:"number"`
			Head   struct {
				SHA string `json:"sha"`
			} `json:"head"`
		} `json:"pull_request"`
		Installation struct {
			ID int64 `json:"id"`
		} `json:"installation"`
	}
	if err := json.Unmarshal(got[0].payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.Action != "submitted" || p.Review.ID != id || p.Review.State != "approved" || p.Review.CommitID != f.topic2 ||
		p.Review.User.Login != "alice" || p.Review.AuthorAssociation != "COLLABORATOR" || p.PullRequest.Number != f.pullNumber ||
		p.PullRequest.Head.SHA != f.topic2 || p.Installation.ID != installationID {
		t.Errorf("pull_request_review webhook = %+v", p)
	}

	// GitHub's refusals.
	for name, rv := range map[string]githubtest.Review{
		"own approval":       {User: githubtest.Account{Login: "agentgate-test[bot]"}, State: "APPROVED"},
		"own change request": {User: githubtest.Account{Login: "agentgate-test[bot]"}, State: "CHANGES_REQUESTED"},
		"unknown commit":     {User: githubtest.Account{Login: "alice"}, State: "APPROVED", CommitID: strings.Repeat("f", 40)},
		"bad state":          {User: githubtest.Account{Login: "alice"}, State: "DISMISSED"},
		"no user":            {State: "APPROVED"},
	} {
		if _, err := s.SubmitReview("octo-org", "repo-000", f.pullNumber, rv); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := s.SubmitReview("octo-org", "repo-000", 99, githubtest.Review{User: githubtest.Account{Login: "alice"}}); err == nil {
		t.Errorf("review of no pull request: accepted")
	}
	// The author may comment on their own pull request.
	if _, err := s.SubmitReview("octo-org", "repo-000", f.pullNumber, githubtest.Review{User: githubtest.Account{Login: "agentgate-test[bot]"}}); err != nil {
		t.Errorf("the author's comment review: %v", err)
	}
}
