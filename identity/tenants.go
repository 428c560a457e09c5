package identity

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/internal/slug"
)

// Tenant is one customer of the platform; everything else belongs to one.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Slug      string    `json:"slug"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Tenant statuses.
const (
	TenantActive    = "active"
	TenantSuspended = "suspended"
)

// TenantHook runs inside the transaction that creates a tenant, so other
// packages (credits, say) can set up their side atomically.
type TenantHook func(ctx context.Context, tx pgx.Tx, t Tenant) error

// OnTenantCreated registers hook to run whenever a tenant is created.
func (s *Service) OnTenantCreated(hook TenantHook) { s.tenantHooks = append(s.tenantHooks, hook) }

const tenantCols = `id, name, slug, status, created_at, updated_at`

func scanTenant(row pgx.Row) (Tenant, error) {
	var t Tenant
	err := row.Scan(&t.ID, &t.Name, &t.Slug, &t.Status, &t.CreatedAt, &t.UpdatedAt)
	return t, err
}

// CreateTenant creates a tenant with name and slug (derived from the name
// when empty) and runs the tenant hooks.
func (s *Service) CreateTenant(ctx context.Context, name, slug string) (Tenant, error) {
	var t Tenant
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		t, err = s.createTenant(ctx, tx, name, slug)
		return err
	})
	return t, err
}

func (s *Service) createTenant(ctx context.Context, tx pgx.Tx, name, wanted string) (Tenant, error) {
	explicit := wanted != ""
	base := wanted
	if !explicit {
		base = slug.Make(name, "tenant")
	}
	for attempt := 0; ; attempt++ {
		candidate := base
		if attempt > 0 {
			random := ids.New("x") // its last characters are random
			candidate = base + "-" + random[len(random)-6:]
		}
		t, err := s.insertTenant(ctx, tx, name, candidate)
		if err == nil {
			return t, s.runTenantHooks(ctx, tx, t)
		}
		if !pg.IsUniqueViolation(err, "tenants_slug_key") {
			return Tenant{}, fmt.Errorf("insert tenant: %w", err)
		}
		if explicit || attempt >= 3 {
			return Tenant{}, ErrSlugTaken
		}
	}
}

func (s *Service) insertTenant(ctx context.Context, tx pgx.Tx, name, slug string) (Tenant, error) {
	// A savepoint lets the caller's transaction survive a slug collision.
	sp, err := tx.Begin(ctx)
	if err != nil {
		return Tenant{}, fmt.Errorf("begin savepoint: %w", err)
	}
	t, err := scanTenant(sp.QueryRow(ctx,
		`INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $3) RETURNING `+tenantCols,
		ids.New("ten"), name, slug))
	if err != nil {
		_ = sp.Rollback(ctx)
		return Tenant{}, err
	}
	return t, sp.Commit(ctx)
}

func (s *Service) runTenantHooks(ctx context.Context, tx pgx.Tx, t Tenant) error {
	for _, h := range s.tenantHooks {
		if err := h(ctx, tx, t); err != nil {
			return fmt.Errorf("set up tenant %s: %w", t.ID, err)
		}
	}
	return nil
}

// ListTenants lists all tenants, newest first (platform admins only).
func (s *Service) ListTenants(ctx context.Context, page pg.Page) ([]Tenant, string, error) {
	rows, err := s.db.Query(ctx, `SELECT `+tenantCols+` FROM tenants
		WHERE ($1 = '' OR id < $1) ORDER BY id DESC LIMIT $2`, page.After, page.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list tenants: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tenant, error) { return scanTenant(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list tenants: %w", err)
	}
	list, next := pg.Trim(list, page, func(t Tenant) string { return t.ID })
	return list, next, nil
}

// GetTenant returns one tenant.
func (s *Service) GetTenant(ctx context.Context, id string) (Tenant, error) {
	t, err := scanTenant(s.db.QueryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = $1`, id))
	if isNoRows(err) {
		return Tenant{}, problem.NotFoundf("tenant")
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("get tenant %s: %w", id, err)
	}
	return t, nil
}

// UpdateTenant changes a tenant's name and, when status is not empty, its
// status (active or suspended).
func (s *Service) UpdateTenant(ctx context.Context, id string, name *string, status string) (Tenant, error) {
	t, err := scanTenant(s.db.QueryRow(ctx, `UPDATE tenants SET
		name = coalesce($2, name), status = coalesce(nullif($3, ''), status), updated_at = now()
		WHERE id = $1 RETURNING `+tenantCols, id, name, status))
	if isNoRows(err) {
		return Tenant{}, problem.NotFoundf("tenant")
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("update tenant %s: %w", id, err)
	}
	if status != "" {
		s.keys.forget("") // cached keys carry no tenant status: drop them all
	}
	return t, nil
}

// TenantBySlug returns the tenant with slug.
func (s *Service) TenantBySlug(ctx context.Context, slug string) (Tenant, error) {
	t, err := scanTenant(s.db.QueryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE slug = $1`, slug))
	if isNoRows(err) {
		return Tenant{}, problem.NotFoundf("tenant")
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("get tenant %s: %w", slug, err)
	}
	return t, nil
}
