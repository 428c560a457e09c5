package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

// cancelChannel is the Redis channel on which cancels of running jobs are
// broadcast to every worker.
func (s *Service) cancelChannel() string { return s.cfg.Namespace + ":cancel" }

// Cancel cancels a job. A scheduled or queued job is canceled at once and
// leaves the queue; a running job's handler has its context canceled on
// whichever worker runs it, and the job ends canceled. Both release the
// job's credits. Canceling a canceled job is a no-op.
func (s *Service) Cancel(ctx context.Context, tenantID, jobID string) (Job, error) {
	var status Status
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT status FROM jobs WHERE id = $1 AND tenant_id = $2 FOR UPDATE`, jobID, tenantID).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return problem.NotFoundf("job")
		}
		if err != nil {
			return fmt.Errorf("read job %s: %w", jobID, err)
		}
		if status == StatusRunning {
			_, err = tx.Exec(ctx, `UPDATE jobs SET cancel_requested = true, updated_at = now() WHERE id = $1`, jobID)
		}
		return err
	})
	if err != nil {
		return Job{}, err
	}
	switch {
	case status == StatusCanceled:
	case status.Final():
		return Job{}, ErrFinal
	case status == StatusRunning:
		if parked, err := s.cancelParked(ctx, tenantID, jobID); err != nil || parked {
			if err != nil {
				return Job{}, err
			}
			break
		}
		if err := s.redis.Publish(ctx, s.cancelChannel(), jobID).Err(); err != nil {
			// The handler still stops at its next delivery or on finishing.
			s.log.WarnContext(ctx, "broadcast cancel", "job_id", jobID, "err", err)
		}
	default:
		if _, err := s.cancelNow(ctx, tenantID, jobID); err != nil {
			return Job{}, err
		}
	}
	s.cancelChildren(ctx, tenantID, jobID)
	return s.Get(ctx, tenantID, jobID)
}

// cancelNow ends a job canceled, releasing its credits, and removes its
// task from the queue. It reports whether this call canceled it.
func (s *Service) cancelNow(ctx context.Context, tenantID, jobID string) (bool, error) {
	j, err := s.Get(ctx, tenantID, jobID)
	if err != nil {
		return false, err
	}
	if j.Status.Final() {
		return false, nil
	}
	if err := s.complete(completion{j: j, status: StatusCanceled}); err != nil {
		return false, fmt.Errorf("cancel job %s: %w", jobID, err)
	}
	s.dropTask(j)
	s.cancelOutside(ctx, j)
	return true, nil
}

// dropTask removes a canceled job's task from Asynq where it is waiting.
// A task that is running, or already gone, is left: its next delivery sees
// the job final and is acknowledged without running.
func (s *Service) dropTask(j Job) {
	insp := asynq.NewInspectorFromRedisClient(s.redis)
	err := insp.DeleteTask(s.Queue(j.Priority), j.ID)
	if err != nil && !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
		s.log.Debug("drop canceled task", "job_id", j.ID, "err", err)
	}
}

// ListenForCancels cancels handlers in this process when a cancel is
// broadcast, until ctx is done. Workers run it.
func (s *Service) ListenForCancels(ctx context.Context) {
	sub := s.redis.Subscribe(ctx, s.cancelChannel())
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-sub.Channel():
			if !ok {
				return
			}
			if s.cancel.cancel(msg.Payload) {
				s.log.InfoContext(ctx, "canceling running job", "job_id", msg.Payload)
			}
		}
	}
}

// Retry submits a failed or canceled job again as a new job that points
// back at it with retry_of.
func (s *Service) Retry(ctx context.Context, tenantID, jobID, by string) (Job, error) {
	j, err := s.Get(ctx, tenantID, jobID)
	if err != nil {
		return Job{}, err
	}
	if j.Status != StatusFailed && j.Status != StatusCanceled {
		return Job{}, ErrNotFinal
	}
	req := SubmitRequest{TenantID: tenantID, CreatedBy: by, Kind: j.Kind, Input: j.Input, Priority: j.Priority,
		WebhookEvents: j.WebhookEvents, Metadata: j.Metadata, RetryOf: j.ID}
	if j.SiteID != nil {
		req.SiteID = *j.SiteID
	}
	if j.Webhook != nil {
		req.Webhook = *j.Webhook
	}
	return s.Submit(ctx, req)
}
