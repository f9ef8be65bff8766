package server

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/webhook"
	"github.com/agentgate/agentgate/store"
)

// installationClients is what handlers need from ghapp: a client per installation.
type installationClients interface {
	Installation(id int64) (*github.Client, error)
}

// Installations keeps the store's record of where the app is installed and
// which repositories each installation reaches. The reconciler and later the
// gate use it to know which repositories to look at.
type Installations struct {
	store   *store.Store
	clients installationClients
	now     func() time.Time
}

// Name implements webhook.Handler.
func (*Installations) Name() string { return "installations" }

// Subscriptions implements webhook.Handler.
func (*Installations) Subscriptions() []string {
	return []string{"installation", "installation_repositories"}
}

// Handle implements webhook.Handler. Every branch is an upsert, delete or
// full replacement, so a retried job has the effect of one.
func (h *Installations) Handle(ctx context.Context, ev webhook.Event) error {
	switch ev.Type {
	case "installation":
		var p github.InstallationEvent
		if err := ev.Decode(&p); err != nil {
			return fmt.Errorf("%w: %v", webhook.ErrPermanent, err)
		}
		return h.installation(ctx, ev.Action, p.GetInstallation())
	case "installation_repositories":
		var p github.InstallationRepositoriesEvent
		if err := ev.Decode(&p); err != nil {
			return fmt.Errorf("%w: %v", webhook.ErrPermanent, err)
		}
		inst := p.GetInstallation()
		if err := h.store.UpsertInstallation(ctx, installationRow(inst), h.now()); err != nil {
			return err
		}
		if err := h.store.AddInstallationRepositories(ctx, inst.GetID(), repoRows(p.RepositoriesAdded), h.now()); err != nil {
			return err
		}
		var removed []int64
		for _, r := range p.RepositoriesRemoved {
			removed = append(removed, r.GetID())
		}
		return h.store.RemoveInstallationRepositories(ctx, inst.GetID(), removed)
	}
	return nil
}

func (h *Installations) installation(ctx context.Context, action string, inst *github.Installation) error {
	if inst.GetID() == 0 {
		return fmt.Errorf("%w: installation event without installation id", webhook.ErrPermanent)
	}
	log := webhook.Logger(ctx)
	switch action {
	case "deleted":
		return h.store.MarkInstallationDeleted(ctx, inst.GetID(), h.now())
	case "suspend":
		if err := h.store.UpsertInstallation(ctx, installationRow(inst), h.now()); err != nil {
			return err
		}
		return h.store.SetInstallationSuspended(ctx, inst.GetID(), h.now(), h.now())
	}
	// created, unsuspend, new_permissions_accepted: record it, then ask
	// GitHub for the full repository list. The payload lists at most the
	// repositories chosen at install time and says nothing on "all".
	if err := h.store.UpsertInstallation(ctx, installationRow(inst), h.now()); err != nil {
		return err
	}
	repos, err := h.listRepositories(ctx, inst.GetID())
	if err != nil {
		return err
	}
	if err := h.store.ReplaceInstallationRepositories(ctx, inst.GetID(), repos, h.now()); err != nil {
		return err
	}
	log.Info("installation synced", "account", inst.GetAccount().GetLogin(), "repositories", len(repos))
	return nil
}

func (h *Installations) listRepositories(ctx context.Context, installationID int64) ([]store.Repository, error) {
	client, err := h.clients.Installation(installationID)
	if err != nil {
		return nil, err
	}
	var out []store.Repository
	opts := &github.ListOptions{PerPage: 100}
	for {
		page, resp, err := client.Apps.ListRepos(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list repositories of installation %d: %w", installationID, err)
		}
		out = append(out, repoRows(page.Repositories)...)
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

func installationRow(inst *github.Installation) store.Installation {
	row := store.Installation{
		ID:                  inst.GetID(),
		AccountLogin:        inst.GetAccount().GetLogin(),
		AccountType:         inst.GetAccount().GetType(),
		RepositorySelection: inst.GetRepositorySelection(),
	}
	if inst.SuspendedAt != nil {
		row.SuspendedAt = inst.SuspendedAt.Time
	}
	return row
}

func repoRows(repos []*github.Repository) []store.Repository {
	out := make([]store.Repository, 0, len(repos))
	for _, r := range repos {
		out = append(out, store.Repository{ID: r.GetID(), FullName: r.GetFullName(), Private: r.GetPrivate()})
	}
	return out
}
