package githubtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Webhooks the fake sends of its own accord, when something happens on it that GitHub would
// announce: merging a pull request (pull_request closed with merged true, then push for the
// base branch) and a person's review ([Server.SubmitReview]: pull_request_review
// submitted). Their payloads are built from the fake's state, like its API answers, and are
// checked against the webhook schemas of GitHub's description; a payload that does not match
// is a bug in the fake and is reported as a Violation. They go to the webhook URL whatever
// events the installation subscribes to, signed and logged like [Server.SendWebhook]'s.

// webhookEvent is one payload ready to send.
type webhookEvent struct {
	name string // X-GitHub-Event
	body []byte
}

// newEvent encodes a payload and checks it against the event's schema ("pull_request" with
// action "closed" → webhook-pull-request-closed).
func (s *Server) newEvent(name string, payload map[string]any) webhookEvent {
	body, err := json.Marshal(payload)
	if err != nil {
		panic("githubtest: encode " + name + " payload: " + err.Error())
	}
	schema := name
	if action, _ := payload["action"].(string); action != "" {
		schema += "." + action
	}
	var v any
	if err := json.Unmarshal(body, &v); err == nil {
		if err := checkPayload(schema, v); err != nil {
			s.mu.Lock()
			s.violations = append(s.violations, Violation{Method: "WEBHOOK", Path: schema, Response: true, Reason: err.Error()})
			s.mu.Unlock()
		}
	}
	return webhookEvent{name: name, body: body}
}

// deliverEvents sends the events in order and waits for each answer. The error joins the
// deliveries that did not reach the app (an answer with any status is a delivery).
func (s *Server) deliverEvents(ctx context.Context, events []webhookEvent) error {
	var errs []error
	for _, e := range events {
		if _, err := s.sendWebhook(ctx, newGUID(), e.name, e.body, false); err != nil {
			errs = append(errs, fmt.Errorf("%s webhook: %w", e.name, err))
		}
	}
	return errors.Join(errs...)
}

// deliverEventsLater sends the events in order in the background, as GitHub does after an
// API request has been answered; the test's end waits for them.
func (s *Server) deliverEventsLater(events []webhookEvent) {
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.inflight.Add(1)
	}
	s.mu.Unlock()
	if closed || len(events) == 0 {
		if !closed {
			s.inflight.Done()
		}
		return
	}
	go func() {
		defer s.inflight.Done()
		_ = s.deliverEvents(context.Background(), events) // failures are in the delivery log
	}()
}

// eventBaseLocked is what every event about a repository carries: repository, sender,
// installation and, for an organization's repository, organization.
func (s *Server) eventBaseLocked(inst *installation, repo Repo, sender Account, repository map[string]any) map[string]any {
	if repository == nil {
		repository = s.repositoryJSONLocked(inst, repo)
	}
	out := map[string]any{
		"repository": repository,
		"sender":     s.userJSON(sender),
	}
	if inst != nil {
		out["installation"] = map[string]any{"id": inst.ID, "node_id": nodeID("IntegrationInstallation", inst.ID)}
		if ownerType(inst, repo) == "Organization" {
			out["organization"] = s.organizationJSON(repo.owner())
		}
	}
	return out
}

// organizationJSON is an "organization-simple-webhooks" object.
func (s *Server) organizationJSON(login string) map[string]any {
	id := derivedID(login)
	api := s.srv.URL + "/orgs/" + login
	return map[string]any{
		"login": login, "id": id, "node_id": nodeID("Organization", id), "url": api,
		"repos_url": api + "/repos", "events_url": api + "/events", "hooks_url": api + "/hooks",
		"issues_url": api + "/issues", "members_url": api + "/members{/member}",
		"public_members_url": api + "/public_members{/member}",
		"avatar_url":         "https://avatars.githubusercontent.com/u/" + itoa(id) + "?v=4",
		"description":        nil,
	}
}

// pushRepositoryJSONLocked is the repository as push events show it: the owner has a name and
// email, and created_at and pushed_at are Unix seconds.
func (s *Server) pushRepositoryJSONLocked(inst *installation, repo Repo, pushedAt time.Time) map[string]any {
	out := s.repositoryJSONLocked(inst, repo)
	owner := out["owner"].(map[string]any)
	owner["name"] = repo.owner()
	owner["email"] = nil
	created := inst.createdAt.Add(-24 * time.Hour)
	out["created_at"] = created.Unix()
	out["pushed_at"] = pushedAt.Unix()
	out["stargazers"] = 0
	out["master_branch"] = repo.DefaultBranch
	if ownerType(inst, repo) == "Organization" {
		out["organization"] = repo.owner()
	}
	return out
}
