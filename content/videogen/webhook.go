package videogen

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/kilnhq/kiln/ai/video"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/settings"
)

// Errors of HandleWebhook the API answers with their status.
var (
	// ErrUnknownProvider: no provider of that name calls back.
	ErrUnknownProvider = problem.New(problem.NotFound, "unknown_provider", "no provider of this name sends webhooks here; the providers are: fal")
	// ErrUnverified: the delivery's signature, timestamp or shape is wrong.
	ErrUnverified = problem.New(problem.Unauthenticated, "webhook_unverified", "the webhook's signature does not verify")
)

// HandleWebhook takes a provider's callback: it verifies the signature,
// records what the provider said of the request, and wakes its job. It
// reports false when the request is not one of Kiln's (nothing to do).
func (s *Service) HandleWebhook(ctx context.Context, provider string, header http.Header, body []byte) (bool, error) {
	if provider != settings.Fal {
		return false, ErrUnknownProvider
	}
	p, err := s.verifier.Verify(ctx, header, body)
	if err != nil {
		if errors.Is(err, video.ErrBadSignature) || errors.Is(err, video.ErrStaleWebhook) ||
			errors.Is(err, video.ErrMalformedWebhook) || errors.Is(err, video.ErrWrongUser) {
			s.log.WarnContext(ctx, "refused a provider webhook", "provider", provider, "err", err)
			return false, ErrUnverified
		}
		return false, fmt.Errorf("verify the %s webhook: %w", provider, err) // keys unreachable: 5xx, the provider retries
	}
	var jobID string
	err = s.db.QueryRow(ctx, `UPDATE video_requests SET webhook_status = $3, webhook_payload = $4, webhook_error = nullif($5, ''),
			state = 'COMPLETED', updated_at = now()
		WHERE provider = $1 AND request_id = $2 RETURNING job_id`,
		provider, p.RequestID, p.Status, nullJSON(p.Payload), p.Error).Scan(&jobID)
	if err != nil {
		if isNoRows(err) {
			s.log.InfoContext(ctx, "webhook for a request Kiln does not know", "provider", provider, "request_id", p.RequestID)
			return false, nil
		}
		return false, fmt.Errorf("record the %s webhook of %s: %w", provider, p.RequestID, err)
	}
	s.log.InfoContext(ctx, "provider webhook received", "provider", provider, "request_id", p.RequestID, "job_id", jobID, "status", p.Status)
	if s.engine != nil {
		if _, err := s.engine.Wake(ctx, jobID); err != nil {
			s.log.WarnContext(ctx, "wake the video job; its next poll finds the result", "job_id", jobID, "err", err)
		}
	}
	return true, nil
}

// nullJSON is raw, or nil for an empty or null payload.
func nullJSON(raw []byte) any {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return string(raw)
}
