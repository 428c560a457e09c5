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
// nil to acknowledge, an error to retry, SkipRetry when the job is over. A
// cancel requested meanwhile wins over any outcome: the job ends canceled.
func (s *Service) finish(ctx context.Context, j Job, result any, usage int64, runErr error) error {
	// The outcome is recorded even if the worker is shutting down.
	ctx = context.WithoutCancel(ctx)
	if errors.Is(runErr, errCanceled) {
		err := s.complete(completion{j: j, status: StatusCanceled})
		s.cancelOutside(ctx, j)
		return err
	}
	if errors.Is(runErr, errGivenBack) {
		return runErr // Asynq has requeued the task; nothing to record
	}
	var await *awaiting
	if errors.As(runErr, &await) {
		return s.park(ctx, j, await)
	}
	if runErr == nil {
		raw, err := json.Marshal(result)
		if err != nil {
			return s.finishFailed(j, &Failure{Code: "invalid_result", Message: "the handler's result cannot be encoded as JSON", Err: err})
		}
		if err := s.complete(completion{j: j, status: StatusSucceeded, result: raw, charge: usage}); err != nil {
			return fmt.Errorf("record success of %s: %w", j.ID, err)
		}
		return nil
	}
	f := failureOf(runErr)
	if errors.Is(runErr, errTimeout) {
		f = &Failure{Code: "timeout", Message: fmt.Sprintf("the attempt ran longer than the kind's timeout of %s", j.timeout), Retryable: true}
	}
	if f.Retryable && j.Attempt < j.MaxAttempts {
		return s.retryLater(ctx, j, f)
	}
	return s.finishFailed(j, f)
}

// finishFailed ends the job failed. Only a failure that is the caller's
// fault is charged; any other releases the whole reservation.
func (s *Service) finishFailed(j Job, f *Failure) error {
	var charge int64
	if f.Chargeable {
		charge = j.Credits.Reserved
	}
	if err := s.complete(completion{j: j, status: StatusFailed, code: f.Code, message: f.Message, charge: charge}); err != nil {
		return fmt.Errorf("record failure of %s: %w", j.ID, err)
	}
	return fmt.Errorf("job %s failed with %s: %w", j.ID, f.Code, asynq.SkipRetry)
}

// retryLater puts the job back in the queue for another attempt; Asynq
// redelivers it after RetryDelay. A job whose cancel was requested is ended
// instead.
func (s *Service) retryLater(ctx context.Context, j Job, f *Failure) error {
	requeued := false
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE jobs SET status = 'queued', error_code = $2, error_message = $3, updated_at = now()
			WHERE id = $1 AND status = 'running' AND NOT cancel_requested`, j.ID, f.Code, f.Message)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		requeued = true
		return addEvent(ctx, tx, j.ID, EventRetrying, map[string]any{"status": StatusQueued, "attempt": j.Attempt,
			"error": JobError{Code: f.Code, Message: f.Message}})
	})
	if err != nil {
		return fmt.Errorf("record retry of %s: %w", j.ID, err)
	}
	if !requeued {
		return s.finishFailed(j, f) // canceled meanwhile (or already final): end it
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
