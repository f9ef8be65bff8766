// Package server is agentgate's running process: the HTTP endpoints
// (webhook intake, health, metrics, first-run setup), the registry of
// webhook handlers, the reconciler, and the wiring that joins them to the
// store and the durable queue.
//
// A webhook's way through the code reads top to bottom:
// intake.go (verify, record, enqueue) → internal/queue (durable, retried) →
// the handler registered in handlers() → GitHub through internal/ghapp.
// Nothing but cmd imports this package.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agentgate/agentgate/checks"
	"github.com/agentgate/agentgate/dispatch"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/ghapp"
	"github.com/agentgate/agentgate/internal/metrics"
	"github.com/agentgate/agentgate/internal/queue"
	"github.com/agentgate/agentgate/internal/webhook"
	"github.com/agentgate/agentgate/policy"
	"github.com/agentgate/agentgate/store"
)

// Version is reported by /healthz and in the GitHub User-Agent.
type Version string

// Run serves until ctx ends: first-run setup if no GitHub App is configured,
// then the app itself, on one listener that never goes dark in between. It
// returns nil on a clean shutdown.
func Run(ctx context.Context, cfg *config.Config, version Version, log *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	var current atomic.Pointer[http.Handler]
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			(*current.Load()).ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
	}
	serveErr := make(chan error, 1)
	serve := func(h http.Handler) {
		if current.Swap(&h) == nil {
			go func() { serveErr <- srv.Serve(ln) }()
		}
	}
	shutdown := func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}

	if !cfg.HasApp() {
		setup, err := NewSetup(cfg, log)
		if err != nil {
			ln.Close()
			return err
		}
		serve(setup.Handler())
		log.Info("no GitHub App configured: open the setup page to register it", "addr", ln.Addr().String(), "setup_path", setup.Path())
		select {
		case err := <-serveErr:
			return fmt.Errorf("serve setup: %w", err)
		case <-ctx.Done():
			shutdown()
			return nil
		case <-setup.Done():
		}
		// Credentials are saved now: load them the way a restart would.
		reloaded, err := config.Load(cfg.ConfigFile, cfg.Environ)
		if err != nil {
			shutdown()
			return fmt.Errorf("reload config after setup: %w", err)
		}
		cfg = reloaded
	}

	st, err := store.Open(ctx, cfg.Database().Driver, cfg.Database().DSN)
	if err != nil {
		shutdown()
		ln.Close()
		return err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx, log); err != nil {
		shutdown()
		ln.Close()
		return fmt.Errorf("migrate store: %w", err)
	}
	app, err := New(ctx, cfg, st, version, log)
	if err != nil {
		shutdown()
		ln.Close()
		return err
	}
	if err := app.queue.Start(ctx); err != nil {
		shutdown()
		ln.Close()
		return err
	}
	serve(app.Handler())
	log.Info("agentgate serving", "addr", ln.Addr().String(), "store", st.Dialect(), "app_id", cfg.GitHub.AppID, "version", string(version))

	select {
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			_ = app.queue.Stop(context.Background())
			return fmt.Errorf("serve: %w", err)
		}
	case <-ctx.Done():
	}
	log.Info("shutting down")
	// Stop taking webhooks first: GitHub marks what we refuse as failed and
	// the reconciler redelivers it; then let running jobs finish.
	app.shuttingDown.Store(true)
	shutdown()
	stopCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return app.queue.Stop(stopCtx)
}

// App is the configured server: handlers, queue and HTTP routes.
type App struct {
	cfg          *config.Config
	store        *store.Store
	queue        *queue.Queue
	router       *webhook.Router
	metrics      *metrics.Metrics
	intake       *Intake
	links        DetailsLinks
	taskLinks    TaskLinks
	dispatcher   *dispatch.Dispatcher
	attestations *AttestationsAPI
	log          *slog.Logger
	version      Version
	migrated     atomic.Bool
	shuttingDown atomic.Bool
}

