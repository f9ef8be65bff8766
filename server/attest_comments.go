package server

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/provenance/statement"
	"github.com/agentgate/agentgate/store"
)

// attestComments tells people on GitHub what was signed: on the pull
// request, the attestations and the command an auditor runs to check one
// with cosign; on the task's issue, the commit the change shipped in. Each
// comment carries a marker, so a retried job posts it once.
type attestComments struct {
	store     *store.Store
	publicURL string // agentgate's API base, for the commands
}

func attestMarker(kind, commit string) string {
	return fmt.Sprintf("<!-- agentgate:%s %s -->", kind, commit)
}

func (c attestComments) post(ctx context.Context, client *github.Client, appLogin string, t AttestTarget, commit string, rows []store.Attestation) error {
	if len(rows) == 0 {
		return nil
	}
	full := t.Owner + "/" + t.Repo
	if err := c.once(ctx, client, appLogin, t, t.Number, attestMarker("attestations", commit), c.pullComment(full, commit, rows)); err != nil {
		return err
	}
	task, err := c.store.LatestTaskOfPull(ctx, full, t.Number)
	if err != nil || task.IssueNumber == 0 || task.IssueNumber == t.Number {
		return nil // not a dispatched task: no issue to tell
	}
	body := fmt.Sprintf("%s\nShipped in %s (#%d), with %d signed attestations.", attestMarker("shipped", commit), commit, t.Number, len(rows))
	return c.once(ctx, client, appLogin, t, task.IssueNumber, attestMarker("shipped", commit), body)
}

// once posts body on issue number unless a comment there by agentgate
// already carries marker (anyone can paste a marker; only ours count).
func (c attestComments) once(ctx context.Context, client *github.Client, appLogin string, t AttestTarget, number int, marker, body string) error {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		cs, resp, err := client.Issues.ListComments(ctx, t.Owner, t.Repo, number, opts)
		if err != nil {
			return fmt.Errorf("comments of %s/%s#%d: %w", t.Owner, t.Repo, number, err)
		}
		for _, cm := range cs {
			if strings.EqualFold(cm.GetUser().GetLogin(), appLogin) && strings.Contains(cm.GetBody(), marker) {
				return nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if _, _, err := client.Issues.CreateComment(ctx, t.Owner, t.Repo, number, &github.IssueComment{Body: github.Ptr(body)}); err != nil {
		return fmt.Errorf("comment on %s/%s#%d: %w", t.Owner, t.Repo, number, err)
	}
	return nil
}

// pullComment lists the attestations and shows, for the provenance, the
// exact cosign command: the auditor needs only the public key, the bundle
// and the commit.
func (c attestComments) pullComment(repository, commit string, rows []store.Attestation) string {
	var sb strings.Builder
	sb.WriteString(attestMarker("attestations", commit) + "\n")
	fmt.Fprintf(&sb, "### agentgate signed %d attestations for %s\n\n", len(rows), commit)
	sb.WriteString("| id | predicate type | name | signing key |\n|---|---|---|---|\n")
	example := rows[0]
	for _, r := range rows {
		fmt.Fprintf(&sb, "| `%s` | `%s` | %s | `%s` |\n", r.ID, r.PredicateType, quoteCell(r.Name), r.SignerKeyID)
		if r.PredicateType == statement.PredicateProvenance {
			example = r
		}
	}
	api := strings.TrimSuffix(c.publicURL, "/") + "/api/v1"
	fmt.Fprintf(&sb, "\nVerify the provenance with [cosign](https://github.com/sigstore/cosign) and only the public key "+
		"(an API token with read access to %s in `AGENTGATE_API_TOKEN`):\n\n", repository)
	sb.WriteString("```sh\n")
	fmt.Fprintf(&sb, "curl -fsS -H \"Authorization: Bearer $AGENTGATE_API_TOKEN\" %s/keys \\\n"+
		"  | jq -r '.keys[] | select(.key_id == \"%s\") | .public_key' > agentgate.pub\n", api, example.SignerKeyID)
	fmt.Fprintf(&sb, "curl -fsS -H \"Authorization: Bearer $AGENTGATE_API_TOKEN\" %s/attestations/%s -o %s.json\n", api, example.ID, example.ID)
	fmt.Fprintf(&sb, "cosign verify-blob-attestation --key agentgate.pub --bundle %s.json --insecure-ignore-tlog=true \\\n"+
		"  --type %s --digest %s --digestAlg gitCommit\n", example.ID, example.PredicateType, commit)
	sb.WriteString("```\n\n")
	fmt.Fprintf(&sb, "Or all of them at once: `agentgate audit verify --server %s --repo %s --commit %s`.\n",
		strings.TrimSuffix(c.publicURL, "/"), repository, commit)
	return sb.String()
}

func quoteCell(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.NewReplacer("|", "\\|", "`", "'", "\n", " ").Replace(s) + "`"
}
