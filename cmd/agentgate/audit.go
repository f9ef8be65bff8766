package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/provenance/attestlog"
	"github.com/agentgate/agentgate/provenance/auditclient"
	"github.com/agentgate/agentgate/provenance/keyring"
	"github.com/agentgate/agentgate/provenance/sign"
	"github.com/agentgate/agentgate/provenance/statement"
	"github.com/agentgate/agentgate/store"
)

// loader loads the server configuration (--config and the environment).
type loader = func() (*config.Config, *slog.Logger, error)

// newAttestationCommands are keygen, api-token, audit and attest.
func newAttestationCommands(load loader, environ []string) []*cobra.Command {
	return []*cobra.Command{newKeygenCommand(load), newAPITokenCommand(), newAuditCommand(load, environ), newAttestCommand()}
}

const auditHelp = `Query and verify agentgate's attestations as an auditor.

query, verify and export talk to a server's API with a read-only API token:
  --server URL        the agentgate server (default $AGENTGATE_SERVER)
  --token-file FILE   a file holding the token (default: $AGENTGATE_API_TOKEN)
An operator makes a token with agentgate api-token.

They take the same filters as GET /api/v1/attestations:
  --repo OWNER/NAME   --commit SHA (40 hex)   --pr N
  --agent NAME        --model NAME            --type PREDICATE_TYPE_URI
  --since TIME        --until TIME            (RFC 3339, or a duration
                                               like 72h meaning that long ago)

verify-log reads the store directly, with the server's configuration
(--config and AGENTGATE_* variables), and needs no server.`

func newAuditCommand(load loader, environ []string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Query, verify and export attestations; verify the attestation log",
		Long:  auditHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	var conn apiConn
	conn.environ = environ
	cmd.PersistentFlags().StringVar(&conn.server, "server", "", "agentgate server URL (default $AGENTGATE_SERVER)")
	cmd.PersistentFlags().StringVar(&conn.tokenFile, "token-file", "", "file holding the API token (default: $AGENTGATE_API_TOKEN)")
	cmd.AddCommand(newAuditQueryCommand(&conn), newAuditVerifyCommand(&conn), newAuditExportCommand(&conn), newAuditVerifyLogCommand(load))
	return cmd
}

// apiConn is how the API commands reach the server.
type apiConn struct {
	server, tokenFile string
	environ           []string
}

func (c *apiConn) env(name string) string {
	for _, kv := range c.environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

func (c *apiConn) client() (*auditclient.Client, error) {
	server := c.server
	if server == "" {
		server = c.env("AGENTGATE_SERVER")
	}
	if server == "" {
		return nil, usageErrorf("no server: pass --server URL or set AGENTGATE_SERVER")
	}
	token := ""
	if c.tokenFile != "" {
		raw, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("read --token-file: %w", err)
		}
		token = strings.TrimSpace(string(raw))
		if token == "" {
			return nil, fmt.Errorf("--token-file %s is empty", c.tokenFile)
		}
	} else {
		token = strings.TrimSpace(c.env("AGENTGATE_API_TOKEN"))
	}
	if token == "" {
		return nil, usageErrorf("no API token: pass --token-file FILE or set AGENTGATE_API_TOKEN (an operator makes one with agentgate api-token)")
	}
	cl, err := auditclient.New(server, token, nil)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return cl, nil
}

// filterFlags are the listing filters, as flags.
type filterFlags struct {
	repo, commit, agent, model, predicateType, since, until string
	pr                                                      int
}

func (f *filterFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.repo, "repo", "", "only this repository (owner/name)")
	fl.StringVar(&f.commit, "commit", "", "only this landed commit (40 hex digits)")
	fl.IntVar(&f.pr, "pr", 0, "only this pull request number")
	fl.StringVar(&f.agent, "agent", "", "only this agent")
	fl.StringVar(&f.model, "model", "", "only this model")
	fl.StringVar(&f.predicateType, "type", "", "only this predicate type URI (e.g. "+statement.PredicateProvenance+")")
	fl.StringVar(&f.since, "since", "", "signed at or after: RFC 3339, or a duration ago (72h)")
	fl.StringVar(&f.until, "until", "", "signed before: RFC 3339, or a duration ago")
}

