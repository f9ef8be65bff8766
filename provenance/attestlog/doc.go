// Package attestlog is the hash chain of the attestation log: how a row of
// the store's append-only attestations table is hashed (Entry.Hash), and an
// incremental Auditor that reads the rows in order and says which were
// edited, deleted or inserted, whose bundle changed, and whose bundle fails
// a caller's check (a signature verification). The store (verify-log) and
// the CLI (audit verify, over the API) share it.
//
// It must not import the store, the API or the signer: it knows rows and
// hashes, nothing else.
//
// # The chain
//
// Row n (1-based) carries PrevHash, the RowHash of row n-1 (Genesis for
// row 1), and RowHash = Entry.Hash(): the hex SHA-256 of a domain tag and
// every field of the row, each length-prefixed, with the signing time as
// Unix milliseconds. Editing any field changes the row's hash; recomputing
// that hash breaks the link from the next row; deleting a row leaves a gap
// in the sequence and a broken link; inserting one needs a place in the
// sequence, so either later rows are renumbered (their hashes, which cover
// the sequence number, no longer match their places) or the inserted row
// chains to a row that already has a successor. The hash has no secret,
// so what the chain alone cannot show is a rewrite that recomputes every
// later row's hash too (from the edited row to the end), a row appended at
// the end with a correct hash, and rows cut from the end. A forged or
// altered statement still fails the signature check (only the signing key
// can make a bundle); a rewrite or a cut shows when the row at a head
// recorded earlier (the store's AttestationLogHead, the API's
// /api/v1/log/head) is compared with what it holds now (the CLI's --head).
//
// # The auditor
//
// The Auditor holds a bounded window of recent rows (Window), not the log,
// so a million rows stream through it in constant memory. One tampering
// gives one finding, worded for a person: "row 17 (att_…) was edited: its
// hash does not match its contents", "rows 5–6 were deleted: row 7 (att_…)
// follows row 4", "row 9 (att_…) was inserted: row 10 (att_…) chains to
// row 8". A row has at most one finding; inserted and edited outrank a
// changed bundle, which outranks a failed check.
package attestlog
