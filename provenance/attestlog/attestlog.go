package attestlog

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// Genesis is the PrevHash of the first row, and the head of an empty log.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// hashDomain starts every hashed encoding, so a row hash can never be
// mistaken for the hash of anything else (or of another version of this
// encoding).
const hashDomain = "agentgate attestation log v1"

// Entry is what a row's hash covers: every field of the row except the
// bundle itself, which is covered by its digest.
type Entry struct {
	Seq           int64 // 1-based position in the chain
	ID            string
	Repository    string
	Commit        string
	PullNumber    int
	PredicateType string
	Name          string
	Agent         string
	Model         string
	SignerKeyID   string
	SignedAt      time.Time // hashed as Unix milliseconds (UTC); the zero time as 0
	BundleSHA256  string    // hex sha256 of the bundle bytes
	PrevHash      string    // the previous row's RowHash (Genesis for seq 1)
}

// Hash is the row hash: the hex SHA-256 of the domain tag and every field,
// in the order of the struct, integers as 8 bytes big-endian and strings
// as their 8-byte big-endian length followed by their bytes, so no two
// different entries share an encoding.
func (e Entry) Hash() string {
	sum := sha256.Sum256(e.encode(make([]byte, 0, 384)))
	return hex.EncodeToString(sum[:])
}

func (e Entry) encode(b []byte) []byte {
	b = appendString(b, hashDomain)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	b = appendString(b, e.ID)
	b = appendString(b, e.Repository)
	b = appendString(b, e.Commit)
	b = binary.BigEndian.AppendUint64(b, uint64(int64(e.PullNumber)))
	b = appendString(b, e.PredicateType)
	b = appendString(b, e.Name)
	b = appendString(b, e.Agent)
	b = appendString(b, e.Model)
	b = appendString(b, e.SignerKeyID)
	b = binary.BigEndian.AppendUint64(b, uint64(Millis(e.SignedAt)))
	b = appendString(b, e.BundleSHA256)
	b = appendString(b, e.PrevHash)
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// Millis is the signing time as the hash covers it: Unix milliseconds, 0
// for the zero time. A store that keeps times as milliseconds keeps
// exactly what is hashed.
func Millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// BundleSHA256 is the hex SHA-256 of a bundle's bytes, as Entry.BundleSHA256
// records it.
func BundleSHA256(bundle []byte) string {
	sum := sha256.Sum256(bundle)
	return hex.EncodeToString(sum[:])
}
