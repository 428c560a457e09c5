// Package jobs is Kiln's engine: job kinds and their registry, submission
// (one Postgres transaction: job row, credit reservation, first event), the
// lifecycle a worker drives (running, progress, retries, success, failure,
// cancel), fair admission into Asynq, the relay that re-enqueues what Redis
// lost, credits and their ledger, and each job's event history. Postgres is
// the source of truth; Asynq only carries job ids. It owns the tables in its
// migrations folder.
package jobs

import (
	"context"
	"embed"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/kilnhq/kiln/internal/metrics"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the package's migration files for pg.NewMigrator.
func Migrations() pg.Source {
	return pg.Source{Owner: "jobs", FS: migrations, Dir: "migrations"}
}

// Config tunes the engine.
type Config struct {
	// Namespace prefixes queue names and Redis channels, so several Kiln
	// installations (or parallel tests) can share one Redis.
	Namespace string
	// PublicURL is the base of the urls in a job.
	PublicURL string
	// SignupCredits are granted to every new tenant.
	SignupCredits int64
	// TenantMaxActive caps how many of one tenant's jobs are admitted into
	// Asynq at once; the rest wait in Postgres, so one tenant's backlog
	// cannot starve another's.
	TenantMaxActive int
	// RelayInterval is how often the relay and admitter run.
	RelayInterval time.Duration
	// Metrics records submissions, outcomes, run times and credits; nil
	// gives the engine a registry of its own that nothing serves.
	Metrics *metrics.Metrics
	// CheckWebhook, when set, vets a job's webhook URL at submit (the
	// egress rules); its error's text is the field error. It runs only
	// when every other field is valid.
	CheckWebhook func(ctx context.Context, url string) error
}

// Service is the job engine.
type Service struct {
	db     *pgxpool.Pool
	redis  *redis.Client
	queue  *asynq.Client
	log    *slog.Logger
	cfg    Config
	kinds  *Registry
	cancel *cancels
	// draining is set when this process's worker shuts down: a handler
	// whose context Asynq cancels then is being given back, not canceled.
	draining atomic.Bool

	submits     *grouper[prepared, submitResult]
	starts      *grouper[string, startResult]
	completions *grouper[completion, error]
}

// New returns the engine over db and Redis, running kinds.
func New(db *pgxpool.Pool, rdb *redis.Client, log *slog.Logger, cfg Config, kinds *Registry) *Service {
	if cfg.TenantMaxActive <= 0 {
		cfg.TenantMaxActive = 100
	}
	if cfg.RelayInterval <= 0 {
		cfg.RelayInterval = time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	s := &Service{
		db: db, redis: rdb, log: log, cfg: cfg, kinds: kinds,
		queue:  asynq.NewClientFromRedisClient(rdb),
		cancel: newCancels(),
	}
	s.submits = newGrouper(1, 500, s.insertBatch)
	s.starts = newGrouper(2, 500, s.startBatch)
	s.completions = newGrouper(1, 500, s.completeBatch)
	return s
}

// Drain tells the engine that this process's worker is shutting down, so
// handlers that Asynq stops after the grace period leave their jobs to run
// again rather than ending them canceled.
func (s *Service) Drain() { s.draining.Store(true) }

// Kinds returns the registry of job kinds.
func (s *Service) Kinds() *Registry { return s.kinds }

// Queue returns the Asynq queue name for a priority in this namespace.
func (s *Service) Queue(p Priority) string { return QueueName(s.cfg.Namespace, p) }

// QueueName returns the Asynq queue for priority p in namespace ns.
func QueueName(ns string, p Priority) string {
	if ns == "" {
		return string(p)
	}
	return ns + ":" + string(p)
}

// Queues returns every queue of namespace ns with its weight: a worker takes
// from high six times as often as from low, and never starves low.
func Queues(ns string) map[string]int {
	return map[string]int{QueueName(ns, PriorityHigh): 6, QueueName(ns, PriorityNormal): 3, QueueName(ns, PriorityLow): 1}
}

// Problems callers branch on.
var (
	ErrNotFinal = problem.New(problem.Conflict, "job_not_retryable", "only a failed or canceled job can be retried")
	ErrFinal    = problem.New(problem.Conflict, "job_final", "the job has already finished and cannot be canceled")
)
