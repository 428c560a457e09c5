package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/kilnhq/kiln/internal/pg"
)

// Event is one entry of a job's history: a status change, progress or a
// log line. Its id orders events and is the SSE event id.
type Event struct {
	ID        int64           `json:"id"`
	JobID     string          `json:"job_id"`
	Type      string          `json:"type"`
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
}

// Event types.
const (
	EventQueued    = "job.queued"
	EventScheduled = "job.scheduled"
	EventStarted   = "job.started"
	EventProgress  = "job.progress"
	EventLog       = "job.log"
	EventRetrying  = "job.retrying"
	EventSucceeded = "job.succeeded"
	EventFailed    = "job.failed"
	EventCanceled  = "job.canceled"
)

// addEvent appends an event to a job's history inside q's transaction.
func addEvent(ctx context.Context, q pg.Querier, jobID, typ string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", typ, err)
	}
	if _, err := q.Exec(ctx, `INSERT INTO job_events (job_id, type, data) VALUES ($1, $2, $3)`, jobID, typ, raw); err != nil {
		return fmt.Errorf("record %s event for %s: %w", typ, jobID, err)
	}
	return nil
}

// Events returns the job's events after the event id after, oldest first.
func (s *Service) Events(ctx context.Context, tenantID, jobID string, after int64) ([]Event, error) {
	rows, err := s.db.Query(ctx, `SELECT e.id, e.job_id, e.type, e.data, e.created_at FROM job_events e
		JOIN jobs j ON j.id = e.job_id
		WHERE e.job_id = $1 AND j.tenant_id = $2 AND e.id > $3 ORDER BY e.id LIMIT 1000`, jobID, tenantID, after)
	if err != nil {
		return nil, fmt.Errorf("list events of %s: %w", jobID, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		err := r.Scan(&e.ID, &e.JobID, &e.Type, &e.Data, &e.CreatedAt)
		return e, err
	})
}

// channel is the Redis channel on which a job's changes are announced.
func (s *Service) channel(jobID string) string { return s.cfg.Namespace + ":job:" + jobID }

// announce tells listeners (long polls, SSE streams) that jobID changed.
// Listeners re-read Postgres, so a lost announcement only delays them.
func (s *Service) announce(ctx context.Context, jobID string) {
	if err := s.redis.Publish(ctx, s.channel(jobID), "changed").Err(); err != nil {
		s.log.WarnContext(ctx, "announce job change", "job_id", jobID, "err", err)
	}
}

// announceAll announces several jobs in one Redis round trip.
func (s *Service) announceAll(ctx context.Context, jobIDs []string) {
	if len(jobIDs) == 0 {
		return
	}
	_, err := s.redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range jobIDs {
			p.Publish(ctx, s.channel(id), "changed")
		}
		return nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "announce job changes", "jobs", len(jobIDs), "err", err)
	}
}

// Subscribe returns a channel that receives a value whenever jobID may have
// changed, and a function to stop listening.
func (s *Service) Subscribe(ctx context.Context, jobID string) (<-chan struct{}, func()) {
	sub := s.redis.Subscribe(ctx, s.channel(jobID))
	// Wait until the subscription is live, so a change made after this
	// returns is never missed.
	if _, err := sub.Receive(ctx); err != nil {
		s.log.WarnContext(ctx, "subscribe to job changes", "job_id", jobID, "err", err)
	}
	out := make(chan struct{}, 1)
	go func() {
		for range sub.Channel() {
			select {
			case out <- struct{}{}:
			default:
			}
		}
		close(out)
	}()
	return out, func() { _ = sub.Close() }
}
