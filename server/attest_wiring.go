package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/ghapp"
	"github.com/agentgate/agentgate/provenance/keyring"
	"github.com/agentgate/agentgate/provenance/publish"
	"github.com/agentgate/agentgate/provenance/sign"
	"github.com/agentgate/agentgate/store"
)

// signingTimeout bounds each call to a Rekor log or timestamp authority.
const signingTimeout = 20 * time.Second

// newSigner opens the signing key: a KMS key when signing.kms is set, else
// the local key file, generated (0600) on first start. The key never
// leaves this process: agents run with a scrubbed environment and the API
// publishes only public keys.
func newSigner(ctx context.Context, cfg *config.Config) (sign.Signer, []sign.Option, error) {
	if from := cfg.Signing.ValidFromTime(); !from.IsZero() && time.Now().Before(from) {
		// What it signed now would fall outside the window /api/v1/keys
		// publishes, and every auditor would reject it.
		return nil, nil, fmt.Errorf("signing.valid_from %s is in the future: the active key may not sign before its window opens; deploy the new key at that time, or set valid_from to now",
			from.Format(time.RFC3339))
	}
	var (
		s   sign.Signer
		err error
	)
	if cfg.Signing.KMS != "" {
		s, err = sign.KMS(ctx, cfg.Signing.KMS)
		if err != nil {
			return nil, nil, fmt.Errorf("signing key %s: %w", cfg.Signing.KMS, err)
		}
	} else {
		path := cfg.SigningKeyFile()
		key, err := sign.LoadOrGenerate(path)
		if err != nil {
			return nil, nil, fmt.Errorf("signing key: %w", err)
		}
		if err := writePublicKey(path, key); err != nil {
			return nil, nil, err
		}
		s = key
	}
	var opts []sign.Option
	if cfg.Signing.RekorURL != "" {
		opts = append(opts, sign.WithRekor(cfg.Signing.RekorURL, signingTimeout))
	}
	if cfg.Signing.TimestampURL != "" {
		opts = append(opts, sign.WithTimestampAuthority(cfg.Signing.TimestampURL, signingTimeout))
	}
	return s, opts, nil
}

// writePublicKey puts the key's public half beside it (signing.key →
// signing.pub), as keygen does, unless a file is there: an operator
// rotating keys needs it for signing.previous_keys, and an auditor for
// cosign --key.
func writePublicKey(keyPath string, s sign.Signer) error {
	pubPath := strings.TrimSuffix(keyPath, ".key") + ".pub"
	if pubPath == keyPath {
		pubPath = keyPath + ".pub"
	}
	if _, err := os.Stat(pubPath); err == nil {
		return nil
	}
	pem, err := sign.PublicKeyPEM(s)
	if err != nil {
		return err
	}
	if err := os.WriteFile(pubPath, pem, 0o644); err != nil {
		return fmt.Errorf("write the signing key's public half: %w", err)
	}
	return nil
}

// newAttestation wires signing, the auditor's API and, when attestations
// are enabled, the attester with the publishers the config switches on.
func newAttestation(ctx context.Context, cfg *config.Config, st *store.Store, clients *ghapp.Clients, gate *Gate, log *slog.Logger) (*Attester, *AttestationsAPI, error) {
	if cfg.Signing.KMS == "" && st.Dialect() == store.Postgres {
		if _, err := os.Stat(cfg.SigningKeyFile()); errors.Is(err, os.ErrNotExist) {
			// Replicas sharing PostgreSQL must share the key, or each
			// publishes only its own and the others' attestations fail
			// verification wherever the auditor's request lands.
			log.Warn("making a new signing key on a PostgreSQL store: every replica must use the same key (signing.key_file on shared storage, or signing.kms)",
				"key_file", cfg.SigningKeyFile())
		}
	}
	signer, opts, err := newSigner(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	ring, err := keyring.FromConfig(ctx, cfg, signer)
	if err != nil {
		return nil, nil, err
	}
	api, err := NewAttestationsAPI(st, cfg.API.Tokens, ring, cfg.PublicURL, log.With("component", "api"))
	if err != nil {
		return nil, nil, err
	}
	if !cfg.Attestations.Enabled {
		return nil, api, nil
	}
	a := &Attester{
		store: st, log: store.NewAttestationWriter(st), clients: clients, evaluator: gate.evaluatorFor, signer: signer, signOpts: opts,
		builderID: strings.TrimSuffix(cfg.PublicURL, "/"), comments: attestComments{store: st, publicURL: cfg.PublicURL},
		now: time.Now,
	}
	if cfg.Attestations.GitNotes {
		a.publish = append(a.publish, &notesPublisher{
			clients: clients, webURL: cfg.GitHub.WebURL,
			notes: &publish.GitNotes{Log: log.With("component", "notes")},
		})
	}
	if cfg.Attestations.GitHubAPI {
		a.publish = append(a.publish, &githubPublisher{clients: clients, log: log})
	}
	return a, api, nil
}

// notesPublisher writes a commit's bundles to refs/notes/agentgate with a
// token narrowed to that repository and to contents: write.
type notesPublisher struct {
	clients *ghapp.Clients
	webURL  string
	notes   *publish.GitNotes
}

func (*notesPublisher) Name() string { return "git notes" }

func (p *notesPublisher) Publish(ctx context.Context, t AttestTarget, commit string, rows []store.Attestation, _ bool) error {
	if t.RepositoryID == 0 {
		return errors.New("the event named no repository id to narrow the token to")
	}
	token, _, err := p.clients.RepoToken(ctx, t.InstallationID, t.RepositoryID, &github.InstallationPermissions{Contents: github.Ptr("write")})
	if err != nil {
		return err
	}
	base := p.webURL
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	_, err = p.notes.Publish(ctx, base+t.Owner+"/"+t.Repo+".git", token, commit, bundlesOf(rows))
	return err
}

// githubPublisher posts bundles to GitHub's artifact attestation API.
// GitHub keeps every copy it is sent, so it posts only on the pass that
// signed them: a redelivered merge posts nothing.
type githubPublisher struct {
	clients *ghapp.Clients
	log     *slog.Logger
}

func (*githubPublisher) Name() string { return "GitHub attestations" }

func (p *githubPublisher) Publish(ctx context.Context, t AttestTarget, commit string, rows []store.Attestation, fresh bool) error {
	if !fresh {
		return nil
	}
	client, err := p.clients.Installation(t.InstallationID)
	if err != nil {
		return err
	}
	// GitHub indexes attestations by sha256 subject digests; ours are
	// gitCommit digests, so GitHub may refuse them. That is a warning, never
	// a failed merge: the store and the notes are the record.
	if _, err := publish.GitHub(ctx, client, t.Owner+"/"+t.Repo, bundlesOf(rows)); err != nil {
		p.log.WarnContext(ctx, "GitHub's attestation API refused the bundles", "target", t.Key(), "commit", commit, "err", err)
	}
	return nil
}

func bundlesOf(rows []store.Attestation) [][]byte {
	out := make([][]byte, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.Bundle)
	}
	return out
}
