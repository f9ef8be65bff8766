package store

import (
	"context"
	"fmt"
	"time"
)

// Evaluation is one gate decision about one pull request head.
type Evaluation struct {
	ID           string
	Repository   string // owner/name
	PullNumber   int
	HeadSHA      string
	MergeGroup   bool
	CheckRunID   int64
	Conclusion   string // "" while pending
	PolicyDigest string
	Decision     []byte // JSON
	Input        []byte // JSON
	APIRequests  int
	Trigger      string
	DeliveryID   string
	StartedAt    time.Time
	FinishedAt   time.Time
}

const evaluationColumns = `id, repository, pull_number, head_sha, merge_group, check_run_id, conclusion, policy_digest,
	decision, input, api_requests, trigger_event, delivery_id, started_at, finished_at`

// InsertEvaluation records an evaluation.
func (q Queries) InsertEvaluation(ctx context.Context, e Evaluation) error {
	_, err := q.q.exec(ctx, `INSERT INTO evaluations (`+evaluationColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.Repository, e.PullNumber, e.HeadSHA, boolInt(e.MergeGroup), e.CheckRunID, e.Conclusion, e.PolicyDigest,
		string(e.Decision), string(e.Input), e.APIRequests, e.Trigger, e.DeliveryID, millis(e.StartedAt), millis(e.FinishedAt))
	if err != nil {
		return fmt.Errorf("record evaluation of %s#%d: %w", e.Repository, e.PullNumber, err)
	}
	return nil
}

// LatestEvaluation is the newest evaluation of a head SHA in a repository.
func (q Queries) LatestEvaluation(ctx context.Context, repository, headSHA string) (Evaluation, error) {
	e, err := scanEvaluation(q.q.queryRow(ctx, `SELECT `+evaluationColumns+` FROM evaluations
		WHERE repository = ? AND head_sha = ? ORDER BY started_at DESC, id DESC LIMIT 1`, repository, headSHA))
	if err != nil {
		return Evaluation{}, fmt.Errorf("latest evaluation of %s@%s: %w", repository, headSHA, err)
	}
	return e, nil
}

// EvaluationsOf lists a pull request's evaluations, newest first.
func (q Queries) EvaluationsOf(ctx context.Context, repository string, number, limit int) ([]Evaluation, error) {
	r, err := q.q.query(ctx, `SELECT `+evaluationColumns+` FROM evaluations
		WHERE repository = ? AND pull_number = ? ORDER BY started_at DESC, id DESC LIMIT ?`, repository, number, limit)
	if err != nil {
		return nil, fmt.Errorf("evaluations of %s#%d: %w", repository, number, err)
	}
	defer r.Close()
	var out []Evaluation
	for r.Next() {
		e, err := scanEvaluation(r)
		if err != nil {
			return nil, fmt.Errorf("evaluations of %s#%d: %w", repository, number, err)
		}
		out = append(out, e)
	}
	return out, r.Err()
}

func scanEvaluation(r row) (Evaluation, error) {
	var (
		e                 Evaluation
		mergeGroup        int
		decision, input   string
		started, finished int64
	)
	if err := r.Scan(&e.ID, &e.Repository, &e.PullNumber, &e.HeadSHA, &mergeGroup, &e.CheckRunID, &e.Conclusion, &e.PolicyDigest,
		&decision, &input, &e.APIRequests, &e.Trigger, &e.DeliveryID, &started, &finished); err != nil {
		return Evaluation{}, err
	}
	e.MergeGroup = mergeGroup != 0
	e.Decision, e.Input = []byte(decision), []byte(input)
	e.StartedAt, e.FinishedAt = fromMillis(started), fromMillis(finished)
	return e, nil
}

// FirstEvaluatedAt is when a head SHA was first evaluated (zero if never):
// the gate's test-evidence timeout counts from it.
func (q Queries) FirstEvaluatedAt(ctx context.Context, repository, headSHA string) (time.Time, error) {
	var at int64
	err := q.q.queryRow(ctx, `SELECT COALESCE(MIN(started_at), 0) FROM evaluations WHERE repository = ? AND head_sha = ?`,
		repository, headSHA).Scan(&at)
	if err != nil {
		return time.Time{}, fmt.Errorf("first evaluation of %s@%s: %w", repository, headSHA, err)
	}
	return fromMillis(at), nil
}
