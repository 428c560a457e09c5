// Package bench measures Kiln's job pipeline against the real Postgres and
// Redis, in one run, beside raw Asynq on the same Redis:
//
//   - API submit throughput and latency: concurrent keep-alive clients POST
//     /api/v1/jobs to an in-process API server while no worker runs;
//   - end-to-end throughput of system.echo: submit through the API with a
//     worker running and wait until Postgres says every job succeeded;
//   - submit-to-start latency on an idle worker: started_at - created_at,
//     both Postgres timestamps, one job at a time;
//   - raw Asynq: client enqueue rate, no-op processing rate, and pickup
//     latency with Asynq's default settings.
//
// Everything runs in a fresh queue namespace for a fresh bench tenant, and
// both are removed at the end. `kiln bench` is the command that runs it.
package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/kilnhq/kiln/internal/ids"
)

// Sizes are how much work each phase does.
type Sizes struct {
	// Submit is how many jobs the submit-throughput phase posts.
	Submit int
	// E2E is how many jobs the end-to-end phase runs.
	E2E int
	// LatencySamples is how many single jobs measure submit-to-start.
	LatencySamples int
	// RawTasks is how many no-op tasks raw Asynq enqueues and processes.
	RawTasks int
	// PickupSamples is how many single tasks measure raw Asynq's pickup
	// latency with its default one-second check interval.
	PickupSamples int
}

// DefaultSizes are the sizes of a full run.
func DefaultSizes() Sizes {
	return Sizes{Submit: 20000, E2E: 10000, LatencySamples: 200, RawTasks: 50000, PickupSamples: 20}
}

// QuickSizes are the sizes of a smoke run.
func QuickSizes() Sizes {
	return Sizes{Submit: 2000, E2E: 1000, LatencySamples: 50, RawTasks: 5000, PickupSamples: 5}
}

// Config is what a run measures and what it runs against.
type Config struct {
	// DB is the Postgres pool, with every migration applied.
	DB *pgxpool.Pool
	// Redis is the client the job engine and the API use.
	Redis *redis.Client
	// RedisOpt is the same Redis for the Asynq servers and client, which
	// open (and close) connections of their own.
	RedisOpt asynq.RedisConnOpt
	// ServiceLog receives the logs of the API, the engine and the worker;
	// nil means the log given to Run.
	ServiceLog *slog.Logger

	Sizes
	// Concurrency is how many HTTP clients (and raw Asynq enqueuers) run
	// at once.
	Concurrency int
	// WorkerConcurrency is how many tasks the Kiln worker and the raw
	// Asynq server run at once.
	WorkerConcurrency int
	// PollInterval is the Kiln worker's check interval on empty queues.
	PollInterval time.Duration
	// RelayInterval is how often the engine's relay and admitter run.
	RelayInterval time.Duration
	// TenantMaxActive is the engine's cap on one tenant's admitted jobs.
	TenantMaxActive int
	// APIKeyCacheTTL is how long the API trusts a resolved API key, as
	// KILN_API_KEY_CACHE_TTL sets it for `kiln api`.
	APIKeyCacheTTL time.Duration
	// ShutdownGrace bounds the worker's drain when the run stops it.
	ShutdownGrace time.Duration
	// Timeout bounds each wait for jobs or tasks to finish.
	Timeout time.Duration
	// Namespace is the queue namespace; empty means "bench" plus a random
	// suffix. The raw Asynq queue is Namespace + ":raw".
	Namespace string
}

// DefaultConfig returns the settings of a full run, without connections.
func DefaultConfig() Config {
	return Config{
		Sizes:             DefaultSizes(),
		Concurrency:       64,
		WorkerConcurrency: 20,
		PollInterval:      10 * time.Millisecond,
		RelayInterval:     time.Second,
		TenantMaxActive:   1000,
		APIKeyCacheTTL:    2 * time.Second,
		ShutdownGrace:     10 * time.Second,
		Timeout:           10 * time.Minute,
	}
}

// withDefaults fills the zero fields of c from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	fill := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	fillDur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	fill(&c.Submit, d.Submit)
	fill(&c.E2E, d.E2E)
	fill(&c.LatencySamples, d.LatencySamples)
	fill(&c.RawTasks, d.RawTasks)
	fill(&c.PickupSamples, d.PickupSamples)
	fill(&c.Concurrency, d.Concurrency)
	fill(&c.WorkerConcurrency, d.WorkerConcurrency)
	fill(&c.TenantMaxActive, d.TenantMaxActive)
	fillDur(&c.PollInterval, d.PollInterval)
	fillDur(&c.RelayInterval, d.RelayInterval)
	fillDur(&c.ShutdownGrace, d.ShutdownGrace)
	fillDur(&c.Timeout, d.Timeout)
	if c.Namespace == "" {
		c.Namespace = "bench" + randomSuffix()
	}
	return c
}

