// Package provenance will parse and write the provenance block and Agent-*
// trailers, and build, sign, store and verify in-toto attestations. It is
// filled by the gate (#3) and attestation (#5) issues; nothing here yet.
package provenance
