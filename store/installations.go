package store

import (
	"context"
	"fmt"
	"time"
)

// Installation is one installation of the GitHub App on an account.
type Installation struct {
	ID                  int64
	AccountLogin        string
	AccountType         string // Organization or User
	RepositorySelection string // all or selected
	SuspendedAt         time.Time
	DeletedAt           time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// Repository is a repository an installation can access.
type Repository struct {
	ID       int64
	FullName string
	Private  bool
}

// UpsertInstallation records or refreshes an installation; a re-created
// installation (same id) is no longer deleted.
func (q Queries) UpsertInstallation(ctx context.Context, in Installation, now time.Time) error {
	_, err := q.q.exec(ctx, `INSERT INTO installations
		(id, account_login, account_type, repository_selection, suspended_at, deleted_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, 0, ?, ?)
		ON CONFLICT (id) DO UPDATE SET account_login = excluded.account_login, account_type = excluded.account_type,
			repository_selection = excluded.repository_selection, suspended_at = excluded.suspended_at,
			deleted_at = 0, updated_at = excluded.updated_at`,
		in.ID, in.AccountLogin, in.AccountType, in.RepositorySelection, millis(in.SuspendedAt), millis(now), millis(now))
	if err != nil {
		return fmt.Errorf("record installation %d: %w", in.ID, err)
	}
	return nil
}

// MarkInstallationDeleted keeps the row (for the audit trail) but marks it
// gone and forgets its repositories.
func (q Queries) MarkInstallationDeleted(ctx context.Context, id int64, now time.Time) error {
	if _, err := q.q.exec(ctx, `UPDATE installations SET deleted_at = ?, updated_at = ? WHERE id = ?`, millis(now), millis(now), id); err != nil {
		return fmt.Errorf("mark installation %d deleted: %w", id, err)
	}
	if _, err := q.q.exec(ctx, `DELETE FROM installation_repositories WHERE installation_id = ?`, id); err != nil {
		return fmt.Errorf("forget repositories of installation %d: %w", id, err)
	}
	return nil
}

// SetInstallationSuspended records a suspend (non-zero at) or unsuspend (zero at).
func (q Queries) SetInstallationSuspended(ctx context.Context, id int64, at, now time.Time) error {
	if _, err := q.q.exec(ctx, `UPDATE installations SET suspended_at = ?, updated_at = ? WHERE id = ?`, millis(at), millis(now), id); err != nil {
		return fmt.Errorf("record installation %d suspension: %w", id, err)
	}
	return nil
}

// Installation loads one installation.
func (q Queries) Installation(ctx context.Context, id int64) (Installation, error) {
	var in Installation
	var suspended, deleted, created, updated int64
	err := q.q.queryRow(ctx, `SELECT id, account_login, account_type, repository_selection, suspended_at, deleted_at, created_at, updated_at
		FROM installations WHERE id = ?`, id).
		Scan(&in.ID, &in.AccountLogin, &in.AccountType, &in.RepositorySelection, &suspended, &deleted, &created, &updated)
	if err != nil {
		return Installation{}, fmt.Errorf("load installation %d: %w", id, err)
	}
	in.SuspendedAt, in.DeletedAt = fromMillis(suspended), fromMillis(deleted)
	in.CreatedAt, in.UpdatedAt = fromMillis(created), fromMillis(updated)
	return in, nil
}

// ActiveInstallations lists installations that are neither deleted nor suspended.
func (q Queries) ActiveInstallations(ctx context.Context) ([]Installation, error) {
	r, err := q.q.query(ctx, `SELECT id, account_login, account_type, repository_selection, created_at, updated_at
		FROM installations WHERE deleted_at = 0 AND suspended_at = 0 ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list installations: %w", err)
	}
	defer r.Close()
	var out []Installation
	for r.Next() {
		var in Installation
		var created, updated int64
		if err := r.Scan(&in.ID, &in.AccountLogin, &in.AccountType, &in.RepositorySelection, &created, &updated); err != nil {
			return nil, fmt.Errorf("list installations: %w", err)
		}
		in.CreatedAt, in.UpdatedAt = fromMillis(created), fromMillis(updated)
		out = append(out, in)
	}
	return out, r.Err()
}

// AddInstallationRepositories records repositories an installation can access.
func (q Queries) AddInstallationRepositories(ctx context.Context, installationID int64, repos []Repository, now time.Time) error {
	for _, repo := range repos {
		_, err := q.q.exec(ctx, `INSERT INTO installation_repositories (installation_id, repository_id, full_name, private, updated_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (installation_id, repository_id) DO UPDATE SET full_name = excluded.full_name,
				private = excluded.private, updated_at = excluded.updated_at`,
			installationID, repo.ID, repo.FullName, boolInt(repo.Private), millis(now))
		if err != nil {
			return fmt.Errorf("record repository %s of installation %d: %w", repo.FullName, installationID, err)
		}
	}
	return nil
}

// RemoveInstallationRepositories forgets repositories an installation lost.
func (q Queries) RemoveInstallationRepositories(ctx context.Context, installationID int64, repoIDs []int64) error {
	for _, id := range repoIDs {
		if _, err := q.q.exec(ctx, `DELETE FROM installation_repositories WHERE installation_id = ? AND repository_id = ?`, installationID, id); err != nil {
			return fmt.Errorf("forget repository %d of installation %d: %w", id, installationID, err)
		}
	}
	return nil
}

// ReplaceInstallationRepositories makes repos the complete list for an
// installation (after a full listing from GitHub).
func (q Queries) ReplaceInstallationRepositories(ctx context.Context, installationID int64, repos []Repository, now time.Time) error {
	if _, err := q.q.exec(ctx, `DELETE FROM installation_repositories WHERE installation_id = ?`, installationID); err != nil {
		return fmt.Errorf("replace repositories of installation %d: %w", installationID, err)
	}
	return q.AddInstallationRepositories(ctx, installationID, repos, now)
}

// InstallationRepositories lists what an installation can access, by name.
func (q Queries) InstallationRepositories(ctx context.Context, installationID int64) ([]Repository, error) {
	r, err := q.q.query(ctx, `SELECT repository_id, full_name, private FROM installation_repositories
		WHERE installation_id = ? ORDER BY full_name`, installationID)
	if err != nil {
		return nil, fmt.Errorf("list repositories of installation %d: %w", installationID, err)
	}
	defer r.Close()
	var out []Repository
	for r.Next() {
		var repo Repository
		var private int
		if err := r.Scan(&repo.ID, &repo.FullName, &private); err != nil {
			return nil, fmt.Errorf("list repositories of installation %d: %w", installationID, err)
		}
		repo.Private = private != 0
		out = append(out, repo)
	}
	return out, r.Err()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
