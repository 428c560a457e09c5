package identity

import (
	"context"
	"fmt"
	"strings"
)

// PrincipalKind says what kind of credential a request carried.
type PrincipalKind string

// The kinds of principal.
const (
	KindUser           PrincipalKind = "user"
	KindAPIKey         PrincipalKind = "api_key"
	KindServiceAccount PrincipalKind = "service_account"
)

// Principal is the authenticated caller of one request. Every tenant-scoped
// query uses its TenantID.
type Principal struct {
	Kind PrincipalKind
	// ID is the user, API key or service account id.
	ID string
	// UserID is the user behind the request (for an API key, its creator).
	UserID        string
	Email         string
	Name          string
	TenantID      string
	Role          Role
	PlatformAdmin bool
	// SessionID is set for users who logged in; logout ends it.
	SessionID string
	// Scopes are an API key's scopes.
	Scopes []string
}

// Authenticate resolves a bearer credential (an access token or an API key)
// to a principal. Expired, tampered, unknown or revoked credentials are
// ErrUnauthenticated; a suspended tenant is ErrTenantSuspended.
func (s *Service) Authenticate(ctx context.Context, credential string) (Principal, error) {
	if strings.HasPrefix(credential, apiKeyPrefix) {
		return s.authenticateAPIKey(ctx, credential)
	}
	if !LooksLikeJWT(credential) {
		return Principal{}, ErrUnauthenticated
	}
	claims, err := s.parseAccess(credential)
	if err != nil {
		return Principal{}, err
	}
	if strings.HasPrefix(claims.Subject, "sa_") {
		return s.serviceAccountPrincipal(ctx, claims.Subject, claims.TenantID)
	}
	return s.userPrincipal(ctx, claims)
}

func (s *Service) userPrincipal(ctx context.Context, c *AccessClaims) (Principal, error) {
	p := Principal{Kind: KindUser, ID: c.Subject, UserID: c.Subject, SessionID: c.SessionID}
	var live, member bool
	var status string
	err := s.db.QueryRow(ctx, `SELECT u.email, u.name, u.platform_admin, coalesce(m.role, ''), coalesce(t.id, ''), coalesce(t.status, ''),
			s.revoked_at IS NULL AND s.expires_at > now(), m.user_id IS NOT NULL
		FROM sessions s
		JOIN users u ON u.id = s.user_id
		LEFT JOIN memberships m ON m.user_id = s.user_id AND m.tenant_id = s.tenant_id
		LEFT JOIN tenants t ON t.id = s.tenant_id
		WHERE s.id = $1 AND s.user_id = $2 AND coalesce(s.tenant_id, '') = $3`,
		c.SessionID, c.Subject, c.TenantID,
	).Scan(&p.Email, &p.Name, &p.PlatformAdmin, &p.Role, &p.TenantID, &status, &live, &member)
	if isNoRows(err) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("load user %s: %w", c.Subject, err)
	}
	if !live || (p.TenantID != "" && !member) {
		return Principal{}, ErrUnauthenticated
	}
	if status == TenantSuspended {
		return Principal{}, ErrTenantSuspended
	}
	return p, nil
}

func (s *Service) serviceAccountPrincipal(ctx context.Context, id, tenantID string) (Principal, error) {
	p := Principal{Kind: KindServiceAccount, ID: id}
	var status string
	err := s.db.QueryRow(ctx, `SELECT sa.name, sa.role, sa.tenant_id, t.status FROM service_accounts sa
		JOIN tenants t ON t.id = sa.tenant_id WHERE sa.id = $1 AND sa.tenant_id = $2`, id, tenantID,
	).Scan(&p.Name, &p.Role, &p.TenantID, &status)
	if isNoRows(err) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("load service account %s: %w", id, err)
	}
	if status == TenantSuspended {
		return Principal{}, ErrTenantSuspended
	}
	return p, nil
}