// randomSuffix returns ten random lowercase characters (the random tail
// of a ULID).
func randomSuffix() string {
	id := ids.New("x")
	return id[len(id)-10:]
}

func (c Config) check() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("bench: Config.DB is required"))
	}
	if c.Redis == nil {
		errs = append(errs, errors.New("bench: Config.Redis is required"))
	}
	if c.RedisOpt == nil {
		errs = append(errs, errors.New("bench: Config.RedisOpt is required"))
	}
	return errors.Join(errs...)
}

// Run measures every figure in one run and cleans up after itself: the
// bench tenant is deleted and the namespace's queues are removed, even when
// a phase fails.
func Run(ctx context.Context, cfg Config, log *slog.Logger) (res Result, err error) {
	if err := cfg.check(); err != nil {
		return Result{}, err
	}
	cfg = cfg.withDefaults()
	if cfg.ServiceLog == nil {
		cfg.ServiceLog = log
	}
	res = newResult(cfg)
	log.InfoContext(ctx, "bench starting", "namespace", cfg.Namespace, "num_cpu", res.Machine.NumCPU,
		"gomaxprocs", res.Machine.GOMAXPROCS, "db_max_conns", res.Machine.DBMaxConns)
	env, err := setup(ctx, cfg)
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := env.close(log); cerr != nil {
			err = errors.Join(err, cerr)
		}
		res.Housekeeping = env.house
	}()
	if err := runKiln(ctx, env, &res, log); err != nil {
		return res, err
	}
	if err := runRaw(ctx, env, &res, log); err != nil {
		return res, err
	}
	return res, nil
}

// runKiln measures the three Kiln figures in order: submit with no worker,
// then end-to-end and submit-to-start with the worker running.
func runKiln(ctx context.Context, env *env, res *Result, log *slog.Logger) error {
	log.InfoContext(ctx, "warm-up: submits not measured", "jobs", warmUpJobs)
	if err := env.warmUp(ctx); err != nil {
		return err
	}
	log.InfoContext(ctx, "phase: API submit, no worker", "jobs", env.cfg.Submit, "clients", env.cfg.Concurrency)
	var err error
	if res.Submit, res.SubmitLatency, err = env.measureSubmit(ctx); err != nil {
		return err
	}
	if err := env.resetJobs(ctx); err != nil {
		return err
	}
	stop, err := env.startWorker(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = stop() }() // on an early return; the error path has its own error
	log.InfoContext(ctx, "phase: end-to-end", "jobs", env.cfg.E2E, "worker_concurrency", env.cfg.WorkerConcurrency)
	if res.E2E, err = env.measureE2E(ctx, log); err != nil {
		return err
	}
	log.InfoContext(ctx, "phase: submit-to-start on an idle worker", "samples", env.cfg.LatencySamples)
	if res.SubmitToStart, err = env.measureStartLatency(ctx); err != nil {
		return err
	}
	return stop()
}

// Machine describes where the run happened.
type Machine struct {
	NumCPU     int
	GOMAXPROCS int
	GoVersion  string
	// DBMaxConns is the Postgres pool's size.
	DBMaxConns int32
	// RedisPoolSize is the size of the engine's Redis pool.
	RedisPoolSize int
}

func newResult(cfg Config) Result {
	return Result{
		Machine: Machine{
			NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
			DBMaxConns: cfg.DB.Config().MaxConns, RedisPoolSize: cfg.Redis.Options().PoolSize,
		},
		Namespace:         cfg.Namespace,
		Concurrency:       cfg.Concurrency,
		WorkerConcurrency: cfg.WorkerConcurrency,
		PollInterval:      cfg.PollInterval,
		TenantMaxActive:   cfg.TenantMaxActive,
		APIKeyCacheTTL:    cfg.APIKeyCacheTTL,
	}
}

// waitFor calls done every interval until it reports true, it fails, or
// timeout passes.
func waitFor(ctx context.Context, what string, timeout, interval time.Duration, done func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := done(ctx)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, context.Cause(ctx))
		case <-t.C:
		}
	}
}
