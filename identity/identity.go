// Package identity owns who may call Kiln: tenants, users and their roles,
// platform admins, login sessions and refresh tokens, API keys and service
// accounts. It hashes passwords with argon2id, signs access tokens with
// golang-jwt, and resolves every credential to a Principal scoped to one
// tenant. It owns the tables in its migrations folder.
package identity

import (
	"embed"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the package's migration files for pg.NewMigrator.
func Migrations() pg.Source {
	return pg.Source{Owner: "identity", FS: migrations, Dir: "migrations"}
}

// Problems callers branch on.
var (
	ErrInvalidCredentials = problem.New(problem.Unauthenticated, "invalid_credentials", "the email or password is wrong")
	ErrUnauthenticated    = problem.New(problem.Unauthenticated, "unauthenticated", "the credential is missing, invalid, expired or revoked; log in again or use a valid API key")
	ErrTenantSuspended    = problem.New(problem.Forbidden, "tenant_suspended", "this tenant is suspended; contact the platform administrator")
	ErrEmailTaken         = problem.New(problem.Conflict, "email_taken", "a user with this email already exists")
	ErrSlugTaken          = problem.New(problem.Conflict, "slug_taken", "a tenant with this slug already exists; choose another")
	ErrSetupDone          = problem.New(problem.Conflict, "setup_completed", "a platform admin already exists; log in instead")
	ErrSetupToken         = problem.New(problem.Forbidden, "invalid_setup_token", "the setup token is wrong; use the one the server logged at its first start or KILN_SETUP_TOKEN")
	ErrLastOwner          = problem.New(problem.Conflict, "last_owner", "a tenant must keep at least one owner")
)

// Config holds the identity settings read from the environment.
type Config struct {
	JWTSecret          string
	JWTPreviousSecrets []string
	Issuer, Audience   string
	AccessTTL          time.Duration
	RefreshTTL         time.Duration
	// APIKeyCacheTTL is how long a resolved API key is trusted without
	// asking the database again (zero: always ask).
	APIKeyCacheTTL time.Duration
}

// Service is the identity store and token issuer.
type Service struct {
	db     *pgxpool.Pool
	log    *slog.Logger
	cfg    Config
	tokens *tokenKeys
	keys   *authCache

	tenantHooks []TenantHook
}

// New returns a Service over db. It fails if the JWT secret is unusable.
func New(db *pgxpool.Pool, log *slog.Logger, cfg Config) (*Service, error) {
	keys, err := newTokenKeys(cfg.JWTSecret, cfg.JWTPreviousSecrets)
	if err != nil {
		return nil, err
	}
	return &Service{db: db, log: log, cfg: cfg, tokens: keys, keys: newAuthCache(cfg.APIKeyCacheTTL)}, nil
}

// Role is what a principal may do within its tenant.
type Role string

// The roles, from most to least powerful.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleEditor Role = "editor"
	RoleViewer Role = "viewer"
)

func (r Role) rank() int {
	switch r {
	case RoleOwner:
		return 4
	case RoleAdmin:
		return 3
	case RoleEditor:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r grants everything min grants.
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() }

// isNoRows reports whether err means a query found nothing.
func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
