package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/api"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/idempotency"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/worker"
)

// benchCredits are granted to the bench tenant: far more than any run uses.
const benchCredits = 1_000_000_000

// cleanupTimeout bounds the clean-up; deleting the tenant cascades to
// tens of thousands of jobs and their events.
const cleanupTimeout = 5 * time.Minute

// env is one run's services: the engine in the run's namespace, the bench
// tenant and its API key, the API on a loopback listener, and the HTTP
// client that talks to it.
type env struct {
	cfg      Config
	log      *slog.Logger
	identity *identity.Service
	jobs     *jobs.Service
	idem     *idempotency.Store

	tenantID string
	userID   string
	apiKey   string
	house    Housekeeping

	server    *http.Server
	baseURL   string
	transport *http.Transport
	client    *http.Client
}

// setup builds the services, the tenant and the API server. On failure it
// undoes what it did.
func setup(ctx context.Context, cfg Config) (*env, error) {
	e := &env{cfg: cfg, log: cfg.ServiceLog}
	if err := e.readAutovacuum(ctx); err != nil {
		return nil, err
	}
	if err := e.vacuum(ctx); err != nil {
		return nil, err
	}
	if err := e.buildServices(); err != nil {
		return nil, err
	}
	if err := e.createTenant(ctx); err != nil {
		return nil, errors.Join(err, e.close(e.log))
	}
	if err := e.serveAPI(); err != nil {
		return nil, errors.Join(err, e.close(e.log))
	}
	return e, nil
}

// buildServices makes the identity service (with a throwaway JWT secret:
// the bench authenticates with an API key), the content and idempotency
// stores, and a job engine that runs system.echo in the run's namespace.
func (e *env) buildServices() error {
	secret, err := randomString(48)
	if err != nil {
		return err
	}
	e.identity, err = identity.New(e.cfg.DB, e.log, identity.Config{JWTSecret: secret, Issuer: "kiln", Audience: "kiln-api",
		AccessTTL: 15 * time.Minute, RefreshTTL: time.Hour, APIKeyCacheTTL: e.cfg.APIKeyCacheTTL})
	if err != nil {
		return fmt.Errorf("bench: identity service: %w", err)
	}
	kinds := jobs.NewRegistry()
	kinds.Register(jobs.EchoKind())
	e.jobs = jobs.New(e.cfg.DB, e.cfg.Redis, e.log, jobs.Config{
		Namespace: e.cfg.Namespace, PublicURL: "http://127.0.0.1", TenantMaxActive: e.cfg.TenantMaxActive,
		RelayInterval: e.cfg.RelayInterval,
	}, kinds)
	e.identity.OnTenantCreated(func(ctx context.Context, tx pgx.Tx, t identity.Tenant) error {
		return e.jobs.OpenAccount(ctx, tx, t.ID)
	})
	e.idem = idempotency.New(e.cfg.DB)
	return nil
}

// createTenant makes the bench tenant, its owner and an API key, and
// grants it plenty of credits.
func (e *env) createTenant(ctx context.Context) error {
	t, err := e.identity.CreateTenant(ctx, "Kiln bench "+e.cfg.Namespace, "")
	if err != nil {
		return fmt.Errorf("bench: create tenant: %w", err)
	}
	e.tenantID = t.ID
	password, err := randomString(24)
	if err != nil {
		return err
	}
	m, err := e.identity.CreateMember(ctx, t.ID, identity.NewUser{Email: e.cfg.Namespace + "@bench.kiln.local",
		Password: password, Name: "Kiln bench", Role: identity.RoleOwner})
	if err != nil {
		return fmt.Errorf("bench: create owner: %w", err)
	}
	e.userID = m.ID
	owner := identity.Principal{Kind: identity.KindUser, ID: m.ID, UserID: m.ID, TenantID: t.ID, Role: identity.RoleOwner}
	if _, e.apiKey, err = e.identity.CreateAPIKey(ctx, owner, identity.NewAPIKey{Name: "bench"}); err != nil {
		return fmt.Errorf("bench: create api key: %w", err)
	}
	if _, err := e.jobs.Grant(ctx, t.ID, benchCredits, "kiln bench", ""); err != nil {
		return fmt.Errorf("bench: grant credits: %w", err)
	}
	return nil
}

// serveAPI serves the API on 127.0.0.1 at a free port, and makes a client
// that keeps a connection alive per concurrent caller.
func (e *env) serveAPI() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("bench: listen on loopback: %w", err)
	}
	e.baseURL = "http://" + ln.Addr().String()
	s := api.New(api.Config{Version: "bench", PublicURL: e.baseURL, MaxBodyBytes: 1 << 20}, e.log, api.Deps{
		DB: e.cfg.DB, Redis: e.cfg.Redis, Identity: e.identity, Content: content.New(e.cfg.DB, e.log),
		Jobs: e.jobs, Idempotency: e.idem,
	})
	e.server = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := e.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("bench api server stopped", "err", err)
		}
	}()
	e.transport = &http.Transport{
		MaxIdleConns: 2 * e.cfg.Concurrency, MaxIdleConnsPerHost: 2 * e.cfg.Concurrency,
		IdleConnTimeout: 90 * time.Second, DisableCompression: true,
	}
	e.client = &http.Client{Transport: e.transport, Timeout: time.Minute}
	return nil
}

