package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
)

// maintenanceUniqueness keeps two schedulers from enqueueing the same
// maintenance task twice within this window.
const maintenanceUniqueness = 5 * time.Minute

// Maintenance is one periodic upkeep job, such as pruning expired sessions.
type Maintenance struct {
	Type string
	Spec string
	Run  func(ctx context.Context) (int64, error)
}

// RegisterMaintenance adds each maintenance job's handler to mux and
// returns the schedule for the scheduler.
func RegisterMaintenance(mux *Mux, log *slog.Logger, jobs ...Maintenance) []Periodic {
	var out []Periodic
	for _, m := range jobs {
		mux.HandleFunc(m.Type, func(ctx context.Context, _ *asynq.Task) error {
			n, err := m.Run(ctx)
			if err != nil {
				return err
			}
			log.InfoContext(ctx, "maintenance done", "type", m.Type, "rows", n)
			return nil
		})
		out = append(out, Periodic{Spec: m.Spec, Type: m.Type})
	}
	return out
}
