// Package worker is Kiln's background runtime on Asynq: the server that runs
// tasks with Kiln's middleware, the queues and their weights, and the
// scheduler that enqueues periodic maintenance. Job kinds register their
// handlers on a Mux; the worker knows nothing of what they do.
package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
)

// QueueMaintenance carries periodic upkeep tasks; job queues come from the
// jobs package.
const QueueMaintenance = "maintenance"

// Config tunes a worker process.
type Config struct {
	// Concurrency is how many tasks run at once.
	Concurrency int
	// ShutdownGrace is how long running tasks may take to finish on
	// shutdown before they are returned to the queue.
	ShutdownGrace time.Duration
	// Queues are the job queues with their weights; the maintenance queue
	// is added with weight 1.
	Queues map[string]int
	// PollInterval is how long an idle worker waits between looks at empty
	// queues; it bounds how fast a new task starts.
	PollInterval time.Duration
	// RetryDelay is the backoff before a failed task is tried again.
	RetryDelay asynq.RetryDelayFunc
	// OnShutdown, if set, is called when draining begins, before Asynq
	// stops fetching; handlers still running past the grace period are
	// canceled by Asynq and their tasks returned to the queue.
	OnShutdown func()
}

// Mux routes task types to handlers.
type Mux = asynq.ServeMux

// NewMux returns an empty Mux.
func NewMux() *Mux { return asynq.NewServeMux() }

// Run serves tasks from Redis until ctx is done, then stops fetching, lets
// running tasks finish within the grace period, and returns the rest to
// their queues.
func Run(ctx context.Context, redis asynq.RedisConnOpt, cfg Config, log *slog.Logger, mux *Mux) error {
	queues := map[string]int{QueueMaintenance: 1}
	for q, w := range cfg.Queues {
		queues[q] = w
	}
	srv := asynq.NewServer(redis, asynq.Config{
		Concurrency:              cfg.Concurrency,
		Queues:                   queues,
		ShutdownTimeout:          cfg.ShutdownGrace,
		TaskCheckInterval:        cfg.PollInterval,
		DelayedTaskCheckInterval: time.Second,
		RetryDelayFunc:           cfg.RetryDelay,
		Logger:                   asynqLogger{log.With("component", "asynq")},
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			log.WarnContext(ctx, "task failed", "type", t.Type(), "err", err)
		}),
	})
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	log.InfoContext(ctx, "worker started", "concurrency", cfg.Concurrency)
	<-ctx.Done()
	log.Info("worker draining", "grace", cfg.ShutdownGrace.String())
	if cfg.OnShutdown != nil {
		cfg.OnShutdown()
	}
	srv.Shutdown()
	log.Info("worker stopped")
	return nil
}

// AsynqLogger returns an asynq.Logger that sends Asynq's own log lines
// through log.
func AsynqLogger(log *slog.Logger) asynq.Logger { return asynqLogger{log} }

// asynqLogger sends Asynq's own log lines through slog.
type asynqLogger struct{ log *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.log.Debug(fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.log.Info(fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn(fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) { l.log.Error(fmt.Sprint(args...)) }
func (l asynqLogger) Fatal(args ...any) { l.log.Error(fmt.Sprint(args...)) }