func (f *filterFlags) filter(now time.Time) (auditclient.Filter, error) {
	out := auditclient.Filter{
		Repository: f.repo, Commit: strings.ToLower(f.commit), PullRequest: f.pr,
		Agent: f.agent, Model: f.model, PredicateType: f.predicateType,
	}
	if f.repo != "" {
		if owner, name, ok := strings.Cut(f.repo, "/"); !ok || owner == "" || name == "" || strings.Contains(name, "/") {
			return out, usageErrorf("--repo %q is not owner/name", f.repo)
		}
	}
	if f.commit != "" && !isCommitSHA(out.Commit) {
		return out, usageErrorf("--commit %q is not a full commit sha (40 hex digits)", f.commit)
	}
	if f.pr < 0 {
		return out, usageErrorf("--pr %d is not a pull request number", f.pr)
	}
	var err error
	if out.Since, err = parseWhen("--since", f.since, now); err != nil {
		return out, err
	}
	if out.Until, err = parseWhen("--until", f.until, now); err != nil {
		return out, err
	}
	return out, nil
}

func parseWhen(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usageErrorf("%s %q is neither an RFC 3339 time (2026-03-01T00:00:00Z) nor a duration ago (72h)", flag, v)
}

func isCommitSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

const auditQueryHelp = `List the attestations the filters select, in log order, as a table or
(--json) a JSON array of the API's rows.

Flags:
  --json              print JSON instead of a table
  --limit N           stop after N rows (default 0: every row)
and the filters and connection flags of agentgate audit.`

func newAuditQueryCommand(conn *apiConn) *cobra.Command {
	var (
		ff      filterFlags
		asJSON  bool
		limit   int
		example = "agentgate audit query --server https://gate.example.com --token-file audit.token --repo acme/web --since 720h"
	)
	cmd := &cobra.Command{
		Use:     "query [filters]",
		Short:   "List attestations (table or --json)",
		Long:    auditQueryHelp,
		Example: "  " + example,
		Args:    cobra.NoArgs,
		RunE: withStatus(func(cmd *cobra.Command, _ []string) error {
			f, err := ff.filter(time.Now())
			if err != nil {
				return err
			}
			if limit < 0 {
				return usageErrorf("--limit %d is negative", limit)
			}
			cl, err := conn.client()
			if err != nil {
				return err
			}
			out := bufio.NewWriter(cmd.OutOrStdout())
			defer out.Flush()
			var tw *tabwriter.Writer
			if asJSON {
				fmt.Fprint(out, "[")
			} else {
				tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SEQ\tID\tREPOSITORY\tCOMMIT\tPR\tTYPE\tNAME\tAGENT\tMODEL\tSIGNED AT")
			}
			n := 0
			errStop := errors.New("limit reached")
			enc := json.NewEncoder(out)
			enc.SetEscapeHTML(false)
			pageSize := auditclient.MaxPageSize
			if limit > 0 && limit < pageSize {
				pageSize = limit
			}
			err = cl.Each(cmd.Context(), f, pageSize, func(a auditclient.Attestation) error {
				if limit > 0 && n >= limit {
					return errStop
				}
				if asJSON {
					if n > 0 {
						fmt.Fprint(out, ",")
					}
					fmt.Fprint(out, "\n  ")
					if err := enc.Encode(a); err != nil {
						return err
					}
				} else {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", a.Seq, a.ID, a.Repository, shortCommit(a.Commit),
						a.PullRequest, shortType(a.PredicateType), dash(a.Name), dash(a.Agent), dash(a.Model), a.SignedAt.UTC().Format(time.RFC3339))
				}
				n++
				return nil
			})
			if err != nil && !errors.Is(err, errStop) {
				return err
			}
			if asJSON {
				if n > 0 {
					fmt.Fprint(out, "\n")
				}
				fmt.Fprintln(out, "]")
			} else {
				tw.Flush()
				fmt.Fprintf(cmd.ErrOrStderr(), "%d attestation(s)\n", n)
			}
			return nil
		}),
	}
	ff.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of the rows instead of a table")
	cmd.Flags().IntVar(&limit, "limit", 0, "stop after this many rows (0: all)")
	return cmd
}

