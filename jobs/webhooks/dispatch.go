package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/jobs"
)

// dispatchBatch is how many outbox rows one dispatch takes.
const dispatchBatch = 200

// Run dispatches the outbox and re-enqueues lost delivery tasks until ctx
// is done. Any number of processes may run it: they share the outbox with
// SKIP LOCKED.
func (s *Service) Run(ctx context.Context) {
	tick := time.NewTicker(s.cfg.DispatchInterval)
	defer tick.Stop()
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	for {
		n, err := s.DispatchOnce(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "webhook dispatch failed", "err", err)
		}
		if n == dispatchBatch {
			continue // more waiting
		}
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
			if err := s.RecoverLost(ctx, time.Minute); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "webhook recovery sweep failed", "err", err)
			}
		case <-tick.C:
		}
	}
}

// event is a job event waiting in the outbox, with what routing needs.
type event struct {
	id                   int64
	jobID, tenantID, typ string
	at                   time.Time
	webhook              *string
	filter               []string
}

// target is where one delivery goes.
type target struct {
	endpointID *string
	url        string
}

// DispatchOnce turns up to a batch of outbox rows into deliveries, one per
// target, in one transaction, then enqueues their first attempts. It
// returns how many outbox rows it took.
func (s *Service) DispatchOnce(ctx context.Context) (int, error) {
	var created []string
	var taken int
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		events, err := takeOutbox(ctx, tx)
		if err != nil {
			return err
		}
		taken = len(events)
		endpoints := map[string][]Endpoint{}
		for _, e := range events {
			ids, err := s.deliver(ctx, tx, e, endpoints)
			if err != nil {
				return err
			}
			created = append(created, ids...)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("dispatch webhook outbox: %w", err)
	}
	for _, id := range created {
		s.enqueue(ctx, id, 1, time.Time{})
	}
	return taken, nil
}

// takeOutbox removes a batch of outbox rows and returns their events.
func takeOutbox(ctx context.Context, tx pgx.Tx) ([]event, error) {
	rows, err := tx.Query(ctx, `WITH taken AS (
			DELETE FROM webhook_outbox WHERE event_id IN (
				SELECT event_id FROM webhook_outbox ORDER BY event_id LIMIT $1 FOR UPDATE SKIP LOCKED)
			RETURNING event_id)
		SELECT e.id, e.job_id, j.tenant_id, e.type, e.created_at, j.webhook, j.webhook_events
		FROM taken t JOIN job_events e ON e.id = t.event_id JOIN jobs j ON j.id = e.job_id ORDER BY e.id`, dispatchBatch)
	if err != nil {
		return nil, fmt.Errorf("take outbox: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (event, error) {
		var e event
		err := r.Scan(&e.id, &e.jobID, &e.tenantID, &e.typ, &e.at, &e.webhook, &e.filter)
		return e, err
	})
}

// deliver creates the deliveries of one event and returns their ids.
func (s *Service) deliver(ctx context.Context, tx pgx.Tx, e event, cache map[string][]Endpoint) ([]string, error) {
	targets, err := s.targets(ctx, tx, e, cache)
	if err != nil || len(targets) == 0 {
		return nil, err
	}
	j, err := s.jobs.Get(ctx, e.tenantID, e.jobID)
	if err != nil {
		return nil, fmt.Errorf("read job %s for its webhook: %w", e.jobID, err)
	}
	payload, err := json.Marshal(Message{Type: e.typ, Timestamp: e.at, Data: j})
	if err != nil {
		return nil, fmt.Errorf("encode webhook of %s: %w", e.jobID, err)
	}
	var out []string
	for _, t := range targets {
		if e.typ == jobs.EventProgress && s.recentProgress(ctx, tx, e.jobID, t) {
			continue
		}
		var id string
		err := tx.QueryRow(ctx, `INSERT INTO webhook_deliveries (id, tenant_id, job_id, endpoint_id, event_id, url, event_type,
				message_id, payload, status, next_attempt_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', now())
			ON CONFLICT (event_id, coalesce(endpoint_id, '')) WHERE redelivery_of IS NULL DO NOTHING RETURNING id`,
			ids.New("whd"), e.tenantID, e.jobID, t.endpointID, e.id, t.url, e.typ, ids.New("msg"), payload).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // delivered before
		}
		if err != nil {
			return nil, fmt.Errorf("record delivery of event %d: %w", e.id, err)
		}
		out = append(out, id)
	}
	return out, nil
}

// Message is the body of every delivery (CONVENTIONS.md section 4).
type Message struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      jobs.Job  `json:"data"`
}

