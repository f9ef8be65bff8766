package verify_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/provenance/sign"
	"github.com/agentgate/agentgate/provenance/statement"
	"github.com/agentgate/agentgate/provenance/verify"
)

const (
	landed = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	tree   = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
	base   = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
	head   = "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"
	other  = "1111111111111111111111111111111111111111"
	sha    = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

func input() *statement.Input {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	return &statement.Input{
		Repository: "o/r", Commit: landed, Tree: tree, Ref: "refs/heads/main",
		PullRequest: 7, Issue: 12, Agent: "claude-code", Model: "claude-sonnet-4.5",
		TaskID: "task-1", RunID: "run-3", Plan: statement.Plan{ID: "p-1", SHA256: sha, ApprovedBy: "bob"},
		PromptSHA256: sha, BaseSHA: base, HeadSHA: head, PolicyDigest: sha,
		Gate: statement.Gate{Passed: true}, InstallationID: 42, BuilderID: "https://agentgate.example.com",
		StartedOn: t0, FinishedOn: t0.Add(time.Hour),
		Checks:    []statement.Check{{Name: "test", Conclusion: "success", URL: "https://github.com/o/r/runs/1"}},
		Requester: "alice",
		Reviews:   []statement.Review{{ID: 9, User: "bob", State: "APPROVED", CommitID: head}},
	}
}

type fixture struct {
	key     *sign.LocalKey
	pubPEM  []byte
	bundles []*sign.Bundle // provenance, test result, review, VSA
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	k, err := sign.Generate(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sign.PublicKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	sts, err := statement.Build(input())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{key: k, pubPEM: pub}
	for _, st := range sts {
		b, err := sign.Statement(context.Background(), k, st.Payload)
		if err != nil {
			t.Fatal(err)
		}
		f.bundles = append(f.bundles, b)
	}
	return f
}

func newVerifier(t testing.TB, keys ...[]byte) *verify.Verifier {
	t.Helper()
	v, err := verify.New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestValidBundlesVerify(t *testing.T) {
	f := newFixture(t)
	v := newVerifier(t, f.pubPEM)
	want := []string{statement.PredicateProvenance, statement.PredicateTestResult, statement.PredicateReview, statement.PredicateVSA}
	if len(f.bundles) != len(want) {
		t.Fatalf("%d bundles, want %d", len(f.bundles), len(want))
	}
	for i, b := range f.bundles {
		res, err := v.Verify(b.JSON, verify.Expect{Commit: landed, PredicateType: want[i]})
		if err != nil {
			t.Errorf("%s: %v", want[i], err)
			continue
		}
		if res.KeyID != f.key.KeyID() || res.PredicateType != want[i] {
			t.Errorf("%s: result key %s type %s", want[i], res.KeyID, res.PredicateType)
		}
		if len(res.Subjects) == 0 || res.Subjects[0].Digest["gitCommit"] != landed || res.Subjects[0].Digest["gitTree"] != tree ||
			res.Subjects[0].URI != "https://github.com/o/r/commit/"+landed {
			t.Errorf("%s: subjects %+v", want[i], res.Subjects)
		}
		var st struct {
			PredicateType string `json:"predicateType"`
		}
		if err := json.Unmarshal(res.Statement, &st); err != nil || st.PredicateType != want[i] {
			t.Errorf("%s: verified statement %s", want[i], res.Statement)
		}
		// Any predicate type is accepted when none is asked for.
		if _, err := v.Verify(b.JSON, verify.Expect{Commit: landed}); err != nil {
			t.Errorf("%s without a predicate type: %v", want[i], err)
		}
	}
	// The test result is also about the pull request's head commit.
	if _, err := v.Verify(f.bundles[1].JSON, verify.Expect{Commit: head, PredicateType: statement.PredicateTestResult}); err != nil {
		t.Errorf("test result for the head commit: %v", err)
	}
}

func TestChangedCommitFails(t *testing.T) {
	f := newFixture(t)
	v := newVerifier(t, f.pubPEM)
	for _, c := range []string{other, head, base} {
		_, err := v.Verify(f.bundles[0].JSON, verify.Expect{Commit: c, PredicateType: statement.PredicateProvenance})
		if !errors.Is(err, verify.ErrSubject) {
			t.Errorf("commit %s: %v, want ErrSubject", c, err)
			continue
		}
		if !strings.Contains(err.Error(), c) || !strings.Contains(err.Error(), landed) {
			t.Errorf("commit %s: error %q does not say which commit was asked for and which is attested", c, err)
		}
	}
	if _, err := v.Verify(f.bundles[0].JSON, verify.Expect{Commit: "HEAD"}); err == nil {
		t.Error("a commit that is not a sha was accepted")
	}
}

// flipPayloadByte changes one byte of the DSSE payload and re-encodes the
// bundle; the result is still a well-formed bundle.
func flipPayloadByte(t *testing.T, bundleJSON []byte, at func(payload []byte) int) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(bundleJSON, &m); err != nil {
		t.Fatal(err)
	}
	env := m["dsseEnvelope"].(map[string]any)
	payload, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	if err != nil {
		t.Fatal(err)
	}
	i := at(payload)
	payload[i] ^= 0x01
	env["payload"] = base64.StdEncoding.EncodeToString(payload)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTamperedPayloadFails(t *testing.T) {
	f := newFixture(t)
	v := newVerifier(t, f.pubPEM)
	cases := map[string]func([]byte) int{
		"first byte":  func([]byte) int { return 0 },
		"last byte":   func(p []byte) int { return len(p) - 1 },
		"in the sha":  func(p []byte) int { return strings.Index(string(p), landed) + 39 }, // 'e' -> 'd'
		"in the type": func(p []byte) int { return strings.Index(string(p), "provenance/v1") },
	}
	for name, at := range cases {
		tampered := flipPayloadByte(t, f.bundles[0].JSON, at)
		_, err := v.Verify(tampered, verify.Expect{Commit: landed, PredicateType: statement.PredicateProvenance})
		if !errors.Is(err, verify.ErrSignature) && !errors.Is(err, verify.ErrBundle) {
			t.Errorf("%s: %v, want ErrSignature", name, err)
		}
	}
	// The flip inside the sha makes the payload name another commit, still
	// with a good-looking JSON shape: it must fail on the signature, and
	// also for that other commit.
	tampered := flipPayloadByte(t, f.bundles[0].JSON, cases["in the sha"])
	forged := landed[:39] + "d"
	if _, err := v.Verify(tampered, verify.Expect{Commit: forged}); !errors.Is(err, verify.ErrSignature) {
		t.Errorf("tampered payload, forged commit: %v, want ErrSignature", err)
	}
}

func TestWrongKeyFails(t *testing.T) {
	f := newFixture(t)
	g := newFixture(t)
	v := newVerifier(t, g.pubPEM)
	_, err := v.Verify(f.bundles[0].JSON, verify.Expect{Commit: landed, PredicateType: statement.PredicateProvenance})
	if !errors.Is(err, verify.ErrUnknownKey) || !strings.Contains(err.Error(), f.key.KeyID()) || !strings.Contains(err.Error(), g.key.KeyID()) {
		t.Errorf("bundle of another key: %v, want ErrUnknownKey naming both keys", err)
	}
	// A bundle whose hint is rewritten to the trusted key's id still fails,
	// on the signature.
	relabelled := strings.Replace(string(f.bundles[0].JSON), f.key.KeyID(), g.key.KeyID(), 1)
	if _, err := v.Verify([]byte(relabelled), verify.Expect{Commit: landed}); !errors.Is(err, verify.ErrSignature) {
		t.Errorf("relabelled bundle: %v, want ErrSignature", err)
	}
	// With both keys trusted (rotation), each bundle verifies with its own.
	both := newVerifier(t, g.pubPEM, f.pubPEM)
	for _, b := range []*sign.Bundle{f.bundles[0], g.bundles[0]} {
		if _, err := both.Verify(b.JSON, verify.Expect{Commit: landed}); err != nil {
			t.Errorf("two trusted keys: %v", err)
		}
	}
}

func TestWrongPredicateTypeFails(t *testing.T) {
	f := newFixture(t)
	v := newVerifier(t, f.pubPEM)
	_, err := v.Verify(f.bundles[2].JSON, verify.Expect{Commit: landed, PredicateType: statement.PredicateProvenance})
	if !errors.Is(err, verify.ErrPredicateType) || !strings.Contains(err.Error(), statement.PredicateReview) {
		t.Errorf("review bundle verified as provenance: %v, want ErrPredicateType naming the review type", err)
	}
}

func TestMalformedBundlesFail(t *testing.T) {
	f := newFixture(t)
	v := newVerifier(t, f.pubPEM)
	good := string(f.bundles[0].JSON)
	cases := map[string]string{
		"empty":             ``,
		"not JSON":          `{"mediaType":`,
		"unknown version":   strings.Replace(good, "bundle.v0.3+json", "bundle.v0.9+json", 1),
		"no envelope":       strings.Replace(good, `"dsseEnvelope"`, `"dsseEnvelopeX"`, 1),
		"other payloadType": strings.Replace(good, `application/vnd.in-toto+json`, `application/json`, 1),
		"no key hint":       strings.Replace(good, `"publicKey":{"hint":"`+f.key.KeyID()+`"}`, `"publicKey":{}`, 1),
	}
	for name, b := range cases {
		if _, err := v.Verify([]byte(b), verify.Expect{Commit: landed}); err == nil {
			t.Errorf("%s: verified", name)
		} else if !errors.Is(err, verify.ErrBundle) && !errors.Is(err, verify.ErrUnknownKey) && !errors.Is(err, verify.ErrSignature) {
			t.Errorf("%s: %v, want one of the package's errors", name, err)
		}
	}
}

func TestNewRefusesBadKeys(t *testing.T) {
	for name, keys := range map[string][][]byte{
		"none":        nil,
		"not PEM":     {[]byte("ssh-ed25519 AAAA")},
		"private key": {[]byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIG5tYWxsIGtleSBmb3IgdGVzdGluZyBvbmx5ISEhISE=\n-----END PRIVATE KEY-----\n")},
	} {
		if _, err := verify.New(keys...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
