package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// KindPerformance is how one kind's jobs fared over a window: outcomes and
// latency percentiles in seconds.
type KindPerformance struct {
	Kind      string `json:"kind"`
	Succeeded int64  `json:"succeeded"`
	Failed    int64  `json:"failed"`
	Canceled  int64  `json:"canceled"`
	// RunSeconds are p50, p95 and p99 of first start to end.
	RunSeconds Percentiles `json:"run_seconds"`
	// QueueWaitSeconds are p50, p95 and p99 of ready (created, or run_at)
	// to first start.
	QueueWaitSeconds Percentiles `json:"queue_wait_seconds"`
}

// Percentiles are latency percentiles in seconds; nil when no job had one.
type Percentiles struct {
	P50 *float64 `json:"p50"`
	P95 *float64 `json:"p95"`
	P99 *float64 `json:"p99"`
}

// Performance reports, per kind, the jobs created within window that have
// finished, across every tenant (for platform admins).
func (s *Service) Performance(ctx context.Context, window time.Duration) ([]KindPerformance, error) {
	rows, err := s.db.Query(ctx, `SELECT kind,
			count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'failed'),
			count(*) FILTER (WHERE status = 'canceled'),
			percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at))
				FILTER (WHERE started_at IS NOT NULL),
			percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - greatest(created_at, run_at)))
				FILTER (WHERE started_at IS NOT NULL)
		FROM jobs WHERE created_at > now() - $1 * interval '1 millisecond' AND finished_at IS NOT NULL
		GROUP BY kind ORDER BY kind`, window.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("measure job performance: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (KindPerformance, error) {
		var k KindPerformance
		var run, wait []*float64
		if err := r.Scan(&k.Kind, &k.Succeeded, &k.Failed, &k.Canceled, &run, &wait); err != nil {
			return k, err
		}
		k.RunSeconds, k.QueueWaitSeconds = percentiles(run), percentiles(wait)
		return k, nil
	})
}

func percentiles(v []*float64) Percentiles {
	if len(v) != 3 {
		return Percentiles{}
	}
	return Percentiles{P50: v[0], P95: v[1], P99: v[2]}
}

// OpenCounts counts the jobs that are not final, by status, across every
// tenant: what Postgres holds beside what the queues show.
func (s *Service) OpenCounts(ctx context.Context) (map[Status]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT status, count(*) FROM jobs WHERE status IN ('scheduled', 'queued', 'running') GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count open jobs: %w", err)
	}
	out := map[Status]int64{StatusScheduled: 0, StatusQueued: 0, StatusRunning: 0}
	var st Status
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&st, &n}, func() error { out[st] = n; return nil })
	if err != nil {
		return nil, fmt.Errorf("count open jobs: %w", err)
	}
	return out, nil
}
