package githubtest

import (
	"embed"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/tidwall/sjson"

	"github.com/agentgate/agentgate/internal/githubtest/openapi"
)

// Webhook payloads in testdata/webhooks are shaped like GitHub's and are checked against the
// webhook schemas of GitHub's OpenAPI description (kept in the cut-down one by SCHEMA lines of
// openapi/operations.txt), before and after a test's vars: event.action.json, or
// event.action.variant.json for another typical case of the same event (checked against the
// same schema), for installation 1 of the app on organization octo-org, repository
// octo-org/hello-world (ID 1296269), sender octocat. The app's bot is agentgate-test[bot];
// its pull request is #8 (head agent/issue-7) for issue #7. Tests change what they care
// about with vars.
//
// The templates:
//
//   - issues.labeled: issue #7 labeled "agent".
//   - issue_comment.created: octocat's "/agent approve plan-0001" on issue #7;
//     issue_comment.created.pull_request: octocat's "/agent also cover the empty input case"
//     on pull request #8 (issue.pull_request set); issue_comment.edited: the first, edited
//     (changes.body.from has the old body).
//   - pull_request.opened, .synchronize, .closed (not merged), .closed.merged: #8.
//   - pull_request_review.submitted: the bot approves #8;
//     pull_request_review.submitted.changes_requested: octocat requests changes on #8.
//   - pull_request_review_comment.created: octocat comments on a line of #8 (review 81).
//   - workflow_run.completed: the agent workflow (.github/workflows/agent.yml), dispatched
//     by the bot, succeeded.
//   - check_run.*, check_suite.completed, status, merge_group.checks_requested, ping,
//     installation.created, installation_repositories.added.

//go:embed testdata/webhooks/*.json
var payloadFiles embed.FS

// Payload returns testdata/webhooks/<name>.json (e.g. "issues.labeled",
// "issue_comment.created.pull_request") with vars applied.
// Each key of vars is a path into the payload in sjson syntax ("installation.id",
// "issue.labels.0.name", "comment.body") and its value replaces what is there (nil
// deletes it). Keys are applied in sorted order. The test fails on a missing payload or a
// bad path.
func Payload(t testing.TB, name string, vars map[string]any) []byte {
	t.Helper()
	b, err := payloadFiles.ReadFile("testdata/webhooks/" + name + ".json")
	if err != nil {
		t.Fatalf("githubtest: no webhook payload %q: %v", name, err)
	}
	for _, path := range slices.Sorted(maps.Keys(vars)) {
		v := vars[path]
		if v == nil {
			b, err = sjson.DeleteBytes(b, path)
		} else {
			b, err = sjson.SetBytes(b, path, v)
		}
		if err != nil {
			t.Fatalf("githubtest: payload %s: set %s: %v", name, path, err)
		}
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("githubtest: payload %s is not valid JSON after applying vars: %v", name, err)
	}
	if err := checkPayload(name, v); err != nil {
		t.Fatalf("githubtest: payload %s with %v is not what GitHub sends: %v", name, vars, err)
	}
	return b
}

// checkPayload validates a payload against the webhook's schema in GitHub's description
// ("issue_comment.created" and "issue_comment.created.pull_request" →
// components.schemas["webhook-issue-comment-created"]), when the cut-down description keeps
// it (see openapi/operations.txt).
func checkPayload(name string, v any) error {
	doc, err := openapi.Load()
	if err != nil {
		return err
	}
	parts := strings.SplitN(name, ".", 3)
	schema := strings.Join(parts[:min(len(parts), 2)], ".")
	ref := doc.Components.Schemas["webhook-"+strings.NewReplacer("_", "-", ".", "-").Replace(schema)]
	if ref == nil || ref.Value == nil {
		return nil
	}
	if err := ref.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		return errors.New(describe(err))
	}
	return nil
}

// PayloadNames lists the payloads Payload knows.
func PayloadNames() []string {
	entries, _ := payloadFiles.ReadDir("testdata/webhooks")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name()[:len(e.Name())-len(".json")])
	}
	return names
}
