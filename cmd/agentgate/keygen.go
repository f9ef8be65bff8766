package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/provenance/sign"
	"github.com/agentgate/agentgate/provenance/statement"
)

const keygenHelp = `Generate the ECDSA P-256 key that signs attestations, and its public key.

The private key is written as PKCS#8 PEM with mode 0600 to --out, by default
the server's signing key file (signing.key_file, or signing.key in the data
directory: what serve uses, and would generate on its first start). The
public key goes next to it (--pub, default the same name with .pub), PEM
"PUBLIC KEY": give it to auditors, for cosign's --key and for
signing.previous_keys once the key is retired.

keygen never replaces an existing key: bundles already signed name it, and a
lost key cannot be recovered. To rotate, generate a new key elsewhere, list
the old public key under signing.previous_keys with its window, and point
signing.key_file at the new key.

Flags:
  --out FILE   where to write the private key (default: the configured
               signing key file)
  --pub FILE   where to write the public key (default: --out with .key
               replaced by .pub, or --out + ".pub")`

func newKeygenCommand(load loader) *cobra.Command {
	var out, pub string
	cmd := &cobra.Command{
		Use:   "keygen [--out FILE] [--pub FILE]",
		Short: "Generate the attestation signing key (0600) and its public key",
		Long:  keygenHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				cfg, _, err := load()
				if err != nil {
					return err
				}
				if cfg.Signing.KMS != "" {
					return fmt.Errorf("keygen: signing.kms is set (%s): the server signs with that KMS key, not a key file; pass --out to make a local key anyway", cfg.Signing.KMS)
				}
				out = cfg.SigningKeyFile()
			}
			if pub == "" {
				pub = strings.TrimSuffix(out, ".key") + ".pub"
			}
			if pub == out {
				return fmt.Errorf("keygen: --pub and --out are both %s", out)
			}
			for _, f := range []string{out, pub} {
				if _, err := os.Lstat(f); err == nil {
					return fmt.Errorf("keygen: %s already exists; keygen never replaces a key (what it signed names it): move it away or choose another --out/--pub", f)
				}
			}
			key, err := sign.Generate(out)
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("keygen: %s already exists; keygen never replaces a key", out)
			}
			if err != nil {
				return err
			}
			pemBytes, err := sign.PublicKeyPEM(key)
			if err != nil {
				return err
			}
			if err := writeExclusive(pub, pemBytes, 0o644); err != nil {
				return fmt.Errorf("keygen: the private key is in %s, but writing its public key failed: %w", out, err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "signing key: %s (mode 0600)\npublic key:  %s\nkey id:      %s\n\n%s\n", out, pub, key.KeyID(), pemBytes)
			fmt.Fprintf(w, "An auditor verifies a bundle with the public key alone:\n  cosign verify-blob-attestation --key %s --bundle b.json --insecure-ignore-tlog=true \\\n    --type %s --digest <commit> --digestAlg gitCommit\n",
				pub, statement.PredicateProvenance)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "private key file to create (default: signing.key_file, or <data_dir>/signing.key)")
	cmd.Flags().StringVar(&pub, "pub", "", "public key file to create (default: --out with .pub for .key)")
	return cmd
}

// writeExclusive creates path with data; it fails if path exists.
func writeExclusive(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

const apiTokenHelp = `Make a new API token for the auditor's API (/api/v1/attestations, /keys,
/log/head) and print it once.

The token alone goes to standard output, so
  agentgate api-token --name audit-team --repos 'acme/*' > audit.token
keeps it in a file for agentgate audit --token-file. The entry for the
server's configuration goes to standard error: its sha256 under api.tokens
in the config file, or the same in AGENTGATE_API_TOKENS. The server stores
only the digest; a lost token cannot be shown again, only replaced.

Flags:
  --name NAME    whose token it is (letters, digits, - and _), logged with
                 every request it makes (default "auditor")
  --repos LIST   comma-separated repositories it may read: owner/name,
                 owner/* or * for every repository (default *)`

func newAPITokenCommand() *cobra.Command {
	var name, repos string
	cmd := &cobra.Command{
		Use:   "api-token [--name NAME] [--repos owner/name,owner/*]",
		Short: "Make an API token for the attestation API and print the config entry",
		Long:  apiTokenHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t := config.APIToken{Name: name}
			for _, r := range strings.Split(repos, ",") {
				if r = strings.TrimSpace(r); r != "" {
					t.Repos = append(t.Repos, r)
				}
			}
			secret := make([]byte, 32)
			if _, err := rand.Read(secret); err != nil {
				return fmt.Errorf("api-token: %w", err)
			}
			token := "agt_" + base64.RawURLEncoding.EncodeToString(secret)
			sum := sha256.Sum256([]byte(token))
			t.SHA256 = hex.EncodeToString(sum[:])
			if err := t.Check(); err != nil {
				return fmt.Errorf("api-token: %w", err)
			}
			quoted := make([]string, len(t.Repos))
			for i, r := range t.Repos {
				quoted[i] = fmt.Sprintf("%q", r)
			}
			fmt.Fprintln(cmd.OutOrStdout(), token)
			fmt.Fprintf(cmd.ErrOrStderr(), `
The token above is shown once; the server keeps only its sha256.
Add it to the server's config file:

api:
  tokens:
    - name: %s
      sha256: %s
      repos: [%s]

or to the environment (entries separated by ";"):

AGENTGATE_API_TOKENS=%s:%s:%s
`, t.Name, t.SHA256, strings.Join(quoted, ", "), t.Name, t.SHA256, strings.Join(t.Repos, ","))
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "auditor", "whose token it is (letters, digits, - and _)")
	cmd.Flags().StringVar(&repos, "repos", "*", "comma-separated repositories it may read: owner/name, owner/* or *")
	return cmd
}
