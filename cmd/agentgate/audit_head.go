package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// recordedHead is --head SEQ:HASH: a log head an auditor recorded earlier
// (GET /api/v1/log/head). The hash chain has no secret, so it is the one
// check that catches rows rewritten with every later hash recomputed, or
// rows cut from the end.
type recordedHead struct {
	seq  int64
	hash string
}

var rowHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

func parseRecordedHead(s string) (*recordedHead, error) {
	if s == "" {
		return nil, nil
	}
	seqText, hash, ok := strings.Cut(s, ":")
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if !ok || err != nil || seq < 1 || !rowHash.MatchString(hash) {
		return nil, usageErrorf("--head %q: want SEQ:HASH, e.g. 1742:%s (the seq and row_hash of GET /api/v1/log/head)", s, strings.Repeat("0", 64))
	}
	return &recordedHead{seq: seq, hash: hash}, nil
}

// check compares the row now at the recorded seq (found false: there is
// none) with the recorded hash.
func (h *recordedHead) check(found bool, hash string) error {
	switch {
	case !found:
		return fmt.Errorf("recorded head: row %d is gone (rows were cut from the end of the log)", h.seq)
	case hash != h.hash:
		return fmt.Errorf("recorded head: row %d has hash %s, it had %s (the log was rewritten up to there)", h.seq, hash, h.hash)
	}
	return nil
}