func shortCommit(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// shortType names the predicate types agentgate writes by their short
// names in tables; others are shown whole.
func shortType(t string) string {
	switch t {
	case statement.PredicateProvenance:
		return "provenance"
	case statement.PredicateTestResult:
		return "test-result"
	case statement.PredicateReview:
		return "review"
	case statement.PredicateVSA:
		return "vsa"
	}
	return t
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

const auditVerifyHelp = `Fetch every attestation the filters select and verify it: the bundle's
sha256 is the one the log recorded; its signature verifies with a published
key (sigstore-go's verifier and, independently, in-toto's DSSE verifier);
its subject is the row's commit (and repository); it is of the row's
predicate type (and of --type); it was signed by the key the row names, at a
time inside that key's validity window. The rows' hash chain is checked as
they are listed: each row's hash, the links between consecutive rows, and,
when no filter is given and the token sees every repository, the whole log
up to the head GET /api/v1/log/head reports (a deleted or inserted row shows
there).

Every failure is printed with its row; the exit status is 1 if anything
failed.

Flags:
  --key FILE     trust only these public keys (PEM; repeatable, or several
                 keys in one file) instead of the keys the server publishes;
                 each key's window is still the published one if the server
                 publishes it, else open
  --workers N    bundles verified at once (default one per CPU)
and the filters and connection flags of agentgate audit.`

func newAuditVerifyCommand(conn *apiConn) *cobra.Command {
	var (
		ff      filterFlags
		keys    []string
		workers int
		head    string
	)
	cmd := &cobra.Command{
		Use:   "verify [filters] [--key FILE] [--head SEQ:HASH]",
		Short: "Fetch and verify attestations and the log's hash chain",
		Long:  auditVerifyHelp,
		Args:  cobra.NoArgs,
		RunE: withStatus(func(cmd *cobra.Command, _ []string) error {
			f, err := ff.filter(time.Now())
			if err != nil {
				return err
			}
			recorded, err := parseRecordedHead(head)
			if err != nil {
				return err
			}
			cl, err := conn.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			published, err := cl.Keys(ctx)
			if err != nil {
				return err
			}
			ring, err := pinnedKeyring(keys, published)
			if err != nil {
				return err
			}
			start := time.Now()
			rep, err := cl.Verify(ctx, auditclient.Options{Filter: f, Keys: ring, Workers: workers})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, fl := range rep.Failures {
				fmt.Fprintf(w, "FAIL %s\n", fl)
			}
			for _, c := range rep.Chain {
				fmt.Fprintf(w, "CHAIN %s: %s\n", c.Kind, c.Detail)
			}
			scope := "the rows seen (filtered or scoped: links checked between consecutive rows only)"
			if rep.Complete {
				scope = fmt.Sprintf("the whole log, %d rows up to head %d", rep.Head.Count, rep.Head.Seq)
			}
			elapsed := time.Since(start)
			fmt.Fprintf(w, "verified %d attestation(s) with %d key(s) in %s; chain checked over %s\n",
				rep.Rows, len(ring.Keys()), elapsed.Round(time.Millisecond), scope)
			if !rep.OK() {
				return fmt.Errorf("audit verify: %d of %d attestation(s) failed, %d chain problem(s)", len(rep.Failures), rep.Rows, len(rep.Chain))
			}
			if recorded != nil {
				row, err := cl.RowAt(ctx, recorded.seq)
				if err := recorded.check(err == nil, row.RowHash); err != nil {
					return fmt.Errorf("audit verify: %w", err)
				}
				fmt.Fprintf(w, "row %d still has the recorded hash\n", recorded.seq)
			}
			fmt.Fprintln(w, "OK")
			return nil
		}),
	}
	ff.register(cmd)
	cmd.Flags().StringArrayVar(&keys, "key", nil, "trust only these PEM public keys (repeatable) instead of the published ones")
	cmd.Flags().IntVar(&workers, "workers", 0, "bundles verified at once (default one per CPU)")
	cmd.Flags().StringVar(&head, "head", "", "a log head recorded earlier (seq:row_hash of GET /api/v1/log/head) that must still hold")
	return cmd
}

// pinnedKeyring is the published keys, or, with --key files, those keys
// with the windows the server publishes for them.
func pinnedKeyring(files []string, published []auditclient.PublishedKey) (*keyring.Keyring, error) {
	if len(files) == 0 {
		keys := make([]keyring.Key, len(published))
		for i, k := range published {
			keys[i] = k.Key()
		}
		ring, err := keyring.New(keys...)
		if err != nil {
			return nil, fmt.Errorf("the server's published keys: %w", err)
		}
		return ring, nil
	}
	byID := map[string]keyring.Key{}
	for _, p := range published {
		byID[p.KeyID] = p.Key()
	}
	var keys []keyring.Key
	for _, f := range files {
		pems, err := readPublicKeys(f)
		if err != nil {
			return nil, err
		}
		for _, p := range pems {
			probe, err := keyring.New(keyring.Key{PEM: p})
			if err != nil {
				return nil, fmt.Errorf("--key %s: %w", f, err)
			}
			k := probe.Keys()[0]
			if pub, ok := byID[k.KeyID]; ok {
				k.ValidFrom, k.ValidUntil, k.Active = pub.ValidFrom, pub.ValidUntil, pub.Active
			}
			keys = append(keys, k)
		}
	}
	ring, err := keyring.New(keys...)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	return ring, nil
}

func readPublicKeys(file string) ([][]byte, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	pems, err := keyring.SplitPEM(raw)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", file, err)
	}
	return pems, nil
}

const auditExportHelp = `Export the attestations the filters select, with the keys, for offline
verification. --out DIR (created if missing) receives:

  attestations.jsonl  one JSON object per line: the row as the API lists it
                      plus "bundle", the Sigstore bundle itself
  bundles/ID.json     each bundle alone, for cosign verify-blob-attestation
  keys.pem            every published public key, PEM, one after another
  keys.json           the keys with their validity windows (GET /api/v1/keys)

Offline, with no server:
  agentgate attest verify --bundle DIR/attestations.jsonl --key DIR/keys.pem --commit SHA
verifies every exported attestation of that commit. Export refuses a DIR
that already holds an export.

Flags:
  --out DIR   where to write (required)
and the filters and connection flags of agentgate audit.`

func newAuditExportCommand(conn *apiConn) *cobra.Command {
	var (
		ff  filterFlags
		dir string
	)
	cmd := &cobra.Command{
		Use:   "export --out DIR [filters]",
		Short: "Export bundles (JSONL) and public keys for offline verification",
		Long:  auditExportHelp,
		Args:  cobra.NoArgs,
		RunE: withStatus(func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageErrorf("--out DIR is required")
			}
			f, err := ff.filter(time.Now())
			if err != nil {
				return err
			}
			cl, err := conn.client()
			if err != nil {
				return err
			}
			n, err := export(cmd.Context(), cl, f, dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "exported %d attestation(s) to %s\nverify offline: agentgate attest verify --bundle %s --key %s --commit <sha>\n",
				n, dir, filepath.Join(dir, "attestations.jsonl"), filepath.Join(dir, "keys.pem"))
			return nil
		}),
	}
	ff.register(cmd)
	cmd.Flags().StringVar(&dir, "out", "", "directory to write the export to (required)")
	return cmd
}

