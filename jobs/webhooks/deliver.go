package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/egress"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/webhook"
)

// pending is a delivery about to be attempted, with its signing secrets.
type pending struct {
	id, tenantID, url, messageID, eventType string
	endpointID                              *string
	endpointEnabled                         bool
	payload                                 []byte
	attempts                                int
	secrets                                 []string
}

// outcome is what one attempt came to.
type outcome struct {
	status    int
	err       string
	latency   time.Duration
	excerpt   string
	ok        bool
	permanent bool          // never retry (blocked address, 410)
	blocked   bool          // the egress rules refused the address
	gone      bool          // 410: disable the endpoint
	retryIn   time.Duration // from Retry-After, when given
}

// ProcessTask runs one delivery attempt. It always acknowledges the task
// (returns nil) once the attempt is recorded: retries are scheduled by the
// delivery's own schedule, not by Asynq.
func (s *Service) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p taskPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode webhook task: %w: %w", err, asynq.SkipRetry)
	}
	d, ok, err := s.load(ctx, p.DeliveryID)
	if err != nil {
		return fmt.Errorf("load delivery %s: %w", p.DeliveryID, err)
	}
	if !ok || d.attempts >= p.Attempt {
		return nil // finished, or this attempt already ran: a duplicate task
	}
	var o outcome
	if d.endpointID != nil && !d.endpointEnabled {
		o = outcome{err: "endpoint_disabled: the endpoint was disabled before this attempt", permanent: true}
	} else {
		o = s.send(ctx, d)
	}
	return s.record(context.WithoutCancel(ctx), d, p.Attempt, o)
}

// load reads a pending delivery with its target's current URL and secrets.
func (s *Service) load(ctx context.Context, id string) (pending, bool, error) {
	var d pending
	var epSecret, epPrevious *string
	var epURL *string
	var epEnabled *bool
	err := s.db.QueryRow(ctx, `SELECT d.id, d.tenant_id, d.url, d.message_id, d.event_type, d.endpoint_id, d.payload, d.attempts,
			e.url, e.enabled, e.secret, CASE WHEN e.previous_expires_at > now() THEN e.previous_secret END
		FROM webhook_deliveries d LEFT JOIN webhook_endpoints e ON e.id = d.endpoint_id
		WHERE d.id = $1 AND d.status = 'pending'`, id).Scan(&d.id, &d.tenantID, &d.url, &d.messageID, &d.eventType,
		&d.endpointID, &d.payload, &d.attempts, &epURL, &epEnabled, &epSecret, &epPrevious)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, false, nil
	}
	if err != nil {
		return d, false, err
	}
	if d.endpointID != nil {
		d.url, d.endpointEnabled = *epURL, *epEnabled
		d.secrets = appendSecret([]string{*epSecret}, epPrevious)
		return d, true, nil
	}
	d.secrets, err = s.tenantSecrets(ctx, d.tenantID)
	return d, err == nil, err
}

// tenantSecrets are the secrets that sign a tenant's per-job webhooks.
func (s *Service) tenantSecrets(ctx context.Context, tenantID string) ([]string, error) {
	if _, err := s.TenantSecret(ctx, tenantID); err != nil {
		return nil, err
	}
	var secret string
	var previous *string
	err := s.db.QueryRow(ctx, `SELECT secret, CASE WHEN previous_expires_at > now() THEN previous_secret END
		FROM webhook_signing_secrets WHERE tenant_id = $1`, tenantID).Scan(&secret, &previous)
	if err != nil {
		return nil, fmt.Errorf("read signing secret of %s: %w", tenantID, err)
	}
	return appendSecret([]string{secret}, previous), nil
}

func appendSecret(secrets []string, s *string) []string {
	if s != nil && *s != "" {
		return append(secrets, *s)
	}
	return secrets
}

