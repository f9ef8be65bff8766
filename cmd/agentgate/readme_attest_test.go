package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/cosigntest"
	"github.com/agentgate/agentgate/provenance/sign"
	"github.com/agentgate/agentgate/provenance/statement"
)

// TestREADMECosignCommand keeps the cosign command in the README's "For
// auditors" section true: it has the flags cosign v3's
// verify-blob-attestation needs for our bundles, with the right values, and
// it verifies a real signed provenance statement when run the way cosign
// v3 runs it (replayed with the same libraries; the cosign binary is not
// needed). The command agentgate posts on pull requests and the one keygen
// prints must use the same flags.
func TestREADMECosignCommand(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := markdownSection(t, string(readme), "## For auditors")
	line := cosignLine(t, section)
	cmd, err := parseCosignCommand(line)
	if err != nil {
		t.Fatalf("README: %v\n%s", err, line)
	}
	if err := cmd.check(); err != nil {
		t.Fatalf("README: %v\n%s", err, line)
	}
	for _, name := range []string{cmd.key, cmd.bundle} {
		if name != filepath.Base(name) {
			t.Fatalf("README: --key and --bundle should name files in the current directory, got %q", name)
		}
	}
	// The commands before it must make the files it reads.
	if !strings.Contains(section, "> "+cmd.key) {
		t.Errorf("README: nothing in the section writes %s (e.g. \"| jq ... > %s\" from /api/v1/keys)", cmd.key, cmd.key)
	}
	if !strings.Contains(section, "-o "+cmd.bundle) {
		t.Errorf("README: nothing in the section writes %s (e.g. \"curl ... /api/v1/attestations/<id> -o %s\")", cmd.bundle, cmd.bundle)
	}

	// Sign a real provenance statement with a key keygen makes, put the
	// key and the bundle where the command says, and run the command.
	dir := t.TempDir()
	keyFile, pubFile := filepath.Join(dir, "signing.key"), filepath.Join(dir, "signing.pub")
	keygenLine := runKeygen(t, keyFile, pubFile)
	key, err := sign.Load(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	commit := cmd.commit(readmeLanded)
	st, err := statement.BuildProvenance(readmeInput(commit))
	if err != nil {
		t.Fatal(err)
	}
	b, err := sign.Statement(context.Background(), key, st.Payload)
	if err != nil {
		t.Fatal(err)
	}
	keyPath, bundlePath := filepath.Join(dir, cmd.key), filepath.Join(dir, cmd.bundle)
	if err := os.WriteFile(keyPath, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bundlePath, b.JSON, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cosigntest.VerifyBlobAttestation(keyPath, bundlePath, cmd.predicateType, commit, cmd.digestAlg); err != nil {
		t.Fatalf("the README's command does not verify a provenance bundle: %v", err)
	}
	// The replay is not vacuous: it refuses another commit, another
	// digest algorithm, another predicate type and another key.
	if err := cosigntest.VerifyBlobAttestation(keyPath, bundlePath, cmd.predicateType, readmeOther, cmd.digestAlg); err == nil {
		t.Error("the replay accepts another commit")
	}
	if err := cosigntest.VerifyBlobAttestation(keyPath, bundlePath, cmd.predicateType, commit, "sha1"); err == nil {
		t.Error("the replay accepts the commit as a sha1 digest")
	}
	if err := cosigntest.VerifyBlobAttestation(keyPath, bundlePath, statement.PredicateVSA, commit, cmd.digestAlg); err == nil {
		t.Error("the replay accepts another predicate type")
	}
	otherKey, err := sign.Generate(filepath.Join(dir, "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	otherPub, err := sign.PublicKeyPEM(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	otherPath := filepath.Join(dir, "other.pub")
	if err := os.WriteFile(otherPath, otherPub, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cosigntest.VerifyBlobAttestation(otherPath, bundlePath, cmd.predicateType, commit, cmd.digestAlg); err == nil {
		t.Error("the replay accepts another key")
	}

	// What agentgate prints elsewhere says the same.
	t.Run("pull request comment", func(t *testing.T) {
		format := commentCosignFormat(t, "../../server/attest_comments.go")
		for _, want := range []string{"--insecure-ignore-tlog=true", "--digestAlg gitCommit"} {
			if !strings.Contains(format, want) {
				t.Errorf("server/attest_comments.go: the cosign command lacks %q:\n%s", want, format)
			}
		}
		c, err := parseCosignCommand(joinContinuations(format))
		if err != nil {
			t.Fatalf("server/attest_comments.go: %v\n%s", err, format)
		}
		c.sameFlags(t, "server/attest_comments.go", cmd)
	})
	t.Run("keygen", func(t *testing.T) {
		c, err := parseCosignCommand(keygenLine)
		if err != nil {
			t.Fatalf("keygen's output: %v\n%s", err, keygenLine)
		}
		c.sameFlags(t, "keygen's output", cmd)
		if c.key != pubFile {
			t.Errorf("keygen's command: --key %s, want the public key it wrote, %s", c.key, pubFile)
		}
		if c.predicateType != cmd.predicateType {
			t.Errorf("keygen's command: --type %s, want %s", c.predicateType, cmd.predicateType)
		}
	})
}

// Commits of the test's statement: the landed one, and another.
const (
	readmeLanded = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	readmeOther  = "1111111111111111111111111111111111111111"
)

// readmeInput is a complete Input for an agent change that landed as
// commit.
func readmeInput(commit string) *statement.Input {
	const digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	return &statement.Input{
		Repository: "acme/web", Commit: commit, Tree: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", Ref: "refs/heads/main",
		PullRequest: 7, Issue: 12, Agent: "claude", Model: "claude-sonnet-4-5",
		TaskID: "task-1", RunID: "run-3", Plan: statement.Plan{ID: "p-1", SHA256: digest, ApprovedBy: "bob"},
		PromptSHA256: digest, PolicyDigest: digest,
		BaseSHA: "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", HeadSHA: "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
		Gate: statement.Gate{Passed: true}, InstallationID: 42, BuilderID: "https://agentgate.example.com",
		StartedOn: t0, FinishedOn: t0.Add(time.Hour), Requester: "alice",
	}
}

// markdownSection is the text under heading, up to the next heading of the
// same level.
func markdownSection(t *testing.T, doc, heading string) string {
	t.Helper()
	_, after, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no %q section", heading)
	}
	level := heading[:strings.IndexByte(heading, ' ')+1]
	if i := strings.Index(after, "\n"+level); i >= 0 {
		after = after[:i]
	}
	return after
}

// cosignLine is the one cosign verify-blob-attestation command in a sh
// block of section, its continuation lines joined.
func cosignLine(t *testing.T, section string) string {
	t.Helper()
	var found []string
	inSh := false
	lines := strings.Split(section, "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		switch {
		case strings.HasPrefix(l, "```"):
			inSh = !inSh && (l == "```sh" || l == "```bash" || l == "```shell")
		case inSh && strings.HasPrefix(l, "cosign verify-blob-attestation"):
			cmd := lines[i]
			for strings.HasSuffix(strings.TrimRight(cmd, " "), `\`) && i+1 < len(lines) {
				i++
				cmd += "\n" + lines[i]
			}
			found = append(found, joinContinuations(cmd))
		}
	}
	if len(found) != 1 {
		t.Fatalf("the \"For auditors\" section has %d cosign verify-blob-attestation commands in sh blocks, want 1", len(found))
	}
	return found[0]
}

// joinContinuations joins shell lines ending in a backslash.
func joinContinuations(s string) string {
	s = regexp.MustCompile(`\\[ \t]*\n[ \t]*`).ReplaceAllString(s, " ")
	return strings.TrimSpace(s)
}

// cosignCommand is a parsed cosign verify-blob-attestation command line.
type cosignCommand struct {
	key, bundle, predicateType, digest, digestAlg string
	// ignoreTlog is the literal --insecure-ignore-tlog token.
	ignoreTlog string
	flags      []string // in order
}

// cosignV3Flags are cosign v3's verify-blob-attestation flags
// (doc/cosign_verify-blob-attestation.md), true for the boolean ones: a
// boolean flag takes its value only as --flag=value.
var cosignV3Flags = map[string]bool{
	"bundle": false, "ca-intermediates": false, "ca-roots": false, "certificate": false, "certificate-chain": false,
	"certificate-github-workflow-name": false, "certificate-github-workflow-ref": false,
	"certificate-github-workflow-repository": false, "certificate-github-workflow-sha": false,
	"certificate-github-workflow-trigger": false, "certificate-identity": false, "certificate-identity-regexp": false,
	"certificate-oidc-issuer": false, "certificate-oidc-issuer-regexp": false, "check-claims": true,
	"digest": false, "digestAlg": false, "experimental-oci11": true, "insecure-ignore-sct": true,
	"insecure-ignore-tlog": true, "key": false, "max-workers": false, "new-bundle-format": true,
	"private-infrastructure": true, "rekor-url": false, "sct": false, "signature": false,
	"signature-digest-algorithm": false, "sk": true, "slot": false, "trusted-root": false, "type": false,
	"use-signed-timestamps": true, "output-file": false, "timeout": false, "verbose": true,
}

// parseCosignCommand reads "cosign verify-blob-attestation --flag value
// --flag=value ..." as cosign's flag parser (pflag) would.
func parseCosignCommand(line string) (*cosignCommand, error) {
	words, err := shellWords(line)
	if err != nil {
		return nil, err
	}
	if len(words) < 2 || words[0] != "cosign" || words[1] != "verify-blob-attestation" {
		return nil, fmt.Errorf("not a cosign verify-blob-attestation command")
	}
	c := &cosignCommand{}
	seen := map[string]bool{}
	for i := 2; i < len(words); i++ {
		w := words[i]
		if !strings.HasPrefix(w, "--") {
			return nil, fmt.Errorf("argument %q: with --digest, cosign takes no blob argument", w)
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(w, "--"), "=")
		isBool, known := cosignV3Flags[name]
		if !known {
			return nil, fmt.Errorf("--%s is not a flag of cosign v3's verify-blob-attestation", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("--%s is given twice", name)
		}
		seen[name] = true
		c.flags = append(c.flags, name)
		switch {
		case isBool && !hasValue:
			value = "true"
		case !hasValue:
			if i+1 >= len(words) {
				return nil, fmt.Errorf("--%s has no value", name)
			}
			i++
			value = words[i]
		}
		switch name {
		case "key":
			c.key = value
		case "bundle":
			c.bundle = value
		case "type":
			c.predicateType = value
		case "digest":
			c.digest = value
		case "digestAlg":
			c.digestAlg = value
		case "insecure-ignore-tlog":
			c.ignoreTlog = w
		}
	}
	return c, nil
}

// check says what is wrong with the README's command: exactly the six
// flags our bundles need, with the right values.
func (c *cosignCommand) check() error {
	want := []string{"key", "bundle", "insecure-ignore-tlog", "type", "digest", "digestAlg"}
	if len(c.flags) != len(want) {
		return fmt.Errorf("flags %v, want exactly %v (the replay checks those and no others)", c.flags, want)
	}
	for _, f := range want {
		if !slices.Contains(c.flags, f) {
			return fmt.Errorf("--%s is missing (flags: %v)", f, c.flags)
		}
	}
	var errs []error
	if c.ignoreTlog != "--insecure-ignore-tlog=true" {
		errs = append(errs, fmt.Errorf("%s, want --insecure-ignore-tlog=true (the bundles have no transparency log entry)", c.ignoreTlog))
	}
	if c.predicateType != statement.PredicateProvenance {
		errs = append(errs, fmt.Errorf("--type %s, want %s", c.predicateType, statement.PredicateProvenance))
	}
	if c.digestAlg != "gitCommit" {
		errs = append(errs, fmt.Errorf("--digestAlg %s, want gitCommit (the subject's digest name)", c.digestAlg))
	}
	if !placeholder.MatchString(c.digest) && !commitHex.MatchString(c.digest) {
		errs = append(errs, fmt.Errorf("--digest %s is neither a placeholder like <sha> nor a commit", c.digest))
	}
	if c.key == "" || c.bundle == "" {
		errs = append(errs, errors.New("--key and --bundle need file names"))
	}
	return errors.Join(errs...)
}

var (
	placeholder = regexp.MustCompile(`^<[A-Za-z_-]+>$`)
	commitHex   = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// commit is the commit --digest names: itself, or for a placeholder,
// fallback.
func (c *cosignCommand) commit(fallback string) string {
	if commitHex.MatchString(c.digest) {
		return c.digest
	}
	return fallback
}

// sameFlags reports where c (printed by agentgate somewhere) differs from
// the README's command in its flags and the values that do not vary.
func (c *cosignCommand) sameFlags(t *testing.T, where string, readme *cosignCommand) {
	t.Helper()
	if !slices.Equal(slices.Sorted(slices.Values(c.flags)), slices.Sorted(slices.Values(readme.flags))) {
		t.Errorf("%s: flags %v, the README's are %v", where, c.flags, readme.flags)
	}
	if c.ignoreTlog != readme.ignoreTlog {
		t.Errorf("%s: %s, the README has %s", where, c.ignoreTlog, readme.ignoreTlog)
	}
	if c.digestAlg != readme.digestAlg {
		t.Errorf("%s: --digestAlg %s, the README has %s", where, c.digestAlg, readme.digestAlg)
	}
}

// shellWords splits a command line as sh would, for the quoting a README
// uses: single and double quotes, no expansions. A placeholder like <sha>
// is one word (the reader replaces it; it is not a redirection).
func shellWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool
		quote rune
	)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case r == '$' || r == '`' || r == '|' || r == ';' || r == '&':
			return nil, fmt.Errorf("%q: the command must be literal, placeholders like <sha> aside (found %c)", s, r)
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("%q: unterminated quote", s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// commentCosignFormat is the format string of the cosign command in the
// Go file at path: the string constant (literals joined by +) that holds
// "cosign verify-blob-attestation".
func commentCosignFormat(t *testing.T, path string) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	ast.Inspect(f, func(n ast.Node) bool {
		e, ok := n.(ast.Expr)
		if !ok {
			return true
		}
		s, ok := stringConstant(e)
		if !ok {
			return true
		}
		if strings.Contains(s, "cosign verify-blob-attestation") {
			found = append(found, s)
		}
		return false // the whole constant is read; its parts would repeat it
	})
	if len(found) != 1 {
		t.Fatalf("%s: %d string constants hold a cosign verify-blob-attestation command, want 1", path, len(found))
	}
	s := found[0]
	return s[strings.Index(s, "cosign verify-blob-attestation"):]
}

// stringConstant folds a string literal, or literals joined by +.
func stringConstant(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		x, ok := stringConstant(e.X)
		if !ok {
			return "", false
		}
		y, ok := stringConstant(e.Y)
		return x + y, ok
	case *ast.ParenExpr:
		return stringConstant(e.X)
	}
	return "", false
}

// runKeygen runs agentgate keygen in-process and returns the cosign
// command it prints, continuation lines joined.
func runKeygen(t *testing.T, out, pub string) string {
	t.Helper()
	cmd := newKeygenCommand(nil) // with --out, keygen never loads the config
	var stdout bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stdout)
	cmd.SetArgs([]string{"--out", out, "--pub", pub})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("keygen: %v\n%s", err, stdout.String())
	}
	text := stdout.String()
	i := strings.Index(text, "cosign verify-blob-attestation")
	if i < 0 {
		t.Fatalf("keygen prints no cosign command:\n%s", text)
	}
	return joinContinuations(text[i:])
}
