package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/provenance/auditclient"
	"github.com/agentgate/agentgate/provenance/verify"
)

func newAttestCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attest",
		Short: "Work with single attestation bundles (verify)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newAttestVerifyCommand())
	return cmd
}

const attestVerifyHelp = `Verify attestation bundles offline, with only the public key and the commit:
the same check cosign verify-blob-attestation makes with --digestAlg
gitCommit, done by sigstore-go's verifier and again by in-toto's DSSE
verifier. No server, no network.

--bundle is one of:
  - a Sigstore bundle (.json), as GET /api/v1/attestations/{id} returns it
    or audit export writes it to bundles/;
  - a JSONL file of bundles, one per line (every line must verify);
  - the attestations.jsonl of agentgate audit export: the lines about
    --commit (and of --type, if given) are verified, each also against the
    bundle sha256 its row recorded.

Flags:
  --bundle FILE   the bundle or JSONL file (required)
  --key FILE      PEM public key(s) (required); a file with several keys,
                  like an export's keys.pem, trusts each
  --commit SHA    the landed commit the statements must be about (40 hex,
                  required)
  --type URI      the predicate type they must have, e.g.
                  https://slsa.dev/provenance/v1 (default: any)

Exit status 0 when every bundle verifies, 1 otherwise; each failure says
why (a changed commit, a tampered payload, another key).`

func newAttestVerifyCommand() *cobra.Command {
	var bundleFile, keyFile, commit, predicateType string
	cmd := &cobra.Command{
		Use:   "verify --bundle FILE --key FILE --commit SHA [--type URI]",
		Short: "Verify bundles offline with a public key and a commit",
		Long:  attestVerifyHelp,
		Args:  cobra.NoArgs,
		RunE: withStatus(func(cmd *cobra.Command, _ []string) error {
			for flag, v := range map[string]string{"--bundle": bundleFile, "--key": keyFile, "--commit": commit} {
				if v == "" {
					return usageErrorf("%s is required", flag)
				}
			}
			commit = strings.ToLower(commit)
			if !isCommitSHA(commit) {
				return usageErrorf("--commit %q is not a full commit sha (40 hex digits)", commit)
			}
			pems, err := readPublicKeys(keyFile)
			if err != nil {
				return err
			}
			v, err := verify.New(pems...)
			if err != nil {
				return err
			}
			raw, err := os.ReadFile(bundleFile)
			if err != nil {
				return fmt.Errorf("read --bundle: %w", err)
			}
			items, err := readBundleFile(raw, commit, predicateType)
			if err != nil {
				return fmt.Errorf("--bundle %s: %w", bundleFile, err)
			}
			w := cmd.OutOrStdout()
			failed := 0
			for _, it := range items {
				res, err := v.Verify(it.bundle, verify.Expect{Commit: commit, PredicateType: predicateType})
				if err == nil && it.rec != nil {
					err = checkRecord(it.rec, res)
				}
				if err != nil {
					failed++
					fmt.Fprintf(w, "FAIL %s: %v\n", it.label, err)
					continue
				}
				fmt.Fprintf(w, "OK   %s: %s about %s, signed by key %s\n", it.label, res.PredicateType, commit, res.KeyID)
			}
			if failed > 0 {
				if len(items) == 1 {
					return fmt.Errorf("attest verify: the bundle does not verify")
				}
				return fmt.Errorf("attest verify: %d of %d bundles do not verify", failed, len(items))
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&bundleFile, "bundle", "", "Sigstore bundle, JSONL of bundles, or an export's attestations.jsonl (required)")
	cmd.Flags().StringVar(&keyFile, "key", "", "PEM public key file, may hold several keys (required)")
	cmd.Flags().StringVar(&commit, "commit", "", "the commit the statements must be about, 40 hex digits (required)")
	cmd.Flags().StringVar(&predicateType, "type", "", "the predicate type the statements must have (default: any)")
	return cmd
}

// bundleItem is one bundle to verify.
type bundleItem struct {
	label  string
	bundle []byte
	rec    *auditclient.ExportRecord // set for a line of an export
}

// readBundleFile reads a bundle, a JSONL of bundles, or an export's JSONL
// (keeping its lines about commit and of predicateType).
func readBundleFile(raw []byte, commit, predicateType string) ([]bundleItem, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("the file is empty")
	}
	lines := [][]byte{trimmed}
	if !json.Valid(trimmed) { // not one document: JSON lines
		lines = bytes.Split(trimmed, []byte("\n"))
	}
	var items []bundleItem
	records, skipped := 0, 0
	for i, line := range lines {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		label := "bundle"
		if len(lines) > 1 {
			label = fmt.Sprintf("line %d", i+1)
		}
		var probe struct {
			Bundle json.RawMessage `json:"bundle"`
		}
		if err := json.Unmarshal(line, &probe); err != nil {
			return nil, fmt.Errorf("%s is not JSON: %w", label, err)
		}
		if probe.Bundle == nil {
			items = append(items, bundleItem{label: label, bundle: line})
			continue
		}
		var rec auditclient.ExportRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, fmt.Errorf("%s is not an export record: %w", label, err)
		}
		records++
		if rec.Commit != commit || (predicateType != "" && rec.PredicateType != predicateType) {
			skipped++
			continue
		}
		label = fmt.Sprintf("%s (row %d, %s, %s)", label, rec.Seq, rec.ID, rec.Repository)
		items = append(items, bundleItem{label: label, bundle: rec.Bundle, rec: &rec})
	}
	if len(items) == 0 && records > 0 {
		return nil, fmt.Errorf("none of its %d attestations is about commit %s%s", records, commit, typeSuffix(predicateType))
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("no bundle in it")
	}
	return items, nil
}

func typeSuffix(t string) string {
	if t == "" {
		return ""
	}
	return " of type " + t
}

// checkRecord holds a verified export line against what its row recorded.
func checkRecord(rec *auditclient.ExportRecord, res *verify.Result) error {
	sum := sha256.Sum256(rec.Bundle)
	if got := hex.EncodeToString(sum[:]); got != rec.BundleSHA256 {
		return fmt.Errorf("the bundle's sha256 is %s but its row recorded %s", got, rec.BundleSHA256)
	}
	if res.PredicateType != rec.PredicateType {
		return fmt.Errorf("the statement is of type %s but its row says %s", res.PredicateType, rec.PredicateType)
	}
	if res.KeyID != rec.SignerKeyID {
		return fmt.Errorf("signed by key %s but its row says %s", res.KeyID, rec.SignerKeyID)
	}
	return nil
}
