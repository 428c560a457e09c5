package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/api"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/content/ingest"
	"github.com/kilnhq/kiln/content/videogen"
	"github.com/kilnhq/kiln/egress"
	"github.com/kilnhq/kiln/extract/pdftext"
	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/config"
	"github.com/kilnhq/kiln/internal/idempotency"
	"github.com/kilnhq/kiln/internal/metrics"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/schema"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/jobs/webhooks"
	"github.com/kilnhq/kiln/rag"
	"github.com/kilnhq/kiln/rag/indexing"
	"github.com/kilnhq/kiln/settings"
	"github.com/kilnhq/kiln/storage"
	"github.com/kilnhq/kiln/worker"
)

// app holds what every subcommand shares: configuration, logger and the
// connections to Postgres and Redis, and the domain services over them.
type app struct {
	cfg      config.Config
	log      *slog.Logger
	db       *pgxpool.Pool
	redis    *redis.Client
	asynq    asynq.RedisConnOpt
	identity *identity.Service
	content  *content.Service
	jobs     *jobs.Service
	idem     *idempotency.Store
	metrics  *metrics.Metrics
	webhooks *webhooks.Service
	store    *storage.Local
	egress   *egress.Client
	rag      *rag.Service
	settings *settings.Service
	video    *videogen.Service
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// open connects to Postgres and Redis and builds the services.
func open(ctx context.Context, cfg config.Config) (*app, error) {
	log := newLogger(cfg.LogLevel).With("version", version)
	db, err := pg.Connect(ctx, cfg.DatabaseURL, pg.Options{})
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(ropts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		db.Close()
		return nil, fmt.Errorf("REDIS_URL: connect to redis at %s: %w", ropts.Addr, err)
	}
	aopt, err := asynq.ParseRedisURI(cfg.RedisURL)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	ids, err := identity.New(db, log, identity.Config{
		JWTSecret: cfg.JWTSecret, JWTPreviousSecrets: cfg.JWTPreviousSecrets,
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience,
		AccessTTL: cfg.AccessTokenTTL, RefreshTTL: cfg.RefreshTokenTTL, APIKeyCacheTTL: cfg.APIKeyCacheTTL,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	m := metrics.New()
	m.WatchQueues(asynq.NewInspectorFromRedisClient(rdb))
	store, err := storage.NewLocal(cfg.MediaDir)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("KILN_MEDIA_DIR: %w", err)
	}
	contents := content.New(db, log, content.Options{Store: store, Media: content.MediaConfig{MaxBytes: cfg.MediaMaxBytes}})
	gen, err := newGeneration(cfg, db, rdb, contents, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	ragSvc, err := openRAG(ctx, cfg, db, gen, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	out := egress.New(egress.Config{Allow: cfg.EgressAllow})
	engine := jobs.New(db, rdb, log, jobs.Config{
		Namespace: cfg.Namespace, PublicURL: cfg.PublicURL, SignupCredits: cfg.SignupCredits,
		TenantMaxActive: cfg.TenantMaxActive, RelayInterval: cfg.RelayInterval, Metrics: m,
		CheckWebhook: func(ctx context.Context, u string) error { return webhooks.CheckURL(ctx, out, u) },
	}, kinds(cfg, contents, ragSvc, store, gen, log))
	gen.set.Video.SetEngine(engine)
	ids.OnTenantCreated(func(ctx context.Context, tx pgx.Tx, t identity.Tenant) error {
		return engine.OpenAccount(ctx, tx, t.ID)
	})
	hooks := webhooks.New(db, rdb, engine, log, webhooks.Config{Namespace: cfg.Namespace, Metrics: m,
		SecretOverlap: cfg.WebhookSecretOverlap, Egress: egress.Config{Allow: cfg.EgressAllow}})
	return &app{cfg: cfg, log: log, db: db, redis: rdb, asynq: aopt, identity: ids,
		content: contents, store: store, jobs: engine, egress: out, rag: ragSvc, idem: idempotency.New(db), metrics: m,
		webhooks: hooks, settings: gen.settings, video: gen.set.Video}, nil
}

// kinds registers every job kind this build runs.
func kinds(cfg config.Config, c *content.Service, r *rag.Service, store storage.Store, gen generation, log *slog.Logger) *jobs.Registry {
	reg := jobs.NewRegistry()
	if cfg.DiagnosticKinds {
		reg.Register(jobs.EchoKind())
	}
	in := ingest.New(c, log, ingest.Config{Egress: egress.Config{Allow: cfg.EgressAllow},
		PDF: pdftext.Limits{MaxPages: cfg.PDFMaxPages, MaxBytes: cfg.PDFMaxBytes}})
	for _, k := range append(in.Kinds(), indexing.New(r, c, in, store, log).Kinds()...) {
		reg.Register(k)
	}
	for _, k := range gen.kinds() {
		reg.Register(k)
	}
	return reg
}

// openRAG opens the vector store and builds the RAG service. A vector
// database that is unreachable or lacks pgvector is logged, not fatal: the
// RAG routes answer 503 vector_store_unavailable and the rest of Kiln runs.
func openRAG(ctx context.Context, cfg config.Config, db *pgxpool.Pool, gen generation, log *slog.Logger) (*rag.Service, error) {
	vstore, err := rag.ConnectStore(ctx, cfg.VectorDatabaseURL, log, rag.StoreOptions{HNSWM: cfg.HNSWM,
		HNSWEfConstruction: cfg.HNSWEfConstruction, EfSearch: cfg.HNSWEfSearch,
		Lock: cfg.VectorDatabaseURL == cfg.DatabaseURL}) // PGlite shares one session: no session lock there
	if err != nil {
		log.WarnContext(ctx, "VECTOR_DATABASE_URL: vector store unavailable; RAG routes answer 503 until it is fixed", "err", err)
	}
	tok, err := ai.CL100K()
	if err != nil {
		return nil, fmt.Errorf("load the cl100k tokenizer: %w", err)
	}
	chunker, err := rag.NewChunker(tok)
	if err != nil {
		return nil, fmt.Errorf("build the chunker: %w", err)
	}
	defaults := rag.DefaultEmbedding(cfg.OpenAIAPIKey != "")
	if cfg.OpenAIAPIKey != "" {
		defaults.Model = cfg.ModelEmbedding
	}
	embedders := rag.NewEmbedderSet(ai.OpenAIConfig{BaseURL: cfg.OpenAIBaseURL, APIKey: cfg.OpenAIAPIKey, Tokenizer: tok, Log: log}).
		WithTenants(rag.SettingsEndpoint(gen.settings), gen.guarded)
	catalog := rag.NewCatalog(db, log, defaults).WithSecrets(gen.settings)
	return rag.NewService(catalog, vstore, chunker, embedders, log), nil
}

func (a *app) close() {
	a.rag.Store.Close()
	a.store.Close()
	a.redis.Close()
	a.db.Close()
}

// openMigrated opens the app and applies pending migrations, for the
// commands that run against a database they may be the first to use.
func openMigrated(ctx context.Context, cfg config.Config) (*app, error) {
	a, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := a.migrateUp(ctx); err != nil {
		a.close()
		return nil, err
	}
	a.warnWithoutAutovacuum(ctx)
	return a, nil
}

// warnWithoutAutovacuum tells the operator when Postgres will not keep the
// engine's tables in shape by itself.
func (a *app) warnWithoutAutovacuum(ctx context.Context) {
	on, err := pg.Autovacuum(ctx, a.db)
	if err != nil {
		a.log.WarnContext(ctx, "cannot tell whether Postgres runs autovacuum", "err", err)
		return
	}
	if !on {
		a.log.WarnContext(ctx, "Postgres runs with autovacuum off: the jobs, job_events and credit_ledger tables will bloat and their statistics go stale; "+
			"turn autovacuum on, or run VACUUM ANALYZE on them regularly")
	}
}

// migrateUp applies every pending migration under a database lock.
func (a *app) migrateUp(ctx context.Context) error {
	m, err := schema.Migrator(a.db, a.log, true)
	if err != nil {
		return err
	}
	defer m.Close()
	return m.Up(ctx)
}

// serveAPI serves HTTP until ctx is done, then drains within the grace.
func (a *app) serveAPI(ctx context.Context) error {
	if err := a.announceSetupToken(ctx); err != nil {
		return err
	}
	s := api.New(api.Config{
		Version: version, PublicURL: a.cfg.PublicURL, SignupEnabled: a.cfg.SignupEnabled,
		SetupToken: a.cfg.SetupToken, MaxBodyBytes: a.cfg.MaxBodyBytes, MetricsBasicAuth: a.cfg.MetricsBasicAuth,
		RateLimits: a.cfg.RateLimits, Namespace: a.cfg.Namespace, ConsoleReadOnly: a.cfg.AsynqmonReadOnly,
	}, a.log, api.Deps{DB: a.db, Redis: a.redis, Identity: a.identity, Content: a.content, Jobs: a.jobs, Idempotency: a.idem,
		Metrics: a.metrics, Webhooks: a.webhooks, Egress: a.egress, RAG: a.rag, Files: a.store,
		Settings: a.settings, Video: a.video})
	srv := &http.Server{Addr: a.cfg.HTTPAddr, Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	a.log.InfoContext(ctx, "api listening", "addr", a.cfg.HTTPAddr, "public_url", a.cfg.PublicURL)
	select {
	case err := <-errc:
		return fmt.Errorf("KILN_HTTP_ADDR %s: %w", a.cfg.HTTPAddr, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shut down api: %w", err)
	}
	a.log.Info("api stopped")
	return nil
}

// announceSetupToken logs the one-time setup token while no platform admin
// exists, so only whoever can read the server's logs can claim the platform.
func (a *app) announceSetupToken(ctx context.Context) error {
	token, err := a.identity.SetupToken(ctx, a.cfg.SetupToken)
	if err != nil {
		return err
	}
	if token != "" {
		a.log.WarnContext(ctx, "no platform admin exists yet: create one with POST /api/v1/auth/setup and this setup_token, or `kiln admin create`",
			"setup_token", token)
	}
	return nil
}

// workerMux registers every task handler the worker runs and returns the
// periodic schedule that goes with them.
func (a *app) workerMux() (*worker.Mux, []worker.Periodic) {
	mux := worker.NewMux()
	a.jobs.Register(mux)
	mux.HandleFunc(webhooks.TaskType, a.webhooks.ProcessTask)
	periodic := worker.RegisterMaintenance(mux, a.log,
		worker.Maintenance{Type: "maintenance:prune_sessions", Spec: "@every 1h", Run: a.identity.PruneSessions},
		worker.Maintenance{Type: "maintenance:prune_idempotency_keys", Spec: "@every 1h", Run: a.idem.Prune},
		worker.Maintenance{Type: "maintenance:prune_webhook_deliveries", Spec: "@every 6h", Run: a.webhooks.PruneDeliveries},
	)
	return mux, periodic
}

func (a *app) workerConfig() worker.Config {
	queues := jobs.Queues(a.cfg.Namespace)
	queues[webhooks.Queue(a.cfg.Namespace)] = 3 // deliveries are short; as often as normal jobs
	return worker.Config{Concurrency: a.cfg.WorkerConcurrency, ShutdownGrace: a.cfg.ShutdownGrace,
		Queues: queues, PollInterval: a.cfg.WorkerPollInterval, RetryDelay: jobs.RetryDelay,
		OnShutdown: a.jobs.Drain}
}

// runWorker serves jobs until ctx is done, with the cancel listener and the
// relay beside it.
func (a *app) runWorker(ctx context.Context) error {
	mux, _ := a.workerMux()
	go a.jobs.ListenForCancels(ctx)
	go a.jobs.RunRelay(ctx)
	go a.webhooks.Run(ctx)
	go a.serveMetrics(ctx)
	return worker.Run(ctx, a.asynq, a.workerConfig(), a.log, mux)
}

// serveMetrics serves /metrics on KILN_METRICS_ADDR, for worker and
// scheduler processes (the API serves it on its own address), until ctx
// is done. A listener that cannot start is logged, not fatal.
func (a *app) serveMetrics(ctx context.Context) {
	if a.cfg.MetricsAddr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.Registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Addr: a.cfg.MetricsAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	a.log.InfoContext(ctx, "metrics listening", "addr", a.cfg.MetricsAddr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.ErrorContext(ctx, "KILN_METRICS_ADDR: serve metrics", "addr", a.cfg.MetricsAddr, "err", err)
	}
}

func printEnv() {
	for _, v := range config.Vars() {
		fmt.Printf("%-28s %-40s %s\n", v.Name, v.Default, v.Help)
	}
}

// loadConfig reads the configuration and formats its errors one per line.
func loadConfig(mode config.Mode) (config.Config, error) {
	cfg, err := config.Load(mode)
	if err != nil {
		return cfg, fmt.Errorf("invalid configuration:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	return cfg, nil
}
