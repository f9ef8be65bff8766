package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/webhook"
	"github.com/agentgate/agentgate/store"
)

// MissingCheckRuns is the gate's reconciler repair: every open pull request
// whose head has no check run of ours (a webhook lost for good, agentgate
// down longer than GitHub keeps deliveries, an installation added before
// the gate existed) gets an evaluation.
type MissingCheckRuns struct {
	store   *store.Store
	clients installationClients
	tasks   taskEnqueuer
	appID   int64
	// maxPerRun bounds the API requests one reconcile may spend per
	// repository (one listing page plus one check-run lookup per PR).
	maxPerRun int
}

// Name implements Repair.
func (*MissingCheckRuns) Name() string { return "gate-missing-check-runs" }

// Repair implements Repair.
func (m *MissingCheckRuns) Repair(ctx context.Context) error {
	installs, err := m.store.ActiveInstallations(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, inst := range installs {
		repos, err := m.store.InstallationRepositories(ctx, inst.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, repo := range repos {
			if err := m.repairRepo(ctx, inst.ID, repo.FullName); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (m *MissingCheckRuns) repairRepo(ctx context.Context, installationID int64, fullName string) error {
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok {
		return nil
	}
	client, err := m.clients.Installation(installationID)
	if err != nil {
		return err
	}
	prs, _, err := client.PullRequests.List(ctx, owner, name, &github.PullRequestListOptions{
		State: "open", Sort: "updated", Direction: "desc", ListOptions: github.ListOptions{PerPage: min(m.maxPerRun, 100)},
	})
	if err != nil {
		return fmt.Errorf("list open pull requests of %s: %w", fullName, err)
	}
	for _, pr := range prs {
		sha := pr.GetHead().GetSHA()
		runs, _, err := client.Checks.ListCheckRunsForRef(ctx, owner, name, sha, &github.ListCheckRunsOptions{
			AppID: github.Ptr(m.appID), ListOptions: github.ListOptions{PerPage: 1},
		})
		if err != nil {
			return fmt.Errorf("check runs of %s@%s: %w", fullName, sha, err)
		}
		if runs.GetTotal() > 0 {
			continue
		}
		t := GateTarget{InstallationID: installationID, Owner: owner, Repo: name, Number: pr.GetNumber(), HeadSHA: sha, Trigger: "reconcile"}
		if _, err := m.tasks.EnqueueDebounced(ctx, GateTask, t.Key(), t, gateDebounce); err != nil {
			return err
		}
		webhook.Logger(ctx).Info("pull request head has no check run; evaluating", "target", t.Key())
	}
	return nil
}
