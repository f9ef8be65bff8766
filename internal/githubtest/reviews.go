package githubtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// People's reviews. [Server.AddReview] only records a review; [Server.SubmitReview] is a
// person submitting one on github.com: it is recorded (GET .../pulls/{n}/reviews lists it)
// and the app gets the pull_request_review webhook, action submitted.

// SubmitReview submits a review of pull request number as rv.User (required) with rv.State
// APPROVED, CHANGES_REQUESTED or COMMENTED (default) on rv.CommitID (default: the pull
// request's head), and delivers pull_request_review submitted; it returns the review's ID
// once the app has answered the webhook. Like GitHub, it refuses an approval or a change
// request by the pull request's author, and reviews of an unknown commit. If the review was
// recorded but the webhook did not reach the app, id is set and err says so.
func (s *Server) SubmitReview(owner, repo string, number int, rv Review) (id int64, err error) {
	fullName := owner + "/" + repo
	if rv.User.Login == "" {
		return 0, errors.New("githubtest: SubmitReview: no User")
	}
	if rv.State == "" {
		rv.State = "COMMENTED"
	}
	switch rv.State {
	case "APPROVED", "CHANGES_REQUESTED", "COMMENTED":
	default:
		return 0, fmt.Errorf("githubtest: SubmitReview: state %q is not APPROVED, CHANGES_REQUESTED or COMMENTED", rv.State)
	}
	s.mu.Lock()
	inst, r, ok := s.installedRepoLocked(fullName)
	if !ok {
		s.mu.Unlock()
		return 0, fmt.Errorf("githubtest: SubmitReview: %s is not a repository of any installation", fullName)
	}
	d := s.repoLocked(r.FullName)
	pr := d.pulls[number]
	if pr == nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("githubtest: SubmitReview: no pull request %s#%d", r.FullName, number)
	}
	if strings.EqualFold(pr.User.Login, rv.User.Login) {
		switch rv.State {
		case "APPROVED":
			s.mu.Unlock()
			return 0, errors.New("githubtest: SubmitReview: Can not approve your own pull request")
		case "CHANGES_REQUESTED":
			s.mu.Unlock()
			return 0, errors.New("githubtest: SubmitReview: Can not request changes on your own pull request")
		}
	}
	if rv.CommitID == "" {
		rv.CommitID = pr.Head.SHA
	}
	g := d.git
	s.mu.Unlock()
	if g != nil {
		if _, ok := g.resolve(rv.CommitID); !ok {
			return 0, fmt.Errorf("githubtest: SubmitReview: %s has no commit %s", r.FullName, rv.CommitID)
		}
	}

	s.mu.Lock()
	if pr = d.pulls[number]; pr == nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("githubtest: SubmitReview: no pull request %s#%d", r.FullName, number)
	}
	now := s.now().UTC().Truncate(time.Second)
	if rv.ID == 0 {
		rv.ID = s.nextIDLocked()
	}
	if rv.SubmittedAt.IsZero() {
		rv.SubmittedAt = now
	}
	s.knowLocked(rv.User)
	stored := rv
	d.reviews[number] = append(d.reviews[number], &stored)
	d.touchLocked(pr, now)

	prURL := s.srv.URL + "/repos/" + r.FullName + "/pulls/" + itoa(number)
	reviewHTML := s.WebURL() + r.FullName + "/pull/" + itoa(number) + "#pullrequestreview-" + itoa(rv.ID)
	payload := s.eventBaseLocked(inst, r, rv.User, nil)
	payload["action"] = "submitted"
	payload["review"] = map[string]any{
		"id": rv.ID, "node_id": nodeID("PullRequestReview", rv.ID), "user": s.userJSON(rv.User),
		"body": nilIfEmpty(rv.Body), "commit_id": rv.CommitID, "submitted_at": ts(rv.SubmittedAt),
		"state": strings.ToLower(rv.State), "html_url": reviewHTML, "pull_request_url": prURL,
		"author_association": s.associationLocked(r, d, rv.User.Login),
		"_links": map[string]any{
			"html":         map[string]any{"href": reviewHTML},
			"pull_request": map[string]any{"href": prURL},
		},
	}
	payload["pull_request"] = s.pullJSONLocked(inst, r, pr, false)
	s.mu.Unlock()

	if err := s.deliverEvents(context.Background(), []webhookEvent{s.newEvent("pull_request_review", payload)}); err != nil {
		return rv.ID, fmt.Errorf("githubtest: review %d of %s#%d recorded, but %w", rv.ID, r.FullName, number, err)
	}
	return rv.ID, nil
}
