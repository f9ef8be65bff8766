package store

// SetTimeIndexMaxRows lets the tests run QueryAttestations' two plans for
// a time range on a small log; it returns the old value.
func SetTimeIndexMaxRows(n int64) int64 {
	old := timeIndexMaxRows
	timeIndexMaxRows = n
	return old
}