func export(ctx context.Context, cl *auditclient.Client, f auditclient.Filter, dir string) (int, error) {
	jsonl := filepath.Join(dir, "attestations.jsonl")
	if _, err := os.Lstat(jsonl); err == nil {
		return 0, fmt.Errorf("export: %s already exists; choose another --out", jsonl)
	}
	if err := os.MkdirAll(filepath.Join(dir, "bundles"), 0o755); err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	keys, err := cl.Keys(ctx)
	if err != nil {
		return 0, err
	}
	var pems strings.Builder
	for _, k := range keys {
		pems.WriteString(k.PublicKey)
	}
	keysJSON, err := json.MarshalIndent(struct {
		Keys []auditclient.PublishedKey `json:"keys"`
	}{keys}, "", "  ")
	if err != nil {
		return 0, err
	}
	if err := writeExclusive(filepath.Join(dir, "keys.pem"), []byte(pems.String()), 0o644); err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	if err := writeExclusive(filepath.Join(dir, "keys.json"), append(keysJSON, '\n'), 0o644); err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	file, err := os.OpenFile(jsonl, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	defer file.Close()
	out := bufio.NewWriter(file)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false) // the bundle's bytes stay as the server has them
	n := 0
	err = cl.EachWithBundles(ctx, f, 0, func(a auditclient.Attestation) error {
		b := a.Bundle
		a.Bundle = nil // it goes in the line as JSON, not base64
		if b == nil {
			return fmt.Errorf("export: the server has no bundle for %s (row %d)", a.ID, a.Seq)
		}
		if !json.Valid(b) {
			return fmt.Errorf("export: the bundle of %s is not JSON", a.ID)
		}
		if err := enc.Encode(auditclient.ExportRecord{Attestation: a, Bundle: b}); err != nil {
			return fmt.Errorf("export %s: %w", a.ID, err)
		}
		name := filepath.Join(dir, "bundles", filepath.Base(a.ID)+".json")
		if err := writeExclusive(name, b, 0o644); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("export: %w", err)
		}
		n++
		return nil
	})
	if err != nil {
		return n, err
	}
	if err := out.Flush(); err != nil {
		return n, fmt.Errorf("export: %w", err)
	}
	return n, file.Close()
}