// New wires the app over an open, migrated store.
func New(ctx context.Context, cfg *config.Config, st *store.Store, version Version, log *slog.Logger) (*App, error) {
	m := metrics.New()
	m.RegisterQueueDepth(st, log)
	clients, err := ghapp.New(ghapp.Config{
		AppID: cfg.GitHub.AppID, PrivateKeyPEM: []byte(cfg.GitHub.PrivateKey),
		APIURL: cfg.GitHub.APIURL, UserAgent: "agentgate/" + string(version),
	}, m)
	if err != nil {
		return nil, err
	}
	engine, err := policy.NewEngine()
	if err != nil {
		return nil, fmt.Errorf("compile default policies: %w", err)
	}
	links := NewDetailsLinks(cfg.PublicURL, []byte(cfg.GitHub.WebhookSecret))
	gate := &Gate{
		store: st, clients: clients, engine: engine, reporter: &checks.Reporter{},
		links: links, metrics: m, now: time.Now,
	}
	// The trigger and the repair enqueue gate tasks; the queue that runs
	// them needs the handlers first, so they get it just below.
	trigger := &GateTrigger{clients: clients, appID: cfg.GitHub.AppID, window: gateDebounce}
	missing := &MissingCheckRuns{store: st, clients: clients, appID: cfg.GitHub.AppID, maxPerRun: 50}

	taskLinks := TaskLinks{links}
	var dispatcher *dispatch.Dispatcher
	var tasks []queue.Task
	late := &lateQueue{}
	if cfg.Dispatch.Enabled {
		dispatcher, err = newDispatcher(cfg, st, clients, late, taskLinks, log)
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, queue.Task{Name: dispatch.RunTask, Run: dispatcher.Work, Timeout: runJobTimeout(cfg.Dispatch)})
	}

	attester, attestAPI, err := newAttestation(ctx, cfg, st, clients, gate, log)
	if err != nil {
		return nil, err
	}
	var attestTrigger *AttestTrigger
	if attester != nil {
		attester.version = string(version)
		attestTrigger = &AttestTrigger{clients: clients}
		tasks = append(tasks, queue.Task{Name: AttestTask, Run: attester.Run})
	}

	router, err := webhook.NewRouter(handlers(st, clients, trigger, dispatcher, attestTrigger)...)
	if err != nil {
		return nil, err
	}
	reconciler := &Reconciler{
		store: st, clients: clients, metrics: m, lookback: cfg.Reconcile.Lookback,
		maxRedeliveries: 3, now: time.Now,
		repairs: []Repair{&PrunePayloads{store: st, now: time.Now}, missing},
	}
	var periodic []queue.Periodic
	if cfg.Reconcile.Interval > 0 {
		periodic = append(periodic, queue.Periodic{Name: "reconcile", Interval: cfg.Reconcile.Interval, Run: reconciler.Run})
	}
	if dispatcher != nil {
		periodic = append(periodic, queue.Periodic{Name: "dispatch.sweep", Interval: cfg.Dispatch.SweepInterval, Run: dispatcher.Sweep})
	}
	q, err := queue.New(st, router, queue.Options{
		Workers: cfg.Queue.Workers, MaxAttempts: cfg.Queue.MaxAttempts,
		BackoffBase: cfg.Queue.BackoffBase, BackoffMax: cfg.Queue.BackoffMax,
		JobTimeout: cfg.Queue.JobTimeout, RescueAfter: cfg.Queue.RescueAfter,
		PollInterval: cfg.Queue.PollInterval, Periodic: periodic,
		Tasks: append([]queue.Task{{Name: GateTask, Run: gate.Run}}, tasks...),
	}, m, log)
	if err != nil {
		return nil, err
	}
	trigger.tasks, missing.tasks, gate.tasks, late.q = q, q, q, q
	if attestTrigger != nil {
		attestTrigger.tasks = q
	}
	return &App{
		cfg: cfg, store: st, queue: q, router: router, metrics: m, log: log, version: version,
		links: links, taskLinks: taskLinks, dispatcher: dispatcher, attestations: attestAPI,
		intake: &Intake{
			secret: []byte(cfg.GitHub.WebhookSecret), store: st, queue: q, router: router,
			metrics: m, log: log, now: time.Now,
		},
	}, nil
}

// handlers is the one place webhook handlers are registered. Gate, dispatch
// and attest add theirs here; several may subscribe to the same event.
func handlers(st *store.Store, clients *ghapp.Clients, gate *GateTrigger, dispatcher *dispatch.Dispatcher, attest *AttestTrigger) []webhook.Handler {
	hs := []webhook.Handler{
		&Installations{store: st, clients: clients, now: time.Now},
		gate,
	}
	if dispatcher != nil {
		hs = append(hs, &DispatchTrigger{dispatcher: dispatcher})
	}
	if attest != nil {
		hs = append(hs, attest)
	}
	return hs
}

// Handler is the HTTP surface.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /api/github/hook", a.intake)
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.HandleFunc("GET /gate/{owner}/{repo}/{sha}", a.details)
	mux.HandleFunc("GET /tasks/{id}", a.taskPageHandler)
	mux.HandleFunc("GET /tasks/{id}/runs/{run}/log", a.runLogHandler)
	mux.HandleFunc("GET /api/v1/runs/{id}/task", a.runTaskHandler)
	mux.HandleFunc("POST /api/v1/runs/{id}/result", a.runResultHandler)
	a.attestations.Register(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.Registry, promhttp.HandlerOpts{}))
	return mux
}

func (a *App) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": string(a.version)})
}

// readyz says whether this replica should get traffic: the store answers and
// every migration is applied.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	if a.shuttingDown.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.store.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "store unreachable", "error": err.Error()})
		return
	}
	if !a.migrated.Load() {
		pending, err := a.store.Pending(ctx)
		if err != nil || pending {
			msg := "migrations pending: run agentgate migrate"
			if err != nil {
				msg = err.Error()
			}
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not migrated", "error": msg})
			return
		}
		a.migrated.Store(true) // migrations are never un-applied under us
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "store": string(a.store.Dialect())})
}
