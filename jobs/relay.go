package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/pg"
)

// admitNext lets up to n of the tenant's waiting jobs into Asynq, highest
// priority and oldest first.
func (s *Service) admitNext(ctx context.Context, tenantID string, n int) int {
	rows, err := s.db.Query(ctx, `UPDATE jobs SET admitted_at = now() WHERE id IN (
			SELECT id FROM jobs WHERE tenant_id = $1 AND status = 'queued' AND admitted_at IS NULL
			ORDER BY priority_rank, id LIMIT $2 FOR UPDATE SKIP LOCKED)
		RETURNING `+jobCols, tenantID, n)
	if err != nil {
		s.log.WarnContext(ctx, "admit waiting jobs", "tenant_id", tenantID, "err", err)
		return 0
	}
	admitted, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) { return s.scanJob(r) })
	if err != nil {
		s.log.WarnContext(ctx, "admit waiting jobs", "tenant_id", tenantID, "err", err)
		return 0
	}
	for _, j := range admitted {
		s.enqueue(ctx, j)
	}
	return len(admitted)
}

// RunRelay keeps Asynq in step with Postgres until ctx is done. Every tick
// it makes due scheduled jobs queued, admits waiting work within each
// tenant's cap, and re-enqueues admitted jobs that Asynq may have lost
// (a failed enqueue, a crash after commit, a flushed Redis). One process
// does a tick at a time; any number may run the relay.
func (s *Service) RunRelay(ctx context.Context) {
	t := time.NewTicker(s.cfg.RelayInterval)
	defer t.Stop()
	for {
		if err := s.RelayOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "relay tick failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// relayLockID names the advisory lock that keeps relay ticks one at a time.
const relayLockID = 0x6b696c6e72656c // "kilnrel"

// RelayOnce runs one relay tick; it reports nothing done when another
// process holds the tick.
func (s *Service) RelayOnce(ctx context.Context) error {
	conn, err := s.db.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("relay: acquire connection: %w", err)
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, relayLockID).Scan(&got); err != nil || !got {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, relayLockID)
	if err := s.promoteScheduled(ctx); err != nil {
		return err
	}
	if err := s.admitWaiting(ctx); err != nil {
		return err
	}
	if err := s.wakeDue(ctx); err != nil {
		return err
	}
	return s.reenqueueLost(ctx)
}

// promoteScheduled makes due scheduled jobs queued (not yet admitted).
func (s *Service) promoteScheduled(ctx context.Context) error {
	return pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE jobs SET status = 'queued', updated_at = now()
			WHERE status = 'scheduled' AND run_at <= now() RETURNING id`)
		if err != nil {
			return fmt.Errorf("promote scheduled jobs: %w", err)
		}
		promoted, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("promote scheduled jobs: %w", err)
		}
		for _, id := range promoted {
			if err := addEvent(ctx, tx, id, EventQueued, map[string]any{"status": StatusQueued}); err != nil {
				return err
			}
		}
		return nil
	})
}

// admitWaiting fills each tenant's room with its waiting jobs.
func (s *Service) admitWaiting(ctx context.Context) error {
	rows, err := s.db.Query(ctx, `SELECT w.tenant_id, $1 - coalesce((SELECT active FROM job_slots a WHERE a.tenant_id = w.tenant_id), 0)
		FROM (SELECT DISTINCT tenant_id FROM jobs WHERE status = 'queued' AND admitted_at IS NULL) w`, s.cfg.TenantMaxActive)
	if err != nil {
		return fmt.Errorf("find waiting tenants: %w", err)
	}
	type room struct {
		tenant string
		free   int
	}
	rooms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (room, error) {
		var x room
		err := r.Scan(&x.tenant, &x.free)
		return x, err
	})
	if err != nil {
		return fmt.Errorf("find waiting tenants: %w", err)
	}
	for _, r := range rooms {
		if r.free > 0 {
			s.admitNext(ctx, r.tenant, r.free)
		}
	}
	return nil
}

// reenqueueLost enqueues admitted jobs that have waited long enough that
// Asynq should have run them, and running jobs whose worker stopped beating.
// Asynq refuses a task id it still holds, so this never runs a job twice;
// admitted_at is bumped so each job is looked at once per staleAfter.
func (s *Service) reenqueueLost(ctx context.Context) error {
	const staleAfter = "10 seconds"
	rows, err := s.db.Query(ctx, `UPDATE jobs SET admitted_at = now() WHERE id IN (
			SELECT id FROM jobs WHERE
			  (status = 'queued' AND admitted_at < now() - interval '`+staleAfter+`')
			  OR (status = 'running' AND parked_until IS NULL
			      AND heartbeat_at < now() - interval '1 minute' AND admitted_at < now() - interval '1 minute')
			ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED)
		RETURNING `+jobCols)
	if err != nil {
		return fmt.Errorf("find lost jobs: %w", err)
	}
	lost, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) { return s.scanJob(r) })
	if err != nil {
		return fmt.Errorf("find lost jobs: %w", err)
	}
	for _, j := range lost {
		s.enqueue(ctx, j)
	}
	return nil
}
