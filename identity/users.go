package identity

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

// User is a person who can log in.
type User struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	PlatformAdmin bool      `json:"platform_admin"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Member is a user as seen from one tenant, with their role there.
type Member struct {
	User
	Role Role `json:"role"`
}

// NewUser is what creating a user takes.
type NewUser struct {
	Email    string
	Password string
	Name     string
	Role     Role
}

// ValidateEmail checks that s is a bare email address.
func ValidateEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// check collects every invalid field of a new user.
func (u NewUser) check(needRole bool) problem.FieldErrors {
	var f problem.FieldErrors
	f.Check(!ValidateEmail(u.Email), "email", "must be a valid email address")
	f.Check(len(u.Password) < MinPasswordLength, "password", fmt.Sprintf("must be at least %d characters", MinPasswordLength))
	f.Check(len(u.Password) > 256, "password", "must be at most 256 characters")
	f.Check(len(u.Name) > 200, "name", "must be at most 200 characters")
	f.Check(needRole && !u.Role.Valid(), "role", "must be one of owner, admin, editor, viewer")
	return f
}

const memberCols = `u.id, u.email, u.name, u.platform_admin, u.created_at, u.updated_at, m.role`

func scanMember(row pgx.Row) (Member, error) {
	var m Member
	err := row.Scan(&m.ID, &m.Email, &m.Name, &m.PlatformAdmin, &m.CreatedAt, &m.UpdatedAt, &m.Role)
	return m, err
}

// insertUser creates a user row; a taken email is ErrEmailTaken.
func insertUser(ctx context.Context, q pg.Querier, u NewUser, platformAdmin bool) (User, error) {
	hash, err := HashPassword(u.Password)
	if err != nil {
		return User{}, err
	}
	var out User
	err = q.QueryRow(ctx, `INSERT INTO users (id, email, name, password_hash, platform_admin)
		VALUES ($1, $2, $3, $4, $5) RETURNING id, email, name, platform_admin, created_at, updated_at`,
		ids.New("usr"), strings.ToLower(u.Email), u.Name, hash, platformAdmin,
	).Scan(&out.ID, &out.Email, &out.Name, &out.PlatformAdmin, &out.CreatedAt, &out.UpdatedAt)
	if pg.IsUniqueViolation(err, "users_email_key") {
		return User{}, ErrEmailTaken
	}
	if err != nil {
		return User{}, fmt.Errorf("insert user: %w", err)
	}
	return out, nil
}

func addMembership(ctx context.Context, q pg.Querier, tenantID, userID string, role Role) error {
	_, err := q.Exec(ctx, `INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)`, tenantID, userID, role)
	if err != nil {
		return fmt.Errorf("add user %s to tenant %s: %w", userID, tenantID, err)
	}
	return nil
}

// SignupInput is what a self-service signup takes.
type SignupInput struct {
	Email, Password, Name, TenantName string
}

// Signup creates a tenant and its owner in one transaction.
func (s *Service) Signup(ctx context.Context, in SignupInput) (Member, Tenant, error) {
	nu := NewUser{Email: in.Email, Password: in.Password, Name: in.Name, Role: RoleOwner}
	f := nu.check(false)
	f.Check(strings.TrimSpace(in.TenantName) == "" || len(in.TenantName) > 200, "tenant_name", "is required, at most 200 characters")
	if err := f.Err(); err != nil {
		return Member{}, Tenant{}, err
	}
	var m Member
	var t Tenant
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		u, err := insertUser(ctx, tx, nu, false)
		if err != nil {
			return err
		}
		if t, err = s.createTenant(ctx, tx, strings.TrimSpace(in.TenantName), ""); err != nil {
			return err
		}
		m = Member{User: u, Role: RoleOwner}
		return addMembership(ctx, tx, t.ID, u.ID, RoleOwner)
	})
	return m, t, err
}

// CreateMember creates a user with a role in tenantID.
func (s *Service) CreateMember(ctx context.Context, tenantID string, in NewUser) (Member, error) {
	if err := in.check(true).Err(); err != nil {
		return Member{}, err
	}
	var m Member
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		u, err := insertUser(ctx, tx, in, false)
		if err != nil {
			return err
		}
		m = Member{User: u, Role: in.Role}
		return addMembership(ctx, tx, tenantID, u.ID, in.Role)
	})
	return m, err
}

// ListMembers lists the users of tenantID, newest first.
func (s *Service) ListMembers(ctx context.Context, tenantID string, page pg.Page) ([]Member, string, error) {
	rows, err := s.db.Query(ctx, `SELECT `+memberCols+` FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.tenant_id = $1 AND ($2 = '' OR u.id < $2) ORDER BY u.id DESC LIMIT $3`,
		tenantID, page.After, page.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list users of %s: %w", tenantID, err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Member, error) { return scanMember(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list users of %s: %w", tenantID, err)
	}
	list, next := pg.Trim(list, page, func(m Member) string { return m.ID })
	return list, next, nil
}

// GetMember returns user id as a member of tenantID.
func (s *Service) GetMember(ctx context.Context, tenantID, id string) (Member, error) {
	return getMember(ctx, s.db, tenantID, id)
}

func getMember(ctx context.Context, q pg.Querier, tenantID, id string) (Member, error) {
	m, err := scanMember(q.QueryRow(ctx, `SELECT `+memberCols+` FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.tenant_id = $1 AND m.user_id = $2`, tenantID, id))
	if isNoRows(err) {
		return Member{}, problem.NotFoundf("user")
	}
	if err != nil {
		return Member{}, fmt.Errorf("get user %s: %w", id, err)
	}
	return m, nil
}

// MemberUpdate holds the fields of a member that change; nil leaves a field.
type MemberUpdate struct {
	Name *string
	Role *Role
}

// UpdateMember changes a member's name or role. The last owner cannot be
// demoted.
func (s *Service) UpdateMember(ctx context.Context, tenantID, id string, up MemberUpdate) (Member, error) {
	var f problem.FieldErrors
	f.Check(up.Role != nil && !up.Role.Valid(), "role", "must be one of owner, admin, editor, viewer")
	f.Check(up.Name != nil && len(*up.Name) > 200, "name", "must be at most 200 characters")
	if err := f.Err(); err != nil {
		return Member{}, err
	}
	var m Member
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		cur, err := lockMember(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		if up.Role != nil && cur.Role == RoleOwner && *up.Role != RoleOwner {
			if err := ensureAnotherOwner(ctx, tx, tenantID, id); err != nil {
				return err
			}
		}
		if up.Role != nil {
			if _, err := tx.Exec(ctx, `UPDATE memberships SET role = $3 WHERE tenant_id = $1 AND user_id = $2`, tenantID, id, *up.Role); err != nil {
				return fmt.Errorf("update role of %s: %w", id, err)
			}
		}
		if up.Name != nil {
			if _, err := tx.Exec(ctx, `UPDATE users SET name = $2, updated_at = now() WHERE id = $1`, id, *up.Name); err != nil {
				return fmt.Errorf("update name of %s: %w", id, err)
			}
		}
		m, err = getMember(ctx, tx, tenantID, id)
		return err
	})
	return m, err
}

// RemoveMember removes a user from tenantID, and deletes the user when they
// belong nowhere else and are not a platform admin. The last owner stays.
func (s *Service) RemoveMember(ctx context.Context, tenantID, id string) error {
	return pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		cur, err := lockMember(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		if cur.Role == RoleOwner {
			if err := ensureAnotherOwner(ctx, tx, tenantID, id); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2`, tenantID, id); err != nil {
			return fmt.Errorf("remove user %s: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = now(), revoke_reason = 'removed'
			WHERE user_id = $1 AND tenant_id = $2 AND revoked_at IS NULL`, id, tenantID); err != nil {
			return fmt.Errorf("end sessions of %s: %w", id, err)
		}
		_, err = tx.Exec(ctx, `DELETE FROM users u WHERE u.id = $1 AND NOT u.platform_admin
			AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id)`, id)
		if err != nil {
			return fmt.Errorf("delete user %s: %w", id, err)
		}
		return nil
	})
}

// lockMember reads a member and locks the tenant's memberships against
// concurrent owner changes.
func lockMember(ctx context.Context, tx pgx.Tx, tenantID, id string) (Member, error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE`, tenantID); err != nil {
		return Member{}, fmt.Errorf("lock tenant %s: %w", tenantID, err)
	}
	return getMember(ctx, tx, tenantID, id)
}

func ensureAnotherOwner(ctx context.Context, tx pgx.Tx, tenantID, id string) error {
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE tenant_id = $1 AND role = 'owner' AND user_id <> $2`, tenantID, id).Scan(&n)
	if err != nil {
		return fmt.Errorf("count owners of %s: %w", tenantID, err)
	}
	if n == 0 {
		return ErrLastOwner
	}
	return nil
}
