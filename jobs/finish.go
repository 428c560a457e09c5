package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/pg"
)

// finish records the outcome of one attempt and tells Asynq what to do:
// nil to acknowledge, an error to retry, SkipRetry when the job is over.
func (s *Service) finish(ctx context.Context, j Job, result any, usage int64, runErr error) error {
	// The outcome is recorded even if the worker is shutting down.
	ctx = context.WithoutCancel(ctx)
	if errors.Is(runErr, errCanceled) || s.cancelRequested(ctx, j.ID) {
		_, err := s.cancelNow(ctx, j.TenantID, j.ID)
		return err
	}
	if runErr == nil {
		return s.succeed(ctx, j, result, usage)
	}
	f := failureOf(runErr)
	if errors.Is(runErr, errTimeout) {
		f = &Failure{Code: "timeout", Message: fmt.Sprintf("the attempt ran longer than the kind's timeout of %s", j.timeout), Retryable: true}
	}
	if f.Retryable && j.Attempt < j.MaxAttempts {
		return s.retryLater(ctx, j, f)
	}
	return s.finishFailed(ctx, j, f)
}

func (s *Service) cancelRequested(ctx context.Context, jobID string) bool {
	var requested bool
	_ = s.db.QueryRow(ctx, `SELECT cancel_requested FROM jobs WHERE id = $1`, jobID).Scan(&requested)
	return requested
}

func (s *Service) succeed(ctx context.Context, j Job, result any, usage int64) error {
	raw, err := json.Marshal(result)
	if err != nil {
		return s.finishFailed(ctx, j, &Failure{Code: "invalid_result", Message: "the handler's result cannot be encoded as JSON", Err: err})
	}
	err = s.final(ctx, j, StatusSucceeded, EventSucceeded, func(tx pgx.Tx) (int64, error) {
		charged, err := s.settle(ctx, tx, j, usage)
		if err != nil {
			return 0, err
		}
		_, err = tx.Exec(ctx, `UPDATE jobs SET result = $2, progress = 100 WHERE id = $1`, j.ID, raw)
		return charged, err
	})
	if err != nil {
		return fmt.Errorf("record success of %s: %w", j.ID, err)
	}
	return nil
}

// finishFailed ends the job failed. Only a failure that is the caller's
// fault is charged; any other releases the whole reservation.
func (s *Service) finishFailed(ctx context.Context, j Job, f *Failure) error {
	err := s.final(ctx, j, StatusFailed, EventFailed, func(tx pgx.Tx) (int64, error) {
		var charge int64
		if f.Chargeable {
			charge = j.Credits.Reserved
		}
		charged, err := s.settle(ctx, tx, j, charge)
		if err != nil {
			return 0, err
		}
		_, err = tx.Exec(ctx, `UPDATE jobs SET error_code = $2, error_message = $3 WHERE id = $1`, j.ID, f.Code, f.Message)
		return charged, err
	})
	if err != nil {
		return fmt.Errorf("record failure of %s: %w", j.ID, err)
	}
	return fmt.Errorf("job %s failed with %s: %w", j.ID, f.Code, asynq.SkipRetry)
}

// final moves a running job to a final status in one transaction with its
// settlement (done by apply, which returns what was charged) and its event.
// A job that is already final is left alone.
func (s *Service) final(ctx context.Context, j Job, status Status, event string, apply func(tx pgx.Tx) (int64, error)) error {
	done := false
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE jobs SET status = $2, finished_at = now(), updated_at = now()
			WHERE id = $1 AND status NOT IN ('succeeded', 'failed', 'canceled')`, j.ID, status)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		charged, err := apply(tx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE jobs SET credits_charged = $2 WHERE id = $1`, j.ID, charged); err != nil {
			return err
		}
		done = true
		return addEvent(ctx, tx, j.ID, event, map[string]any{"status": status, "credits_charged": charged})
	})
	if err != nil || !done {
		return err
	}
	s.announce(ctx, j.ID)
	s.admitNext(ctx, j.TenantID, 1)
	return nil
}

// retryLater puts the job back in the queue for another attempt; Asynq
// redelivers it after RetryDelay.
func (s *Service) retryLater(ctx context.Context, j Job, f *Failure) error {
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE jobs SET status = 'queued', error_code = $2, error_message = $3, updated_at = now()
			WHERE id = $1 AND status = 'running'`, j.ID, f.Code, f.Message)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return addEvent(ctx, tx, j.ID, EventRetrying, map[string]any{"status": StatusQueued, "attempt": j.Attempt,
			"error": JobError{Code: f.Code, Message: f.Message}})
	})
	if err != nil {
		return fmt.Errorf("record retry of %s: %w", j.ID, err)
	}
	s.announce(ctx, j.ID)
	return fmt.Errorf("attempt %d of job %s failed with %s: %s", j.Attempt, j.ID, f.Code, f.Message)
}

// RetryDelay is the backoff between attempts: exponential from one second,
// capped at ten minutes, with ±25% jitter so retries do not arrive in waves.
func RetryDelay(n int, _ error, _ *asynq.Task) time.Duration {
	d := time.Second << min(n, 10)
	d = min(d, 10*time.Minute)
	jitter := time.Duration(rand.Int64N(int64(d)/2)) - d/4
	return d + jitter
}
