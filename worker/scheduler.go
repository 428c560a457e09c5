package worker

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hibiken/asynq"
)

// Periodic is a task the scheduler enqueues on a cron schedule.
type Periodic struct {
	// Spec is a cron spec ("@every 1h", "*/5 * * * *").
	Spec string
	// Type is the task type a handler is registered for.
	Type string
}

// RunScheduler enqueues each periodic task on its schedule until ctx is
// done. An enqueue is refused while the same task type was enqueued in the
// last five minutes, so several schedulers can run side by side without
// doubling the work (schedules are hourly or slower).
func RunScheduler(ctx context.Context, redis asynq.RedisConnOpt, log *slog.Logger, tasks []Periodic) error {
	s := asynq.NewScheduler(redis, &asynq.SchedulerOpts{Logger: asynqLogger{log.With("component", "asynq-scheduler")}})
	for _, p := range tasks {
		_, err := s.Register(p.Spec, asynq.NewTask(p.Type, nil),
			asynq.Queue(QueueMaintenance), asynq.Unique(maintenanceUniqueness), asynq.MaxRetry(3))
		if err != nil {
			return fmt.Errorf("schedule %s at %q: %w", p.Type, p.Spec, err)
		}
	}
	if err := s.Start(); err != nil {
		return fmt.Errorf("start scheduler: %w", err)
	}
	log.InfoContext(ctx, "scheduler started", "tasks", len(tasks))
	<-ctx.Done()
	s.Shutdown()
	log.Info("scheduler stopped")
	return nil
}
