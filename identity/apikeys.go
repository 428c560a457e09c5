package identity

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

// apiKeyPrefix starts every API key, so leaked keys are easy to recognise
// (and to find with secret scanners).
const apiKeyPrefix = "kiln_"

// The API key scopes. A key acts with the role of its highest scope.
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
	ScopeAdmin = "admin"
)

// scopeRoles maps each scope to the role it grants, weakest first.
var scopeRoles = []struct {
	scope string
	role  Role
}{{ScopeRead, RoleViewer}, {ScopeWrite, RoleEditor}, {ScopeAdmin, RoleAdmin}}

// APIKey is a long-lived credential of one tenant. The secret itself is
// only in the answer to its creation.
type APIKey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scopes     []string   `json:"scopes"`
	CreatedBy  *string    `json:"created_by"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

// NewAPIKey is what creating an API key takes. Empty Scopes means every
// scope the creator's role allows.
type NewAPIKey struct {
	Name      string
	Scopes    []string
	ExpiresAt *time.Time
}

// ScopesFor returns the scopes a role may grant to a key.
func ScopesFor(r Role) []string {
	var out []string
	for _, sr := range scopeRoles {
		if r.AtLeast(sr.role) {
			out = append(out, sr.scope)
		}
	}
	return out
}

func roleOfScopes(scopes []string) Role {
	role := Role("")
	for _, sr := range scopeRoles {
		if slices.Contains(scopes, sr.scope) {
			role = sr.role
		}
	}
	return role
}

// CreateAPIKey creates a key for the principal's tenant. A key cannot carry
// a scope above its creator's role.
func (s *Service) CreateAPIKey(ctx context.Context, by Principal, in NewAPIKey) (APIKey, string, error) {
	allowed := ScopesFor(by.Role)
	if len(in.Scopes) == 0 {
		in.Scopes = allowed
	}
	var f problem.FieldErrors
	f.Check(in.Name == "" || len(in.Name) > 100, "name", "is required, at most 100 characters")
	for _, sc := range in.Scopes {
		f.Check(roleOfScopes([]string{sc}) == "", "scopes", "each scope must be read, write or admin")
		f.Check(!slices.Contains(allowed, sc), "scopes", "cannot grant a scope above your own role")
	}
	f.Check(in.ExpiresAt != nil && !in.ExpiresAt.After(time.Now()), "expires_at", "must be in the future")
	if err := f.Err(); err != nil {
		return APIKey{}, "", err
	}
	secret, err := randomSecret(apiKeyPrefix, 32)
	if err != nil {
		return APIKey{}, "", err
	}
	var createdBy *string
	if by.UserID != "" {
		createdBy = &by.UserID
	}
	k, err := scanAPIKey(s.db.QueryRow(ctx, `INSERT INTO api_keys (id, tenant_id, created_by, name, prefix, key_hash, scopes, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+apiKeyCols,
		ids.New("key"), by.TenantID, createdBy, in.Name, secret[:12], hashSecret(secret), in.Scopes, in.ExpiresAt))
	if err != nil {
		return APIKey{}, "", fmt.Errorf("insert api key: %w", err)
	}
	return k, secret, nil
}

const apiKeyCols = `id, name, prefix, scopes, created_by, expires_at, last_used_at, created_at`

func scanAPIKey(row pgx.Row) (APIKey, error) {
	var k APIKey
	err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Scopes, &k.CreatedBy, &k.ExpiresAt, &k.LastUsedAt, &k.CreatedAt)
	return k, err
}

// ListAPIKeys lists the tenant's keys that are not revoked, newest first.
func (s *Service) ListAPIKeys(ctx context.Context, tenantID string, page pg.Page) ([]APIKey, string, error) {
	rows, err := s.db.Query(ctx, `SELECT `+apiKeyCols+` FROM api_keys
		WHERE tenant_id = $1 AND revoked_at IS NULL AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`,
		tenantID, page.After, page.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list api keys: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIKey, error) { return scanAPIKey(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list api keys: %w", err)
	}
	list, next := pg.Trim(list, page, func(k APIKey) string { return k.ID })
	return list, next, nil
}

// GetAPIKey returns one of the tenant's keys that is not revoked.
func (s *Service) GetAPIKey(ctx context.Context, tenantID, id string) (APIKey, error) {
	k, err := scanAPIKey(s.db.QueryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys
		WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL`, tenantID, id))
	if isNoRows(err) {
		return APIKey{}, problem.NotFoundf("api_key")
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("get api key %s: %w", id, err)
	}
	return k, nil
}

// RevokeAPIKey revokes a key; it is refused from then on.
func (s *Service) RevokeAPIKey(ctx context.Context, tenantID, id string) error {
	tag, err := s.db.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL`, tenantID, id)
	if err != nil {
		return fmt.Errorf("revoke api key %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return problem.NotFoundf("api_key")
	}
	s.keys.forget(id)
	return nil
}

func (s *Service) authenticateAPIKey(ctx context.Context, secret string) (Principal, error) {
	hash := hashSecret(secret)
	if e, ok := s.keys.get(string(hash)); ok {
		if s.touchAPIKey(ctx, e.p.ID, e.lastUsed) {
			now := time.Now()
			s.keys.put(string(hash), e.p, &now, &e.until)
		}
		return e.p, nil
	}
	p := Principal{Kind: KindAPIKey}
	var createdBy *string
	var status string
	var lastUsed, expires *time.Time
	err := s.db.QueryRow(ctx, `SELECT k.id, k.name, k.tenant_id, k.scopes, k.created_by, k.last_used_at, k.expires_at, t.status
		FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
		WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())`, hash,
	).Scan(&p.ID, &p.Name, &p.TenantID, &p.Scopes, &createdBy, &lastUsed, &expires, &status)
	if isNoRows(err) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up api key: %w", err)
	}
	if status == TenantSuspended {
		return Principal{}, ErrTenantSuspended
	}
	if createdBy != nil {
		p.UserID = *createdBy
	}
	p.Role = roleOfScopes(p.Scopes)
	if s.touchAPIKey(ctx, p.ID, lastUsed) {
		now := time.Now()
		lastUsed = &now
	}
	s.keys.put(string(hash), p, lastUsed, expires)
	return p, nil
}

// touchAPIKey records last_used_at at most once a minute, so a busy key does
// not cost a write per request. It reports whether it wrote.
func (s *Service) touchAPIKey(ctx context.Context, id string, lastUsed *time.Time) bool {
	if lastUsed != nil && time.Since(*lastUsed) < time.Minute {
		return false
	}
	if _, err := s.db.Exec(ctx, `UPDATE api_keys SET last_used_at = now() WHERE id = $1`, id); err != nil {
		s.log.WarnContext(ctx, "record api key use", "api_key_id", id, "err", err)
		return false
	}
	return true
}
