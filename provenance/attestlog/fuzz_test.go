package attestlog_test

import (
	"math/rand/v2"
	"testing"

	"github.com/agentgate/agentgate/provenance/attestlog"
)

// tamper applies one tampering, chosen by kind, to an intact log of n
// rows and says what the auditor must find: nothing, or exactly one
// finding of a kind at a seq. a, b and field pick the rows and the field.
func tamper(n int, kind, a, b, field uint) (rows []attestlog.Row, wantKind string, wantSeq int64, wantID string) {
	base := buildLog(n)
	i := int(a % uint(n))
	switch kind % 9 {
	case 0: // nothing
		return base, "", 0, ""
	case 1: // a field edited in place
		rows = clone(base)
		editField(&rows[i], field)
		return rows, attestlog.KindEdited, int64(i + 1), id(i + 1)
	case 2: // a field edited and the row's hash recomputed
		rows = clone(base)
		editField(&rows[i], 1) // the commit: the bundle no longer matches the row
		rows[i].RowHash = rows[i].Entry.Hash()
		if i == n-1 {
			// The last row has no successor to contradict it; only the
			// bundle check can.
			return rows, attestlog.KindSignature, int64(n), id(n)
		}
		return rows, attestlog.KindEdited, int64(i + 1), id(i + 1)
	case 3, 4: // rows deleted, the later ones renumbered or not
		if n < 2 || i == n-1 {
			return base, "", 0, ""
		}
		j := i + int(b%uint(n-1-i)) // keep the last row: a cut end is not visible in the rows
		return deleteRows(base, i, j, kind%9 == 4), attestlog.KindDeleted, int64(i + 1), ""
	case 5: // a forged row spliced in, the later rows renumbered
		at := int(a % uint(n+1))
		if at == n {
			return append(clone(base), forged(int64(n+1), base[n-1].RowHash, base[int(b%uint(n))])), attestlog.KindSignature, int64(n + 1), "att_evil"
		}
		return insertRenumbered(base, at), attestlog.KindInserted, int64(at + 1), "att_evil"
	case 6: // bundle bytes changed
		rows = clone(base)
		bb := append([]byte(nil), rows[i].Bundle...)
		bb[int(b)%len(bb)] ^= byte(field%255 + 1)
		rows[i].Bundle = bb
		return rows, attestlog.KindBundle, int64(i + 1), id(i + 1)
	case 7, 8: // a forged row with a duplicate seq, next to the genuine one
		rows = clone(base[:i])
		prev := attestlog.Genesis
		if i > 0 {
			prev = base[i-1].RowHash
		}
		x := forged(int64(i+1), prev, base[int(b%uint(n))])
		if kind%9 == 7 {
			rows = append(rows, x, base[i])
		} else {
			rows = append(rows, base[i], x)
		}
		rows = append(rows, base[i+1:]...)
		return rows, attestlog.KindInserted, int64(i + 1), "att_evil"
	}
	panic("unreachable")
}

func editField(r *attestlog.Row, field uint) {
	switch field % 6 {
	case 0:
		r.Model = "other-model"
	case 1:
		r.Commit = "ffffffffffffffffffffffffffffffffffffffff"
	case 2:
		r.SignedAt = r.SignedAt.AddDate(0, 0, -1)
	case 3:
		r.Agent = ""
	case 4:
		r.PullNumber++
	case 5:
		r.SignerKeyID = "k-old"
	}
}

func checkOneTampering(t *testing.T, n int, kind, a, b, field uint) {
	t.Helper()
	rows, wantKind, wantSeq, wantID := tamper(n, kind, a, b, field)
	rep := audit(rows, checkMAC)
	if wantKind == "" {
		if !rep.OK() {
			t.Fatalf("n=%d kind=%d a=%d b=%d field=%d: intact log has findings:\n%s", n, kind, a, b, field, formatFindings(rep.Findings))
		}
		return
	}
	if len(rep.Findings) != 1 {
		t.Fatalf("n=%d kind=%d a=%d b=%d field=%d: want one %s finding at %d, got:\n%s", n, kind, a, b, field, wantKind, wantSeq, formatFindings(rep.Findings))
	}
	f := rep.Findings[0]
	if f.Kind != wantKind || f.Seq != wantSeq || f.ID != wantID {
		t.Fatalf("n=%d kind=%d a=%d b=%d field=%d: got %s seq=%d id=%s (%s), want %s seq=%d id=%s",
			n, kind, a, b, field, f.Kind, f.Seq, f.ID, f.Detail, wantKind, wantSeq, wantID)
	}
}

// TestAuditorRandomTampering: any single tampering of a log gives exactly
// one finding, of the right kind, at the right row.
func TestAuditorRandomTampering(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	iterations := 3000
	if testing.Short() {
		iterations = 300
	}
	for range iterations {
		n := 1 + rng.IntN(40)
		checkOneTampering(t, n, rng.UintN(9), rng.UintN(1<<16), rng.UintN(1<<16), rng.UintN(256))
	}
}

// FuzzAuditor is TestAuditorRandomTampering under the fuzzer:
// go test -fuzz FuzzAuditor ./provenance/attestlog/
func FuzzAuditor(f *testing.F) {
	for kind := range uint8(9) {
		f.Add(uint8(12), kind, uint16(5), uint16(3), uint8(0))
		f.Add(uint8(1), kind, uint16(0), uint16(0), uint8(1))
	}
	f.Fuzz(func(t *testing.T, n, kind uint8, a, b uint16, field uint8) {
		checkOneTampering(t, 1+int(n%64), uint(kind), uint(a), uint(b), uint(field))
	})
}
