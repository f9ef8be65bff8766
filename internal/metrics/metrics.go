// Package metrics defines every Prometheus series agentgate exports, in one
// place so names and labels stay consistent. Collectors are registered on a
// registry the caller owns (no global registry): tests get a fresh one each.
package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/agentgate/agentgate/store"
)

// Metrics holds the collectors the server updates.
type Metrics struct {
	Registry *prometheus.Registry

	Deliveries    *prometheus.CounterVec   // event, outcome
	BadSignatures prometheus.Counter       //
	IntakeSeconds *prometheus.HistogramVec // outcome

	JobRunSeconds  *prometheus.HistogramVec // kind, handler, outcome
	JobWaitSeconds *prometheus.HistogramVec // kind
	JobRetries     *prometheus.CounterVec   // kind, handler, reason
	JobsDead       *prometheus.CounterVec   // kind, handler

	GitHubRequests      *prometheus.CounterVec // installation, endpoint, method, status
	GitHubRateRemaining *prometheus.GaugeVec   // installation, resource

	ReconcileRuns        *prometheus.CounterVec // outcome
	ReconcileRedelivered *prometheus.CounterVec // outcome

	GateEvaluations *prometheus.CounterVec // conclusion
	GateAPIRequests prometheus.Histogram
	GateSeconds     prometheus.Histogram
}

// New creates and registers the collectors, plus Go runtime and process
// collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentgate_webhook_deliveries_total",
			Help: "Webhook deliveries by event and outcome (queued, ignored, duplicate, rejected, ping).",
		}, []string{"event", "outcome"}),
		BadSignatures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "agentgate_webhook_bad_signatures_total",
			Help: "Webhook requests refused because X-Hub-Signature-256 was missing or wrong. Nothing of them is stored.",
		}),
		IntakeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "agentgate_webhook_intake_seconds",
			Help:    "Time from request to response on the webhook endpoint (includes the durable commit).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"outcome"}),
		JobRunSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "agentgate_queue_job_run_seconds",
			Help:    "Time one attempt of a job ran, by kind, handler and outcome (completed, retry, snoozed, dead).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"kind", "handler", "outcome"}),
		JobWaitSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "agentgate_queue_job_wait_seconds",
			Help:    "Time a job waited in the queue before an attempt started.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"kind"}),
		JobRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentgate_queue_job_retries_total",
			Help: "Job attempts that will be retried, by reason (error, rate_limited).",
		}, []string{"kind", "handler", "reason"}),
		JobsDead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentgate_queue_jobs_dead_total",
			Help: "Jobs given up on (attempts exhausted or a permanent error): the dead-letter count.",
		}, []string{"kind", "handler"}),
		GitHubRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentgate_github_requests_total",
			Help: "GitHub API requests by installation (0 = as the app), endpoint class, method and status (0 = no response).",
		}, []string{"installation", "endpoint", "method", "status"}),
		GitHubRateRemaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "agentgate_github_rate_limit_remaining",
			Help: "X-RateLimit-Remaining from GitHub's latest answer, by installation and resource.",
		}, []string{"installation", "resource"}),
		ReconcileRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentgate_reconcile_runs_total",
			Help: "Reconciler runs by outcome.",
		}, []string{"outcome"}),
		ReconcileRedelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentgate_reconcile_redeliveries_total",
			Help: "Failed webhook deliveries the reconciler asked GitHub to redeliver, by outcome.",
		}, []string{"outcome"}),
		GateEvaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentgate_gate_evaluations_total",
			Help: "Gate evaluations by conclusion (success, failure, action_required, in_progress).",
		}, []string{"conclusion"}),
		GateAPIRequests: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "agentgate_gate_github_requests_per_evaluation",
			Help:    "GitHub API requests one evaluation made to read the pull request (304s included), excluding check-run writes.",
			Buckets: []float64{1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128},
		}),
		GateSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "agentgate_gate_evaluation_seconds",
			Help:    "Time to read a pull request and evaluate its policies.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
	}
	reg.MustRegister(
		m.Deliveries, m.BadSignatures, m.IntakeSeconds,
		m.JobRunSeconds, m.JobWaitSeconds, m.JobRetries, m.JobsDead,
		m.GitHubRequests, m.GitHubRateRemaining,
		m.ReconcileRuns, m.ReconcileRedelivered,
		m.GateEvaluations, m.GateAPIRequests, m.GateSeconds,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// JobCounter reads queue depth; the store implements it.
type JobCounter interface {
	JobCounts(ctx context.Context) ([]store.JobCount, error)
}

// RegisterQueueDepth exports agentgate_queue_jobs{kind,state} read from the
// store at scrape time, so every replica reports the shared queue's truth.
func (m *Metrics) RegisterQueueDepth(counter JobCounter, log *slog.Logger) {
	m.Registry.MustRegister(&queueDepth{counter: counter, log: log, desc: prometheus.NewDesc(
		"agentgate_queue_jobs",
		"Jobs in the durable queue by kind and state (available, scheduled, retryable, running, completed, discarded = dead, cancelled = dead by permanent error).",
		[]string{"kind", "state"}, nil)})
}

type queueDepth struct {
	counter JobCounter
	log     *slog.Logger
	desc    *prometheus.Desc
}

func (q *queueDepth) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

func (q *queueDepth) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := q.counter.JobCounts(ctx)
	if err != nil {
		q.log.Warn("collect queue depth", "err", err)
		return
	}
	for _, c := range counts {
		ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(c.Count), c.Kind, c.State)
	}
}
