package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

// Get returns one of the tenant's jobs. A queued job carries its rough
// queue position.
func (s *Service) Get(ctx context.Context, tenantID, jobID string) (Job, error) {
	j, err := s.scanJob(s.db.QueryRow(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = $1 AND tenant_id = $2`, jobID, tenantID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Job{}, problem.NotFoundf("job")
	}
	if err != nil {
		return Job{}, fmt.Errorf("get job %s: %w", jobID, err)
	}
	if j.Status == StatusQueued {
		s.fillQueuePosition(ctx, &j)
	}
	return j, nil
}

// fillQueuePosition counts the queued jobs of the same or a higher
// priority that were submitted before j: about how many run first.
func (s *Service) fillQueuePosition(ctx context.Context, j *Job) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE status = 'queued'
		AND (priority_rank < (SELECT priority_rank FROM jobs WHERE id = $1) OR (priority = $2 AND id < $1))`, j.ID, j.Priority).Scan(&n)
	if err != nil {
		s.log.WarnContext(ctx, "queue position", "job_id", j.ID, "err", err)
		return
	}
	j.QueuePosition = &n
}

// Wait returns the job once it is final or when wait has passed, whichever
// comes first (the long poll behind Prefer: wait=N).
func (s *Service) Wait(ctx context.Context, tenantID, jobID string, wait time.Duration) (Job, error) {
	j, err := s.Get(ctx, tenantID, jobID)
	if err != nil || j.Status.Final() || wait <= 0 {
		return j, err
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	changed, stop := s.Subscribe(ctx, jobID)
	defer stop()
	poll := time.NewTicker(2 * time.Second) // in case an announcement is lost
	defer poll.Stop()
	waited := func() (Job, error) { return s.Get(context.WithoutCancel(ctx), tenantID, jobID) }
	for {
		// Read again now that the subscription is live, so a change made
		// before it was is not missed.
		j, err = s.Get(ctx, tenantID, jobID)
		switch {
		case ctx.Err() != nil:
			return waited()
		case err != nil || j.Status.Final():
			return j, err
		}
		select {
		case <-ctx.Done():
			return waited()
		case <-changed:
		case <-poll.C:
		}
	}
}

// Filter narrows a job list.
type Filter struct {
	Status        Status
	Kind          string
	SiteID        string
	CreatedAfter  *time.Time
	CreatedBefore *time.Time
}

// List lists the tenant's jobs, newest first.
func (s *Service) List(ctx context.Context, tenantID string, f Filter, page pg.Page) ([]Job, string, error) {
	rows, err := s.db.Query(ctx, `SELECT `+jobCols+` FROM jobs
		WHERE tenant_id = $1 AND ($2 = '' OR id < $2)
		  AND ($3 = '' OR status = $3) AND ($4 = '' OR kind = $4) AND ($5 = '' OR site_id = $5)
		  AND ($6::timestamptz IS NULL OR created_at >= $6) AND ($7::timestamptz IS NULL OR created_at < $7)
		ORDER BY id DESC LIMIT $8`,
		tenantID, page.After, string(f.Status), f.Kind, f.SiteID, f.CreatedAfter, f.CreatedBefore, page.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list jobs: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) { return s.scanJob(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list jobs: %w", err)
	}
	list, next := pg.Trim(list, page, func(j Job) string { return j.ID })
	return list, next, nil
}
