// Package checks will report gate decisions as GitHub check runs (one per
// evaluation per head SHA, annotations in batches of 50, output within
// GitHub's limits). It is filled by the gate issue (#3); nothing here yet.
package checks