const auditVerifyLogHelp = `Verify the attestation log in the store itself, as the server configured
by --config (and AGENTGATE_* variables) uses it: every row's hash, every
link of the hash chain from the first row to the last (a row edited,
deleted or inserted is reported with its position), every bundle's sha256,
and every bundle's signature against the server's keys (the active signing
key and signing.previous_keys), with the subject commit, predicate type,
signer and key window of its row. It needs no running server, only the
database; it writes nothing.

Flags:
  --key FILE         verify signatures with these PEM public keys
                     (repeatable) instead of the configured keys; the active
                     key otherwise comes from signing.key_file or signing.kms
  --no-signatures    check the chain and digests only (faster; no key needed)`

func newAuditVerifyLogCommand(load loader) *cobra.Command {
	var (
		keys   []string
		noSigs bool
		head   string
	)
	cmd := &cobra.Command{
		Use:   "verify-log [--config FILE] [--key FILE] [--no-signatures] [--head SEQ:HASH]",
		Short: "Check the store's attestation log: hash chain, digests and signatures",
		Long:  auditVerifyLogHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := load()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			recorded, err := parseRecordedHead(head)
			if err != nil {
				return err
			}
			var check func(attestlog.Row) error
			keysUsed := 0
			if !noSigs {
				ring, err := verifyLogKeyring(ctx, cfg, keys)
				if err != nil {
					return err
				}
				v, err := ring.Verifier()
				if err != nil {
					return err
				}
				keysUsed = len(ring.Keys())
				check = func(r attestlog.Row) error {
					a := auditclient.Attestation{
						ID: r.ID, Seq: r.Seq, Repository: r.Repository, Commit: r.Commit, PullRequest: r.PullNumber,
						PredicateType: r.PredicateType, Name: r.Name, Agent: r.Agent, Model: r.Model,
						SignerKeyID: r.SignerKeyID, SignedAt: r.SignedAt,
					}
					if reasons := auditclient.CheckSignature(v, ring, a, r.Bundle); len(reasons) > 0 {
						return errors.New(strings.Join(reasons, "; "))
					}
					return nil
				}
			}
			db := cfg.Database()
			st, err := store.Open(ctx, db.Driver, db.DSN)
			if err != nil {
				return err
			}
			defer st.Close()
			start := time.Now()
			var recordedSeen bool
			var recordedHash string
			if recorded != nil {
				sigCheck := check
				check = func(r attestlog.Row) error {
					if r.Seq == recorded.seq {
						recordedSeen, recordedHash = true, r.RowHash
					}
					if sigCheck == nil {
						return nil
					}
					return sigCheck(r)
				}
			}
			rep, err := st.AuditAttestationLog(ctx, check)
			if err != nil {
				return fmt.Errorf("audit verify-log: %w", err)
			}
			w := cmd.OutOrStdout()
			for _, f := range rep.Findings {
				fmt.Fprintf(w, "%s: %s\n", strings.ToUpper(f.Kind), f.Detail)
			}
			sigs := fmt.Sprintf("signatures checked with %d key(s)", keysUsed)
			if noSigs {
				sigs = "signatures not checked"
			}
			fmt.Fprintf(w, "%s store: %d row(s), head %s, %s, in %s\n", st.Dialect(), rep.Rows, dash(rep.Head), sigs, time.Since(start).Round(time.Millisecond))
			if !rep.OK() {
				return fmt.Errorf("audit verify-log: %d problem(s) in the attestation log", len(rep.Findings))
			}
			if recorded != nil {
				if err := recorded.check(recordedSeen, recordedHash); err != nil {
					return fmt.Errorf("audit verify-log: %w", err)
				}
				fmt.Fprintf(w, "row %d still has the recorded hash\n", recorded.seq)
			}
			fmt.Fprintln(w, "OK")
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&keys, "key", nil, "verify with these PEM public keys (repeatable) instead of the configured ones")
	cmd.Flags().BoolVar(&noSigs, "no-signatures", false, "check the hash chain and digests only")
	cmd.Flags().StringVar(&head, "head", "", "a log head recorded earlier (seq:row_hash of GET /api/v1/log/head) that must still hold")
	return cmd
}

// verifyLogKeyring is the keys verify-log checks signatures with: --key
// files (open windows), or the configured active key and previous keys.
func verifyLogKeyring(ctx context.Context, cfg *config.Config, files []string) (*keyring.Keyring, error) {
	if len(files) > 0 {
		var keys []keyring.Key
		for _, f := range files {
			pems, err := readPublicKeys(f)
			if err != nil {
				return nil, err
			}
			for _, p := range pems {
				keys = append(keys, keyring.Key{PEM: p})
			}
		}
		ring, err := keyring.New(keys...)
		if err != nil {
			return nil, fmt.Errorf("--key: %w", err)
		}
		return ring, nil
	}
	active, err := configuredSigner(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return keyring.FromConfig(ctx, cfg, active)
}

// configuredSigner opens the key the server signs with, without creating
// one.
func configuredSigner(ctx context.Context, cfg *config.Config) (sign.Signer, error) {
	if cfg.Signing.KMS != "" {
		return sign.KMS(ctx, cfg.Signing.KMS)
	}
	k, err := sign.Load(cfg.SigningKeyFile())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no signing key at %s (signing.key_file): pass --key FILE with the public keys, or --no-signatures", cfg.SigningKeyFile())
	}
	return k, err
}
