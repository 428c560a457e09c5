package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/egress"
	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/webhook"
)

// EventTypes are the events an endpoint can subscribe to.
var EventTypes = []string{"job.started", "job.progress", "job.succeeded", "job.failed", "job.canceled"}

// Endpoint is a tenant's standing webhook receiver.
type Endpoint struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"event_types"`
	Enabled     bool     `json:"enabled"`
	// DisabledReason says why Kiln disabled the endpoint (410 Gone, or
	// failing for three days); empty when enabled or disabled by the
	// tenant.
	DisabledReason string     `json:"disabled_reason,omitempty"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	FailingSince   *time.Time `json:"failing_since"`
	// Secret is shown only when the endpoint is created and when its
	// secret is rotated or read through its own route.
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// EndpointInput holds an endpoint's writable fields; nil leaves a field
// unchanged on update.
type EndpointInput struct {
	URL         *string   `json:"url"`
	Description *string   `json:"description"`
	EventTypes  *[]string `json:"event_types"`
	Enabled     *bool     `json:"enabled"`
}

const endpointCols = `id, url, description, event_types, enabled, coalesce(disabled_reason, ''), disabled_at,
	failing_since, created_at, updated_at`

func scanEndpoint(row pgx.Row) (Endpoint, error) {
	var e Endpoint
	err := row.Scan(&e.ID, &e.URL, &e.Description, &e.EventTypes, &e.Enabled, &e.DisabledReason, &e.DisabledAt,
		&e.FailingSince, &e.CreatedAt, &e.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, problem.NotFoundf("webhook_endpoint")
	}
	return e, err
}

// validate checks an endpoint's fields, resolving the URL through the
// egress rules so a URL Kiln would refuse to call is refused now.
func (s *Service) validate(ctx context.Context, in EndpointInput, creating bool) error {
	var f problem.FieldErrors
	if in.URL == nil && creating {
		f.Add("url", "is required")
	}
	if in.URL != nil {
		if err := CheckURL(ctx, s.client, *in.URL); err != nil {
			f.Add("url", err.Error())
		}
	}
	if in.EventTypes != nil {
		for _, t := range *in.EventTypes {
			f.Check(!slices.Contains(EventTypes, t), "event_types", "each must be one of job.started, job.progress, job.succeeded, job.failed, job.canceled")
		}
	}
	if in.Description != nil {
		f.Check(len(*in.Description) > 500, "description", "must be at most 500 characters")
	}
	return f.Err()
}

// CheckURL reports whether Kiln would deliver to rawURL through c: an
// absolute http or https URL whose host, where it resolves, the egress
// rules let Kiln reach. A host that does not resolve now is accepted: DNS
// may be down for a moment, and each attempt checks again. The error's
// text says what is wrong, for a field error.
func CheckURL(ctx context.Context, c *egress.Client, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New(URLProblem(egress.ErrInvalidURL))
	}
	if err := c.CheckURL(ctx, rawURL); err != nil && !errors.Is(err, egress.ErrUnresolvable) {
		return errors.New(URLProblem(err))
	}
	return nil
}

// URLProblem is the field message for a URL Kiln refuses to call.
func URLProblem(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, egress.ErrBlocked):
		return "points at an address Kiln may not call (" + egress.CodeBlocked + "): " + err.Error()
	case errors.Is(err, egress.ErrUnresolvable):
		return "has a host that cannot be resolved"
	}
	return "must be an absolute http or https URL without credentials"
}

// CreateEndpoint adds an endpoint with a fresh secret, shown once here.
func (s *Service) CreateEndpoint(ctx context.Context, tenantID string, in EndpointInput) (Endpoint, error) {
	if err := s.validate(ctx, in, true); err != nil {
		return Endpoint{}, err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return Endpoint{}, err
	}
	types := []string{}
	if in.EventTypes != nil {
		types = *in.EventTypes
	}
	e, err := scanEndpoint(s.db.QueryRow(ctx, `INSERT INTO webhook_endpoints (id, tenant_id, url, description, event_types, enabled, secret)
		VALUES ($1, $2, $3, coalesce($4, ''), $5, coalesce($6, true), $7) RETURNING `+endpointCols,
		ids.New("whe"), tenantID, *in.URL, in.Description, types, in.Enabled, secret))
	if err != nil {
		return Endpoint{}, fmt.Errorf("create webhook endpoint: %w", err)
	}
	e.Secret = secret
	return e, nil
}

// ListEndpoints returns a page of the tenant's endpoints, newest first.
func (s *Service) ListEndpoints(ctx context.Context, tenantID string, page pg.Page) ([]Endpoint, string, error) {
	rows, err := s.db.Query(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints
		WHERE tenant_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`, tenantID, page.After, page.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list webhook endpoints: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Endpoint, error) { return scanEndpoint(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list webhook endpoints: %w", err)
	}
	list, next := pg.Trim(list, page, func(e Endpoint) string { return e.ID })
	return list, next, nil
}

// GetEndpoint returns one of the tenant's endpoints.
func (s *Service) GetEndpoint(ctx context.Context, tenantID, id string) (Endpoint, error) {
	return scanEndpoint(s.db.QueryRow(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2`, id, tenantID))
}

