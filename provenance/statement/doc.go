// Package statement builds the in-toto statements agentgate signs for one
// agent change that landed on a protected branch (DESIGN.md §5): an SLSA
// Provenance v1, one test-result v0.1 per required check, agentgate's
// review predicate, and an SLSA VSA v1 that summarises them.
//
// The caller fills an Input from what the store and GitHub know; this
// package reads nothing else. It must not import the store, dispatch,
// policy or server packages, make network calls, or sign: it returns
// validated statements (in-toto's Statement.Validate, the provenance
// predicate's Validate, and the checks below for the predicates whose Go
// types have none) and the exact bytes to sign. The sign package signs
// them; the verify package checks them.
//
// # Subject
//
// Every statement's first subject is the landed commit (after merge,
// squash or rebase), as the SLSA source track names a revision:
//
//	{"uri": "https://github.com/o/r/commit/<sha>",
//	 "digest": {"gitCommit": "<sha>", "gitTree": "<tree>"},
//	 "annotations": {"sourceRefs": ["refs/heads/main"]}}
//
// A test result also names the pull request's head commit, where the
// check ran, as a second subject ({"uri", "digest": {"gitCommit"}}),
// unless it is the landed commit.
//
// # Provenance (https://slsa.dev/provenance/v1)
//
// buildType is https://agentgate.dev/attestation/agent-change/v1, whose
// parameters are:
//   - externalParameters, small and strict: repository (its URL), ref,
//     pullRequest, issue (absent when there is none), agent, model;
//   - internalParameters: policyDigest {"sha256"}, installationId, taskId,
//     and when known agentVersion, runner, involvement;
//   - resolvedDependencies, named: "base" and "head" (gitCommit digests),
//     "issue" (the sha256 of the issue text given to the agent), "prompt",
//     "plan" (its sha256, its id as an annotation), and "policy/<path>" per
//     policy file;
//   - runDetails: builder.id is this agentgate instance's URL (version
//     {"agentgate": ...} when known); metadata.invocationId is the run id,
//     startedOn and finishedOn the task's start and the landing.
//
// # Review (https://agentgate.dev/attestation/review/v1)
//
// ReviewPredicate: repository, pullRequest, requester, approvers (the
// APPROVED reviews: login, reviewId, the commit approved and whether it is
// the final head, submittedAt, and whether the approver is the requester,
// whose approval does not count as the human review of an agent change),
// plan (id, sha256, approvedBy, approvedAt) and revisions (runId,
// requestedBy, headCommit, at). A new incompatible shape gets a new URI.
//
// # Test result (https://in-toto.io/attestation/test-result/v0.1)
//
// One per check: result PASSED for success, WARNED for neutral and
// skipped, FAILED for everything else; the check's name in passedTests,
// warnedTests or failedTests; configuration names the check (its app and
// conclusion as annotations); url is the check run's page.
//
// # Verification summary (https://slsa.dev/verification_summary/v1)
//
// verifier.id is the instance URL, timeVerified the gate's last
// evaluation, resourceUri "git+https://github.com/o/r", policy the policy
// digest (and PolicyURI when given), inputAttestations the sha256 of each
// other statement's payload (a verifier holding the bundles can match
// them), and verificationResult PASSED or FAILED. A change that merged
// without a passing gate still gets every statement, with FAILED here.
//
// verifiedLevels lists ORG_SOURCE_AGENTGATE_* properties (Property*),
// only with PASSED and only those the input shows; agentgate claims no
// SLSA_SOURCE_LEVEL_n, because it does not check what those levels ask of
// the repository (history and branch protection). The VSA's fields cannot
// say why the gate failed, so an extension field named by a URI, as SLSA's
// parsing rules ask (GateExtension), holds {"verdict", "reasons"}.
// Consumers that parse the predicate with the in-toto Go types need
// protojson's DiscardUnknown for it.
//
// # Encoding
//
// Payloads are protojson's encoding (lowerCamelCase names, map keys
// sorted) compacted, so one Input always gives the same bytes. GitHub ids
// (installation, review) are strings, which JSON numbers in a protobuf
// Struct (doubles) cannot hold exactly in general; counts and numbers
// people type (pull request, issue) are numbers. Times are RFC 3339, UTC.
package statement
