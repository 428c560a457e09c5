package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

// Delivery is one message to one target, and how its attempts went.
type Delivery struct {
	ID            string          `json:"id"`
	JobID         *string         `json:"job_id"`
	EndpointID    *string         `json:"endpoint_id"`
	URL           string          `json:"url"`
	EventType     string          `json:"event_type"`
	MessageID     string          `json:"message_id"`
	Status        string          `json:"status"`
	Attempts      int             `json:"attempts"`
	NextAttemptAt *time.Time      `json:"next_attempt_at"`
	LastStatus    *int            `json:"last_status"`
	LastError     *string         `json:"last_error"`
	RedeliveryOf  *string         `json:"redelivery_of"`
	Payload       json.RawMessage `json:"payload,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	CompletedAt   *time.Time      `json:"completed_at"`
	// AttemptLog lists every attempt; only a single delivery's read has it.
	AttemptLog []Attempt `json:"attempt_log,omitempty"`
}

// Attempt is one try at a delivery.
type Attempt struct {
	Attempt         int       `json:"attempt"`
	StatusCode      *int      `json:"status_code"`
	Error           *string   `json:"error"`
	LatencyMS       int       `json:"latency_ms"`
	ResponseExcerpt string    `json:"response_excerpt"`
	At              time.Time `json:"at"`
}

const deliveryCols = `id, job_id, endpoint_id, url, event_type, message_id, status, attempts, next_attempt_at,
	last_status, last_error, redelivery_of, created_at, updated_at, completed_at`

func scanDelivery(row pgx.Row) (Delivery, error) {
	var d Delivery
	err := row.Scan(&d.ID, &d.JobID, &d.EndpointID, &d.URL, &d.EventType, &d.MessageID, &d.Status, &d.Attempts,
		&d.NextAttemptAt, &d.LastStatus, &d.LastError, &d.RedeliveryOf, &d.CreatedAt, &d.UpdatedAt, &d.CompletedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, problem.NotFoundf("webhook_delivery")
	}
	return d, err
}

// JobDeliveries lists the deliveries of one of the tenant's jobs.
func (s *Service) JobDeliveries(ctx context.Context, tenantID, jobID string, page pg.Page) ([]Delivery, string, error) {
	if _, err := s.jobs.Get(ctx, tenantID, jobID); err != nil {
		return nil, "", err
	}
	return s.listDeliveries(ctx, `job_id = $2`, tenantID, jobID, page)
}

// EndpointDeliveries lists the deliveries to one of the tenant's endpoints.
func (s *Service) EndpointDeliveries(ctx context.Context, tenantID, endpointID string, page pg.Page) ([]Delivery, string, error) {
	if _, err := s.GetEndpoint(ctx, tenantID, endpointID); err != nil {
		return nil, "", err
	}
	return s.listDeliveries(ctx, `endpoint_id = $2`, tenantID, endpointID, page)
}

func (s *Service) listDeliveries(ctx context.Context, where, tenantID, id string, page pg.Page) ([]Delivery, string, error) {
	rows, err := s.db.Query(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries
		WHERE tenant_id = $1 AND `+where+` AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4`,
		tenantID, id, page.After, page.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list webhook deliveries: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list webhook deliveries: %w", err)
	}
	list, next := pg.Trim(list, page, func(d Delivery) string { return d.ID })
	return list, next, nil
}

// GetDelivery returns one of the tenant's deliveries with its payload and
// every attempt.
func (s *Service) GetDelivery(ctx context.Context, tenantID, id string) (Delivery, error) {
	d, err := scanDelivery(s.db.QueryRow(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE id = $1 AND tenant_id = $2`, id, tenantID))
	if err != nil {
		return d, err
	}
	if err := s.db.QueryRow(ctx, `SELECT payload FROM webhook_deliveries WHERE id = $1`, id).Scan(&d.Payload); err != nil {
		return d, fmt.Errorf("read payload of %s: %w", id, err)
	}
	rows, err := s.db.Query(ctx, `SELECT attempt, status_code, error, latency_ms, response_excerpt, created_at
		FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id`, id)
	if err != nil {
		return d, fmt.Errorf("read attempts of %s: %w", id, err)
	}
	d.AttemptLog, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Attempt, error) {
		var a Attempt
		err := r.Scan(&a.Attempt, &a.StatusCode, &a.Error, &a.LatencyMS, &a.ResponseExcerpt, &a.At)
		return a, err
	})
	if err != nil {
		return d, fmt.Errorf("read attempts of %s: %w", id, err)
	}
	return d, nil
}

// ErrEndpointDisabled refuses to redeliver to a disabled endpoint.
var ErrEndpointDisabled = problem.New(problem.Conflict, "webhook_endpoint_disabled",
	"the delivery's endpoint is disabled; enable it with PATCH /api/v1/webhooks/{id} first")

// Redeliver sends a delivery's message again, as a new delivery with the
// same webhook-id and body, starting a fresh schedule.
func (s *Service) Redeliver(ctx context.Context, tenantID, id string) (Delivery, error) {
	old, err := s.GetDelivery(ctx, tenantID, id)
	if err != nil {
		return Delivery{}, err
	}
	if old.EndpointID != nil {
		ep, err := s.GetEndpoint(ctx, tenantID, *old.EndpointID)
		if err != nil {
			return Delivery{}, err
		}
		if !ep.Enabled {
			return Delivery{}, ErrEndpointDisabled
		}
	}
	d, err := scanDelivery(s.db.QueryRow(ctx, `INSERT INTO webhook_deliveries (id, tenant_id, job_id, endpoint_id, event_id,
			redelivery_of, url, event_type, message_id, payload, status, next_attempt_at)
		SELECT $1, tenant_id, job_id, endpoint_id, event_id, id, url, event_type, message_id, payload, 'pending', now()
		FROM webhook_deliveries WHERE id = $2 AND tenant_id = $3 RETURNING `+deliveryCols, ids.New("whd"), id, tenantID))
	if err != nil {
		return Delivery{}, fmt.Errorf("redeliver %s: %w", id, err)
	}
	s.enqueue(ctx, d.ID, 1, time.Time{})
	return d, nil
}

// Retention is how long a finished delivery and its attempts are kept.
const Retention = 30 * 24 * time.Hour

// PruneDeliveries deletes deliveries (and their attempts) that finished
// longer ago than Retention, in batches, so the log does not grow without
// bound.
func (s *Service) PruneDeliveries(ctx context.Context) (int64, error) {
	var total int64
	for {
		tag, err := s.db.Exec(ctx, `DELETE FROM webhook_deliveries WHERE id IN (
				SELECT id FROM webhook_deliveries WHERE status <> 'pending'
				  AND completed_at < now() - $1 * interval '1 millisecond' LIMIT 5000)`, Retention.Milliseconds())
		if err != nil {
			return total, fmt.Errorf("prune webhook deliveries: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 5000 {
			return total, nil
		}
	}
}