// startWorker runs a worker for the namespace, with the relay and the
// cancel listener beside it as `kiln worker` does. The returned stop
// drains it; calling stop again does nothing.
func (e *env) startWorker(ctx context.Context) (stop func() error, err error) {
	ctx, cancel := context.WithCancel(ctx)
	mux := worker.NewMux()
	e.jobs.Register(mux)
	// The worker also serves the shared maintenance queue; handle what it
	// may pick up there as `kiln worker` would, rather than failing it.
	worker.RegisterMaintenance(mux, e.log,
		worker.Maintenance{Type: "maintenance:prune_sessions", Spec: "@every 1h", Run: e.identity.PruneSessions},
		worker.Maintenance{Type: "maintenance:prune_idempotency_keys", Spec: "@every 1h", Run: e.idem.Prune},
	)
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() { e.jobs.ListenForCancels(ctx) })
	wg.Go(func() { e.jobs.RunRelay(ctx) })
	wg.Go(func() {
		runErr = worker.Run(ctx, e.cfg.RedisOpt, worker.Config{
			Concurrency: e.cfg.WorkerConcurrency, ShutdownGrace: e.cfg.ShutdownGrace, Queues: jobs.Queues(e.cfg.Namespace),
			PollInterval: e.cfg.PollInterval, RetryDelay: jobs.RetryDelay, OnShutdown: e.jobs.Drain,
		}, e.log, mux)
	})
	var once sync.Once
	stop = func() error {
		once.Do(func() {
			cancel()
			wg.Wait()
		})
		if runErr != nil {
			return fmt.Errorf("bench: worker: %w", runErr)
		}
		return nil
	}
	// Give the server a moment to start its processor before work arrives.
	if err := jobs.Sleep(ctx, 250*time.Millisecond); err != nil {
		return nil, errors.Join(err, stop())
	}
	return stop, nil
}

// resetJobs removes the tenant's jobs and the namespace's queues, so the
// next phase starts empty.
func (e *env) resetJobs(ctx context.Context) error {
	if err := e.deleteQueues(); err != nil {
		return err
	}
	if _, err := e.cfg.DB.Exec(ctx, `DELETE FROM jobs WHERE tenant_id = $1`, e.tenantID); err != nil {
		return fmt.Errorf("bench: delete jobs of the submit phase: %w", err)
	}
	return nil
}

// deleteQueues deletes every Asynq queue of the namespace, raw one included.
func (e *env) deleteQueues() error {
	insp := asynq.NewInspectorFromRedisClient(e.cfg.Redis)
	queues, err := insp.Queues()
	if err != nil {
		return fmt.Errorf("bench: list asynq queues: %w", err)
	}
	var errs []error
	for _, q := range queues {
		if !strings.HasPrefix(q, e.cfg.Namespace+":") {
			continue
		}
		if err := insp.DeleteQueue(q, true); err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			errs = append(errs, fmt.Errorf("bench: delete queue %s: %w", q, err))
		}
	}
	return errors.Join(append(errs, e.deleteQueueStats())...)
}

// deleteQueueStats deletes what DeleteQueue leaves of the namespace's
// queues: Asynq's processed and failed counters.
func (e *env) deleteQueueStats() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pattern := "asynq:{" + globEscape(e.cfg.Namespace) + ":*}:*"
	iter := e.cfg.Redis.Scan(ctx, 0, pattern, 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("bench: list asynq counters: %w", err)
	}
	if len(keys) > 0 {
		if err := e.cfg.Redis.Del(ctx, keys...).Err(); err != nil {
			return fmt.Errorf("bench: delete asynq counters: %w", err)
		}
	}
	return nil
}

// globEscape quotes the characters Redis's MATCH treats as a pattern.
func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`).Replace(s)
}

// close stops the API server and removes the tenant (its jobs, ledger and
// key go with it), its owner, and the namespace's queues.
func (e *env) close(log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	var errs []error
	if e.server != nil {
		if err := e.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("bench: stop api server: %w", err))
		}
		e.transport.CloseIdleConnections()
	}
	log.InfoContext(ctx, "bench cleaning up", "tenant_id", e.tenantID, "namespace", e.cfg.Namespace)
	if e.tenantID != "" {
		if _, err := e.cfg.DB.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, e.tenantID); err != nil {
			errs = append(errs, fmt.Errorf("bench: delete tenant %s: %w", e.tenantID, err))
		}
	}
	if e.userID != "" {
		if _, err := e.cfg.DB.Exec(ctx, `DELETE FROM users WHERE id = $1`, e.userID); err != nil {
			errs = append(errs, fmt.Errorf("bench: delete user %s: %w", e.userID, err))
		}
	}
	errs = append(errs, e.deleteQueues())
	return errors.Join(errs...)
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("bench: random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