// send makes one signed POST through the egress client.
func (s *Service) send(ctx context.Context, d pending) outcome {
	h, err := webhook.Headers(d.secrets, d.messageID, time.Now(), d.payload)
	if err != nil {
		return outcome{err: "sign: " + err.Error(), permanent: true}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.payload))
	if err != nil {
		return outcome{err: "invalid_url: " + err.Error(), permanent: true}
	}
	req.Header = h
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	res, err := s.client.Do(req)
	took := time.Since(start)
	if err != nil {
		code := egress.Code(err)
		permanent := errors.Is(err, egress.ErrBlocked) || errors.Is(err, egress.ErrInvalidURL)
		if code == "" {
			code = "connection_failed"
		}
		return outcome{err: code + ": " + err.Error(), latency: took, permanent: permanent, blocked: errors.Is(err, egress.ErrBlocked)}
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
	o := outcome{status: res.StatusCode, latency: took, excerpt: excerpt(body)}
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		o.ok = true
	case res.StatusCode == http.StatusGone:
		o.permanent, o.gone, o.err = true, true, "410 Gone: the receiver asked Kiln to stop; endpoint disabled"
	case res.StatusCode >= 300 && res.StatusCode < 400:
		o.err = fmt.Sprintf("redirect %d to %q: redirects are not followed", res.StatusCode, res.Header.Get("Location"))
	default:
		o.err = fmt.Sprintf("receiver answered %d", res.StatusCode)
		if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
			o.retryIn = retryAfter(res.Header.Get("Retry-After"), time.Now())
		}
	}
	return o
}

// excerpt keeps the start of a response body as valid UTF-8 text.
func excerpt(b []byte) string {
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1]
	}
	return string(b)
}

// retryAfter parses a Retry-After header (seconds or an HTTP date); zero
// when absent or unreadable. It is capped at 24 hours.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, 24*time.Hour))
}

// record logs the attempt and moves the delivery and its endpoint on: done,
// failed for good, or scheduled for its next attempt.
func (s *Service) record(ctx context.Context, d pending, attempt int, o outcome) error {
	status, next := s.nextStep(attempt, o)
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, latency_ms, response_excerpt)
			VALUES ($1, $2, nullif($3, 0), nullif($4, ''), $5, $6)`, d.id, attempt, o.status, o.err, o.latency.Milliseconds(), o.excerpt); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET attempts = $2, status = $3, next_attempt_at = $4,
				last_status = nullif($5, 0), last_error = nullif($6, ''), updated_at = now(),
				completed_at = CASE WHEN $3 <> 'pending' THEN now() END
			WHERE id = $1`, d.id, attempt, status, next, o.status, o.err); err != nil {
			return err
		}
		return s.updateEndpoint(ctx, tx, d, o)
	})
	if err != nil {
		return fmt.Errorf("record attempt %d of delivery %s: %w", attempt, d.id, err)
	}
	s.cfg.Metrics.WebhookDeliveries.WithLabelValues(outcomeLabel(status, o)).Inc()
	if status == "pending" {
		s.enqueue(ctx, d.id, attempt+1, *next)
	}
	return nil
}

// nextStep decides the delivery's status after an attempt and, while it is
// pending, when the next attempt is due.
func (s *Service) nextStep(attempt int, o outcome) (string, *time.Time) {
	switch {
	case o.ok:
		return "succeeded", nil
	case o.permanent || attempt > len(s.cfg.Schedule):
		return "failed", nil
	}
	wait := s.delay(attempt)
	if o.retryIn > 0 {
		wait = o.retryIn
	}
	at := time.Now().Add(wait)
	return "pending", &at
}

// updateEndpoint keeps an endpoint's health: a success ends its failure
// streak; a 410, or failing for DisableAfter in a row, disables it.
func (s *Service) updateEndpoint(ctx context.Context, tx pgx.Tx, d pending, o outcome) error {
	if d.endpointID == nil {
		return nil
	}
	if o.ok {
		_, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`, *d.endpointID)
		return err
	}
	if o.gone {
		_, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET enabled = false, disabled_at = now(), updated_at = now(),
			disabled_reason = 'the endpoint answered 410 Gone' WHERE id = $1 AND enabled`, *d.endpointID)
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, now()),
			enabled = CASE WHEN failing_since < now() - $2 * interval '1 millisecond' THEN false ELSE enabled END,
			disabled_at = CASE WHEN enabled AND failing_since < now() - $2 * interval '1 millisecond' THEN now() ELSE disabled_at END,
			disabled_reason = CASE WHEN enabled AND failing_since < now() - $2 * interval '1 millisecond'
				THEN 'every delivery failed for three days in a row' ELSE disabled_reason END
		WHERE id = $1`, *d.endpointID, s.cfg.DisableAfter.Milliseconds())
	return err
}

// outcomeLabel is the metrics label of an attempt.
func outcomeLabel(status string, o outcome) string {
	switch {
	case o.ok:
		return "succeeded"
	case o.gone:
		return "gone"
	case o.blocked:
		return "blocked"
	case status == "pending":
		return "retrying"
	}
	return "failed"
}
