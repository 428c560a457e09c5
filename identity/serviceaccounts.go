package identity

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

// ServiceAccount is a non-human client of one tenant. It authenticates with
// the OAuth2 client-credentials grant: its id is the client_id.
type ServiceAccount struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

const serviceAccountCols = `id, name, role, created_at, updated_at`

func scanServiceAccount(row pgx.Row) (ServiceAccount, error) {
	var a ServiceAccount
	err := row.Scan(&a.ID, &a.Name, &a.Role, &a.CreatedAt, &a.UpdatedAt)
	return a, err
}

func checkServiceAccount(name *string, role *Role) error {
	var f problem.FieldErrors
	f.Check(name != nil && (strings.TrimSpace(*name) == "" || len(*name) > 100), "name", "is required, at most 100 characters")
	f.Check(role != nil && (!role.Valid() || *role == RoleOwner), "role", "must be admin, editor or viewer")
	return f.Err()
}

// CreateServiceAccount creates an account in tenantID and returns it with
// its client secret, which is shown only this once.
func (s *Service) CreateServiceAccount(ctx context.Context, tenantID, name string, role Role) (ServiceAccount, string, error) {
	if err := checkServiceAccount(&name, &role); err != nil {
		return ServiceAccount{}, "", err
	}
	secret, err := randomSecret("kiln_sa_", 32)
	if err != nil {
		return ServiceAccount{}, "", err
	}
	a, err := scanServiceAccount(s.db.QueryRow(ctx, `INSERT INTO service_accounts (id, tenant_id, name, role, secret_hash)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+serviceAccountCols, ids.New("sa"), tenantID, name, role, hashSecret(secret)))
	if err != nil {
		return ServiceAccount{}, "", fmt.Errorf("insert service account: %w", err)
	}
	return a, secret, nil
}

// ListServiceAccounts lists the tenant's service accounts, newest first.
func (s *Service) ListServiceAccounts(ctx context.Context, tenantID string, page pg.Page) ([]ServiceAccount, string, error) {
	rows, err := s.db.Query(ctx, `SELECT `+serviceAccountCols+` FROM service_accounts
		WHERE tenant_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`, tenantID, page.After, page.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list service accounts: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ServiceAccount, error) { return scanServiceAccount(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list service accounts: %w", err)
	}
	list, next := pg.Trim(list, page, func(a ServiceAccount) string { return a.ID })
	return list, next, nil
}

// GetServiceAccount returns one of the tenant's service accounts.
func (s *Service) GetServiceAccount(ctx context.Context, tenantID, id string) (ServiceAccount, error) {
	return s.serviceAccountRow(ctx, `SELECT `+serviceAccountCols+` FROM service_accounts WHERE tenant_id = $1 AND id = $2`, tenantID, id)
}

// UpdateServiceAccount changes a service account's name or role.
func (s *Service) UpdateServiceAccount(ctx context.Context, tenantID, id string, name *string, role *Role) (ServiceAccount, error) {
	if err := checkServiceAccount(name, role); err != nil {
		return ServiceAccount{}, err
	}
	return s.serviceAccountRow(ctx, `UPDATE service_accounts SET name = coalesce($3, name), role = coalesce($4, role), updated_at = now()
		WHERE tenant_id = $1 AND id = $2 RETURNING `+serviceAccountCols, tenantID, id, name, role)
}

// RotateServiceAccountSecret replaces the client secret; the old one stops
// working at once.
func (s *Service) RotateServiceAccountSecret(ctx context.Context, tenantID, id string) (ServiceAccount, string, error) {
	secret, err := randomSecret("kiln_sa_", 32)
	if err != nil {
		return ServiceAccount{}, "", err
	}
	a, err := s.serviceAccountRow(ctx, `UPDATE service_accounts SET secret_hash = $3, updated_at = now()
		WHERE tenant_id = $1 AND id = $2 RETURNING `+serviceAccountCols, tenantID, id, hashSecret(secret))
	return a, secret, err
}

// DeleteServiceAccount deletes the account; its tokens stop working.
func (s *Service) DeleteServiceAccount(ctx context.Context, tenantID, id string) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM service_accounts WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	if err != nil {
		return fmt.Errorf("delete service account %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return problem.NotFoundf("service_account")
	}
	return nil
}

func (s *Service) serviceAccountRow(ctx context.Context, sql string, args ...any) (ServiceAccount, error) {
	a, err := scanServiceAccount(s.db.QueryRow(ctx, sql, args...))
	if isNoRows(err) {
		return ServiceAccount{}, problem.NotFoundf("service_account")
	}
	if err != nil {
		return ServiceAccount{}, fmt.Errorf("service account: %w", err)
	}
	return a, nil
}

// ClientCredentials exchanges a service account's id and secret for an
// access token (no refresh token: the client asks again when it expires).
func (s *Service) ClientCredentials(ctx context.Context, clientID, secret string) (Tokens, error) {
	var tenantID, status string
	var stored []byte
	err := s.db.QueryRow(ctx, `SELECT sa.tenant_id, sa.secret_hash, t.status FROM service_accounts sa
		JOIN tenants t ON t.id = sa.tenant_id WHERE sa.id = $1`, clientID).Scan(&tenantID, &stored, &status)
	if isNoRows(err) {
		return Tokens{}, ErrInvalidCredentials
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("look up service account: %w", err)
	}
	if subtle.ConstantTimeCompare(stored, hashSecret(secret)) != 1 {
		return Tokens{}, ErrInvalidCredentials
	}
	if status == TenantSuspended {
		return Tokens{}, ErrTenantSuspended
	}
	return s.tokensFor(clientID, tenantID, "", "", time.Now())
}
