// Package webhooks delivers job events to the URLs tenants give Kiln: a
// job's own webhook (signed with the tenant's signing secret) and the
// tenant's standing endpoints (each with its own whsec_ secret). It follows
// Standard Webhooks and CONVENTIONS.md section 4.
//
// Job events reach it through an outbox that a trigger on job_events fills
// in the event's own transaction. The dispatcher turns outbox rows into
// deliveries, one per target; each delivery attempt is an Asynq task of its
// own, sent through the egress client, logged, and retried on a fixed
// schedule for about three days. It owns the tables in its migrations
// folder.
package webhooks

import (
	"embed"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/kilnhq/kiln/egress"
	"github.com/kilnhq/kiln/internal/metrics"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/jobs"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the package's migration files for pg.NewMigrator.
func Migrations() pg.Source {
	return pg.Source{Owner: "webhooks", FS: migrations, Dir: "migrations"}
}

// TaskType is the Asynq task type of one delivery attempt.
const TaskType = "webhook:deliver"

// Queue returns the Asynq queue deliveries run on in namespace ns.
func Queue(ns string) string {
	if ns == "" {
		return "webhooks"
	}
	return ns + ":webhooks"
}

// DefaultSchedule is the wait before each retry: the first attempt is at
// once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h.
var DefaultSchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
}

// Config tunes delivery.
type Config struct {
	// Namespace prefixes the delivery queue, as the job queues.
	Namespace string
	// Schedule is the wait before each retry; its length is the number of
	// retries. Default DefaultSchedule.
	Schedule []time.Duration
	// AttemptTimeout bounds one attempt. Default 15 s.
	AttemptTimeout time.Duration
	// SecretOverlap is how long a rotated secret keeps signing. Default 24 h.
	SecretOverlap time.Duration
	// DisableAfter is how long an endpoint may fail in a row before it is
	// disabled. Default 72 h.
	DisableAfter time.Duration
	// DispatchInterval is how often the dispatcher looks at the outbox.
	// Default 250 ms.
	DispatchInterval time.Duration
	// ProgressEvery is the least time between two job.progress deliveries
	// of one job to one target. Default 2 s.
	ProgressEvery time.Duration
	// Egress is the outbound client settings; redirects are never followed.
	Egress egress.Config
	// Metrics counts deliveries by outcome; nil gives a private registry.
	Metrics *metrics.Metrics
}

func (c *Config) defaults() {
	if c.Schedule == nil {
		c.Schedule = DefaultSchedule
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = 15 * time.Second
	}
	if c.SecretOverlap <= 0 {
		c.SecretOverlap = 24 * time.Hour
	}
	if c.DisableAfter <= 0 {
		c.DisableAfter = 72 * time.Hour
	}
	if c.DispatchInterval <= 0 {
		c.DispatchInterval = 250 * time.Millisecond
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 2 * time.Second
	}
	if c.Metrics == nil {
		c.Metrics = metrics.New()
	}
	c.Egress.NoRedirects = true
	c.Egress.Timeout = c.AttemptTimeout
	if c.Egress.MaxBodyBytes <= 0 {
		c.Egress.MaxBodyBytes = 64 << 10
	}
}

// Service manages endpoints and secrets and delivers events.
type Service struct {
	cfg    Config
	db     *pgxpool.Pool
	queue  *asynq.Client
	jobs   *jobs.Service
	client *egress.Client
	log    *slog.Logger
}

// New returns the webhook service.
func New(db *pgxpool.Pool, rdb *redis.Client, engine *jobs.Service, log *slog.Logger, cfg Config) *Service {
	cfg.defaults()
	return &Service{cfg: cfg, db: db, queue: asynq.NewClientFromRedisClient(rdb), jobs: engine,
		client: egress.New(cfg.Egress), log: log}
}

// Egress returns the outbound client, for checking URLs before accepting
// them.
func (s *Service) Egress() *egress.Client { return s.client }

// delay is the wait before retry number n (1-based), with ±10% jitter.
func (s *Service) delay(n int) time.Duration {
	d := s.cfg.Schedule[min(n, len(s.cfg.Schedule))-1]
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}
