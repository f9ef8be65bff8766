// Package githubtest is a fake GitHub for tests: a real HTTP server that answers the REST API
// endpoints agentgate calls the way api.github.com does, and sends signed webhooks the way
// GitHub's hookshot does.
//
// GitHub cannot be reached from tests, and mocks of a client library prove nothing about the
// requests that reach the wire. So the fake is exercised through real clients (go-github,
// ghinstallation, or the agentgate binary pointed at [Server.URL] through
// AGENTGATE_GITHUB_API_URL) and checks what they send:
//
//   - App JWTs are verified (RS256 with the fake's own key, iss, iat, exp), installation
//     tokens are minted and checked, each with the installation and repositories it may use.
//   - Every API request is validated against GitHub's published OpenAPI description (the
//     operations in openapi/operations.txt, cut from @octokit/openapi). A request GitHub would
//     refuse is answered as GitHub would (404 or 422) and recorded as a [Violation]; the test
//     that created the fake fails at cleanup unless [AllowViolations] is given.
//   - Responses carry GitHub's pagination Link headers, strong ETags (a matching
//     If-None-Match gets 304 and costs no rate limit) and X-RateLimit-* headers backed by a
//     real per-installation budget. Primary and secondary rate limits, 5xx and timeouts can be
//     injected by rule ([Fault]) with a seeded random source, so failures are reproducible.
//   - Webhooks ([Server.SendWebhook]) are signed with X-Hub-Signature-256 and X-Hub-Signature,
//     recorded in the app's delivery log (GET /app/hook/deliveries) and can be redelivered
//     through the API with the same X-GitHub-Delivery GUID.
//   - The app manifest flow works end to end: [Server.WebURL] serves GitHub's
//     "POST /settings/apps/new" form, redirects with a code, and
//     POST /app-manifests/{code}/conversions returns the fake's app credentials.
//   - A repository can have a real git repository ([Server.InitGitRepo]), served over smart
//     HTTP at [Server.GitURL] by git http-backend with GitHub's rules for installation tokens
//     (user x-access-token; 401, 404 for a repository the token cannot see, 403 without
//     contents:read to fetch or contents:write to push, and no workflow file changes without
//     workflows:write). Pushes are recorded with the token's permissions and repositories
//     ([Server.Pushes]); branches, pull requests (head, files, commits) and contents follow
//     git. Pull requests the app opens get their commits and files from git.
//   - Issues, comments (the app's as "<slug>[bot]"), reactions, labels, review comments,
//     users and workflow dispatches work as the app's dispatch needs them, with GitHub's
//     permission checks and errors.
//   - Pull requests merge with real git (merge, squash or rebase; PUT .../merge for the app,
//     [Server.MergePull] for a person), commit objects are readable
//     (GET .../git/commits/{sha}), people submit reviews ([Server.SubmitReview]) and the app
//     can store artifact attestations (POST .../attestations, read back with
//     [Server.Attestations] or GET .../attestations/{subject_digest}).
//   - The fake sends webhooks of its own only for what happens on it: a merge (pull_request
//     closed with merged true, then push) and a submitted review (pull_request_review);
//     their payloads are checked against GitHub's webhook schemas. Any other webhook a test
//     sends itself ([Payload] has templates for the events agentgate handles).
//
// What the package must not do: it is test-only and must never be imported by non-test code
// of the agentgate binary; it holds no global mutable state except the parsed, read-only
// OpenAPI document (loaded once per process).
//
// Adding an endpoint is one line in routes (server.go) plus a handler; the operation must also
// be listed in openapi/operations.txt (then regenerate the description, see package openapi).
package githubtest
