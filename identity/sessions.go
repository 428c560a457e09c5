package identity

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

// Tokens is the OAuth2-shaped answer to a login, refresh or client grant.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// dummyHash is checked when an email is unknown, so a wrong email takes as
// long as a wrong password and timing reveals nothing.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$y3WcR7qEoqf8H9cA1j7ZlqS2b9c6Qv3lJ9tTQ8r1w2E"

// Login checks email and password and starts a session in tenantID, or in
// the user's oldest tenant when tenantID is empty.
func (s *Service) Login(ctx context.Context, email, password, tenantID string) (Tokens, error) {
	var userID, hash string
	err := s.db.QueryRow(ctx, `SELECT id, password_hash FROM users WHERE lower(email) = lower($1)`, email).Scan(&userID, &hash)
	if isNoRows(err) {
		_, _ = CheckPassword(dummyHash, password)
		return Tokens{}, ErrInvalidCredentials
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("look up user: %w", err)
	}
	ok, err := CheckPassword(hash, password)
	if err != nil {
		return Tokens{}, fmt.Errorf("check password of %s: %w", userID, err)
	}
	if !ok {
		return Tokens{}, ErrInvalidCredentials
	}
	tenantID, err = s.loginTenant(ctx, userID, tenantID)
	if err != nil {
		return Tokens{}, err
	}
	return s.startSession(ctx, userID, tenantID)
}

// loginTenant picks the tenant a login enters: the asked one if the user
// belongs to it, else their oldest membership, else none (a platform admin
// with no tenant).
func (s *Service) loginTenant(ctx context.Context, userID, want string) (string, error) {
	var tenantID, status string
	err := s.db.QueryRow(ctx, `SELECT m.tenant_id, t.status FROM memberships m JOIN tenants t ON t.id = m.tenant_id
		WHERE m.user_id = $1 AND ($2 = '' OR m.tenant_id = $2)
		ORDER BY m.created_at LIMIT 1`, userID, want).Scan(&tenantID, &status)
	if isNoRows(err) && want != "" {
		return "", problem.NotFoundf("tenant")
	}
	if err != nil && !isNoRows(err) {
		return "", fmt.Errorf("pick tenant for %s: %w", userID, err)
	}
	if status == TenantSuspended {
		return "", ErrTenantSuspended
	}
	return tenantID, nil
}

func (s *Service) startSession(ctx context.Context, userID, tenantID string) (Tokens, error) {
	sessionID := ids.New("ses")
	now := time.Now()
	refresh, err := randomSecret("kiln_rt_", 32)
	if err != nil {
		return Tokens{}, err
	}
	err = pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (id, user_id, tenant_id, expires_at) VALUES ($1, $2, nullif($3, ''), $4)`,
			sessionID, userID, tenantID, now.Add(s.cfg.RefreshTTL)); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, session_id) VALUES ($1, $2)`, hashSecret(refresh), sessionID)
		return err
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("start session for %s: %w", userID, err)
	}
	return s.tokensFor(userID, tenantID, sessionID, refresh, now)
}

func (s *Service) tokensFor(subject, tenantID, sessionID, refresh string, now time.Time) (Tokens, error) {
	access, err := s.signAccess(subject, tenantID, sessionID, now)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer", ExpiresIn: int(s.cfg.AccessTTL.Seconds())}, nil
}

// Refresh rotates a refresh token: the old one stops working and a new pair
// is issued in the same session. Presenting a token that was already rotated
// means it leaked, so the whole session (the token family) is revoked.
func (s *Service) Refresh(ctx context.Context, refresh string) (Tokens, error) {
	if !strings.HasPrefix(refresh, "kiln_rt_") {
		return Tokens{}, ErrUnauthenticated
	}
	var userID, tenantID, sessionID, next string
	reused := false
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var rotated bool
		var live bool
		err := tx.QueryRow(ctx, `SELECT r.session_id, s.user_id, coalesce(s.tenant_id, ''), r.rotated_at IS NOT NULL,
				s.revoked_at IS NULL AND s.expires_at > now()
			FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
			WHERE r.token_hash = $1 FOR UPDATE OF r, s`, hashSecret(refresh)).Scan(&sessionID, &userID, &tenantID, &rotated, &live)
		if isNoRows(err) {
			return ErrUnauthenticated
		}
		if err != nil {
			return fmt.Errorf("look up refresh token: %w", err)
		}
		if rotated {
			reused = true
			return revokeSession(ctx, tx, sessionID, "refresh_token_reused")
		}
		if !live {
			return ErrUnauthenticated
		}
		if next, err = randomSecret("kiln_rt_", 32); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET rotated_at = now() WHERE token_hash = $1`, hashSecret(refresh)); err != nil {
			return fmt.Errorf("rotate refresh token: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, session_id) VALUES ($1, $2)`, hashSecret(next), sessionID)
		return err
	})
	if err != nil {
		return Tokens{}, err
	}
	if reused {
		s.log.WarnContext(ctx, "refresh token reused; session revoked", "session_id", sessionID, "user_id", userID)
		return Tokens{}, ErrUnauthenticated
	}
	return s.tokensFor(userID, tenantID, sessionID, next, time.Now())
}

// Logout ends a session: its refresh tokens and access tokens stop working.
func (s *Service) Logout(ctx context.Context, sessionID string) error {
	return revokeSession(ctx, s.db, sessionID, "logout")
}

func revokeSession(ctx context.Context, q pg.Querier, sessionID, reason string) error {
	_, err := q.Exec(ctx, `UPDATE sessions SET revoked_at = now(), revoke_reason = $2 WHERE id = $1 AND revoked_at IS NULL`, sessionID, reason)
	if err != nil {
		return fmt.Errorf("revoke session %s: %w", sessionID, err)
	}
	return nil
}

// PruneSessions deletes sessions that expired or were revoked more than a
// day ago, with their refresh tokens. It returns how many it deleted.
func (s *Service) PruneSessions(ctx context.Context) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM sessions
		WHERE expires_at < now() - interval '1 day' OR revoked_at < now() - interval '1 day'`)
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}