// UpdateEndpoint changes an endpoint. Enabling it clears why Kiln had
// disabled it and its failure streak.
func (s *Service) UpdateEndpoint(ctx context.Context, tenantID, id string, in EndpointInput) (Endpoint, error) {
	if err := s.validate(ctx, in, false); err != nil {
		return Endpoint{}, err
	}
	return scanEndpoint(s.db.QueryRow(ctx, `UPDATE webhook_endpoints SET
			url = coalesce($3, url), description = coalesce($4, description), event_types = coalesce($5, event_types),
			enabled = coalesce($6, enabled),
			disabled_reason = CASE WHEN $6 THEN NULL ELSE disabled_reason END,
			disabled_at = CASE WHEN $6 THEN NULL WHEN $6 = false AND enabled THEN now() ELSE disabled_at END,
			failing_since = CASE WHEN $6 THEN NULL ELSE failing_since END,
			updated_at = now()
		WHERE id = $1 AND tenant_id = $2 RETURNING `+endpointCols, id, tenantID, in.URL, in.Description, in.EventTypes, in.Enabled))
}

// DeleteEndpoint removes an endpoint and its delivery history.
func (s *Service) DeleteEndpoint(ctx context.Context, tenantID, id string) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2`, id, tenantID)
	if err != nil {
		return fmt.Errorf("delete webhook endpoint %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return problem.NotFoundf("webhook_endpoint")
	}
	return nil
}

// RotateEndpointSecret gives the endpoint a new secret; the old one keeps
// signing beside it for the overlap period.
func (s *Service) RotateEndpointSecret(ctx context.Context, tenantID, id string) (Endpoint, error) {
	secret, err := webhook.NewSecret()
	if err != nil {
		return Endpoint{}, err
	}
	e, err := scanEndpoint(s.db.QueryRow(ctx, `UPDATE webhook_endpoints SET previous_secret = secret,
			previous_expires_at = now() + $3 * interval '1 millisecond', secret = $4, updated_at = now()
		WHERE id = $1 AND tenant_id = $2 RETURNING `+endpointCols, id, tenantID, s.cfg.SecretOverlap.Milliseconds(), secret))
	if err != nil {
		return Endpoint{}, err
	}
	e.Secret = secret
	return e, nil
}

// EndpointSecret returns an endpoint with its current secret.
func (s *Service) EndpointSecret(ctx context.Context, tenantID, id string) (Endpoint, error) {
	e, err := s.GetEndpoint(ctx, tenantID, id)
	if err != nil {
		return e, err
	}
	err = s.db.QueryRow(ctx, `SELECT secret FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2`, id, tenantID).Scan(&e.Secret)
	if err != nil {
		return e, fmt.Errorf("read secret of %s: %w", id, err)
	}
	return e, nil
}

// SigningSecret is a tenant's secret for per-job webhooks.
type SigningSecret struct {
	Secret string `json:"secret"`
	// PreviousExpiresAt is when the secret it replaced stops signing.
	PreviousExpiresAt *time.Time `json:"previous_expires_at"`
	CreatedAt         time.Time  `json:"created_at"`
	RotatedAt         *time.Time `json:"rotated_at"`
}

// TenantSecret returns the tenant's signing secret, creating it the first
// time it is asked for.
func (s *Service) TenantSecret(ctx context.Context, tenantID string) (SigningSecret, error) {
	secret, err := webhook.NewSecret()
	if err != nil {
		return SigningSecret{}, err
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO webhook_signing_secrets (tenant_id, secret) VALUES ($1, $2)
		ON CONFLICT (tenant_id) DO NOTHING`, tenantID, secret); err != nil {
		return SigningSecret{}, fmt.Errorf("create signing secret of %s: %w", tenantID, err)
	}
	var out SigningSecret
	err = s.db.QueryRow(ctx, `SELECT secret, previous_expires_at, created_at, rotated_at FROM webhook_signing_secrets
		WHERE tenant_id = $1`, tenantID).Scan(&out.Secret, &out.PreviousExpiresAt, &out.CreatedAt, &out.RotatedAt)
	if err != nil {
		return out, fmt.Errorf("read signing secret of %s: %w", tenantID, err)
	}
	return out, nil
}

// RotateTenantSecret replaces the tenant's signing secret; the old one
// keeps signing beside it for the overlap period.
func (s *Service) RotateTenantSecret(ctx context.Context, tenantID string) (SigningSecret, error) {
	if _, err := s.TenantSecret(ctx, tenantID); err != nil {
		return SigningSecret{}, err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return SigningSecret{}, err
	}
	var out SigningSecret
	err = s.db.QueryRow(ctx, `UPDATE webhook_signing_secrets SET previous_secret = secret,
			previous_expires_at = now() + $2 * interval '1 millisecond', secret = $3, rotated_at = now()
		WHERE tenant_id = $1 RETURNING secret, previous_expires_at, created_at, rotated_at`,
		tenantID, s.cfg.SecretOverlap.Milliseconds(), secret).Scan(&out.Secret, &out.PreviousExpiresAt, &out.CreatedAt, &out.RotatedAt)
	if err != nil {
		return out, fmt.Errorf("rotate signing secret of %s: %w", tenantID, err)
	}
	return out, nil
}
