package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/pg"
)

// Parking: a handler whose work goes on outside Kiln (a provider's queue,
// its child jobs) returns Await. Its job stays running but holds no worker
// and does not count against its tenant's cap; it runs again from the top,
// in the same attempt, when Wake is called, a child finishes, or the wait
// passes. The handler keeps what it needs to pick up again in its own
// tables, keyed by the job id.

// MaxAwait bounds one wait; a handler that asks for more waits this long.
const MaxAwait = time.Hour

// awaiting is the error Await returns.
type awaiting struct{ after time.Duration }

func (a *awaiting) Error() string { return fmt.Sprintf("job parked for up to %s", a.after) }

// Await parks the job: return it from a handler to be run again after at
// most after (between 100 ms and MaxAwait), or sooner on Wake.
func Await(after time.Duration) error {
	return &awaiting{after: min(max(after, 100*time.Millisecond), MaxAwait)}
}

// park records that the job waits, unless a cancel was requested meanwhile,
// in which case it ends canceled.
func (s *Service) park(ctx context.Context, j Job, a *awaiting) error {
	parked := false
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE jobs SET parked_until = CASE WHEN wake_pending THEN now() ELSE now() + $2::interval END,
				wake_pending = false, updated_at = now()
			WHERE id = $1 AND status = 'running' AND NOT cancel_requested`, j.ID, a.after)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		parked = true
		return addEvent(ctx, tx, j.ID, EventLog, map[string]any{"level": "info",
			"message": fmt.Sprintf("waiting for outside work; checking again within %s", a.after.Round(time.Millisecond))})
	})
	if err != nil {
		return fmt.Errorf("park job %s: %w", j.ID, err)
	}
	if !parked {
		if err := s.complete(completion{j: j, status: StatusCanceled}); err != nil {
			return err
		}
		s.cancelOutside(ctx, j)
		return nil
	}
	s.announce(ctx, j.ID)
	return nil
}

// Wake runs a parked job again now (a provider called back, say). A job
// whose handler is running is woken as soon as it parks; a job that is not
// running is left. One statement decides, so a wake racing a park is never
// lost. It reports whether it woke a parked job.
func (s *Service) Wake(ctx context.Context, jobID string) (bool, error) {
	rows, err := s.db.Query(ctx, `UPDATE jobs SET wake_pending = parked_until IS NULL,
			resumed = resumed OR parked_until IS NOT NULL,
			admitted_at = CASE WHEN parked_until IS NOT NULL THEN now() ELSE admitted_at END,
			parked_until = NULL, updated_at = now()
		WHERE id = $1 AND status = 'running' RETURNING `+jobCols+`, NOT wake_pending`, jobID)
	if err != nil {
		return false, fmt.Errorf("wake job %s: %w", jobID, err)
	}
	woken := false
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) {
		j, err := s.scanJob(extraColumn{row: r, dest: &woken})
		return j, err
	})
	if err != nil {
		return false, fmt.Errorf("wake job %s: %w", jobID, err)
	}
	for _, j := range jobs {
		if woken {
			s.resume(ctx, j)
		}
	}
	return woken, nil
}

// resume enqueues a woken job. Its previous task may not be acknowledged
// yet (the handler has only just parked), so a refused task id is tried
// again for a few seconds; the relay's sweep is the backstop.
func (s *Service) resume(ctx context.Context, j Job) {
	err := s.enqueueTask(ctx, j)
	if err == nil {
		return
	}
	if !errors.Is(err, asynq.ErrTaskIDConflict) {
		s.log.WarnContext(ctx, "resume a parked job: enqueue failed; the relay will enqueue it", "job_id", j.ID, "err", err)
		return
	}
	go func() {
		ctx := context.WithoutCancel(ctx)
		for range 40 {
			time.Sleep(50 * time.Millisecond)
			if err := s.enqueueTask(ctx, j); !errors.Is(err, asynq.ErrTaskIDConflict) {
				return
			}
		}
		s.log.WarnContext(ctx, "resumed job's task id still taken; the relay will enqueue it", "job_id", j.ID)
	}()
}

// wakeDue runs again the parked jobs whose wait has passed (a relay step).
func (s *Service) wakeDue(ctx context.Context) error {
	rows, err := s.db.Query(ctx, `UPDATE jobs SET parked_until = NULL, resumed = true, admitted_at = now(), updated_at = now()
		WHERE id IN (SELECT id FROM jobs WHERE parked_until <= now() AND status = 'running'
			ORDER BY parked_until LIMIT 1000 FOR UPDATE SKIP LOCKED)
		RETURNING `+jobCols)
	if err != nil {
		return fmt.Errorf("wake parked jobs: %w", err)
	}
	due, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) { return s.scanJob(r) })
	if err != nil {
		return fmt.Errorf("wake parked jobs: %w", err)
	}
	for _, j := range due {
		s.resume(ctx, j)
	}
	return nil
}

// wakeParents wakes the parked parents of jobs that just finished.
func (s *Service) wakeParents(ctx context.Context, ids []string) {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT parent_id FROM jobs WHERE id = ANY($1) AND parent_id IS NOT NULL`, ids)
	if err != nil {
		s.log.WarnContext(ctx, "find parents of finished jobs", "err", err)
		return
	}
	parents, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		s.log.WarnContext(ctx, "find parents of finished jobs", "err", err)
		return
	}
	for _, id := range parents {
		if _, err := s.Wake(ctx, id); err != nil {
			// The relay wakes it when its wait passes.
			s.log.WarnContext(ctx, "wake parent job", "job_id", id, "err", err)
		}
	}
}

// cancelParked ends a parked job canceled and lets its kind cancel the
// work outside. It reports whether the job was parked.
func (s *Service) cancelParked(ctx context.Context, tenantID, jobID string) (bool, error) {
	var parked bool
	err := s.db.QueryRow(ctx, `SELECT parked_until IS NOT NULL FROM jobs WHERE id = $1 AND tenant_id = $2 AND status = 'running'`,
		jobID, tenantID).Scan(&parked)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !parked) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read job %s: %w", jobID, err)
	}
	if _, err := s.cancelNow(ctx, tenantID, jobID); err != nil {
		return true, err
	}
	return true, nil
}

// cancelOutside lets a canceled job's kind cancel its work outside Kiln.
func (s *Service) cancelOutside(ctx context.Context, j Job) {
	k, ok := s.kinds.Get(j.Kind)
	if !ok || k.OnCancel == nil {
		return
	}
	if err := k.OnCancel(context.WithoutCancel(ctx), j); err != nil {
		s.log.WarnContext(ctx, "cancel outside work of a canceled job", "job_id", j.ID, "kind", j.Kind, "err", err)
	}
}