// targets are where an event goes: the job's own webhook when its filter
// asks for the event (final events always), and each enabled endpoint of
// the tenant subscribed to the event type.
func (s *Service) targets(ctx context.Context, tx pgx.Tx, e event, cache map[string][]Endpoint) ([]target, error) {
	var out []target
	if e.webhook != nil && jobWants(e.filter, e.typ) {
		out = append(out, target{url: *e.webhook})
	}
	eps, ok := cache[e.tenantID]
	if !ok {
		rows, err := tx.Query(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE tenant_id = $1 AND enabled`, e.tenantID)
		if err != nil {
			return nil, fmt.Errorf("read endpoints of %s: %w", e.tenantID, err)
		}
		if eps, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Endpoint, error) { return scanEndpoint(r) }); err != nil {
			return nil, fmt.Errorf("read endpoints of %s: %w", e.tenantID, err)
		}
		cache[e.tenantID] = eps
	}
	for _, ep := range eps {
		if len(ep.EventTypes) == 0 || slices.Contains(ep.EventTypes, e.typ) {
			out = append(out, target{endpointID: &ep.ID, url: ep.URL})
		}
	}
	return out, nil
}

// jobWants applies a job's webhook_events filter (start, progress,
// completed; empty means all). Final events are always sent.
func jobWants(filter []string, typ string) bool {
	switch typ {
	case jobs.EventSucceeded, jobs.EventFailed, jobs.EventCanceled:
		return true
	case jobs.EventStarted:
		return len(filter) == 0 || slices.Contains(filter, "start")
	case jobs.EventProgress:
		return len(filter) == 0 || slices.Contains(filter, "progress")
	}
	return false
}

// recentProgress reports whether the target got a progress delivery of
// the job within ProgressEvery, so this one is skipped.
func (s *Service) recentProgress(ctx context.Context, tx pgx.Tx, jobID string, t target) bool {
	var recent bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE job_id = $1
			AND coalesce(endpoint_id, '') = coalesce($2, '') AND event_type = 'job.progress'
			AND created_at > now() - $3 * interval '1 millisecond')`, jobID, t.endpointID, s.cfg.ProgressEvery.Milliseconds()).Scan(&recent)
	if err != nil {
		s.log.WarnContext(ctx, "webhook progress throttle", "job_id", jobID, "err", err)
	}
	return recent
}

// enqueue schedules attempt n of a delivery, at once when at is zero. The
// task id names the delivery and attempt, so a second enqueue of the same
// attempt (the recovery sweep's) is refused. Failure is logged: the sweep
// enqueues what is missing.
func (s *Service) enqueue(ctx context.Context, deliveryID string, n int, at time.Time) {
	payload, _ := json.Marshal(taskPayload{DeliveryID: deliveryID, Attempt: n})
	opts := []asynq.Option{asynq.TaskID(fmt.Sprintf("%s:%d", deliveryID, n)), asynq.Queue(Queue(s.cfg.Namespace)),
		asynq.MaxRetry(3), asynq.Timeout(s.cfg.AttemptTimeout + 30*time.Second)}
	if !at.IsZero() {
		// Asynq keeps schedules in whole seconds, rounding down; round up
		// instead, so a Retry-After is never cut short.
		if frac := at.Sub(at.Truncate(time.Second)); frac > 0 {
			at = at.Add(time.Second - frac)
		}
		opts = append(opts, asynq.ProcessAt(at))
	}
	_, err := s.queue.EnqueueContext(ctx, asynq.NewTask(TaskType, payload), opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		s.log.WarnContext(ctx, "enqueue webhook delivery; the sweep will retry", "delivery_id", deliveryID, "attempt", n, "err", err)
	}
}

// taskPayload is what a delivery task carries: ids only.
type taskPayload struct {
	DeliveryID string `json:"delivery_id"`
	Attempt    int    `json:"attempt"`
}

// RecoverLost enqueues the next attempt of every pending delivery that
// has been due for longer than grace: its task was lost (a failed
// enqueue, a crash, a flushed Redis). Attempts still queued are refused
// as duplicates by their task ids.
func (s *Service) RecoverLost(ctx context.Context, grace time.Duration) error {
	rows, err := s.db.Query(ctx, `SELECT id, attempts FROM webhook_deliveries
		WHERE status = 'pending' AND next_attempt_at < now() - $1 * interval '1 millisecond'
		ORDER BY next_attempt_at LIMIT 1000`, grace.Milliseconds())
	if err != nil {
		return fmt.Errorf("find lost deliveries: %w", err)
	}
	var id string
	var attempts int
	lost := map[string]int{}
	if _, err := pgx.ForEachRow(rows, []any{&id, &attempts}, func() error { lost[id] = attempts; return nil }); err != nil {
		return fmt.Errorf("find lost deliveries: %w", err)
	}
	for id, attempts := range lost {
		s.enqueue(ctx, id, attempts+1, time.Time{})
	}
	return nil
}
