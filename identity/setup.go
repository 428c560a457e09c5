package identity

import (
	"context"
	"crypto/subtle"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/pg"
)

// SetupNeeded reports whether no platform admin exists yet.
func (s *Service) SetupNeeded(ctx context.Context) (bool, error) {
	var exists bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE platform_admin)`).Scan(&exists); err != nil {
		return false, fmt.Errorf("check for platform admin: %w", err)
	}
	return !exists, nil
}

// SetupToken returns the token that POST /auth/setup requires while no
// platform admin exists: configured when not empty, else the one stored in
// the database, generated at the first start. It returns "" once setup is
// done. Every process that starts before setup logs the same token.
func (s *Service) SetupToken(ctx context.Context, configured string) (string, error) {
	needed, err := s.SetupNeeded(ctx)
	if err != nil || !needed {
		return "", err
	}
	if configured != "" {
		return configured, nil
	}
	fresh, err := randomSecret("kiln_setup_", 24)
	if err != nil {
		return "", err
	}
	var token string
	err = s.db.QueryRow(ctx, `INSERT INTO setup_tokens (id, token) VALUES (1, $1)
		ON CONFLICT (id) DO UPDATE SET token = setup_tokens.token RETURNING token`, fresh).Scan(&token)
	if err != nil {
		return "", fmt.Errorf("store setup token: %w", err)
	}
	return token, nil
}

// CompleteSetup creates the first platform admin, once, if token matches the
// setup token. configured is KILN_SETUP_TOKEN (may be empty).
func (s *Service) CompleteSetup(ctx context.Context, email, password, name, token, configured string) (User, error) {
	var u User
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		// One setup at a time: the check and the insert must not interleave.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('kiln.identity.setup'))`); err != nil {
			return fmt.Errorf("lock setup: %w", err)
		}
		var exists bool
		var stored string
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE platform_admin),
			coalesce((SELECT token FROM setup_tokens WHERE id = 1), '')`).Scan(&exists, &stored)
		if err != nil {
			return fmt.Errorf("read setup state: %w", err)
		}
		if exists {
			return ErrSetupDone
		}
		want := stored
		if configured != "" {
			want = configured
		}
		if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(token)) != 1 {
			return ErrSetupToken
		}
		if u, err = createPlatformAdmin(ctx, tx, email, password, name); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM setup_tokens`)
		return err
	})
	return u, err
}

// CreatePlatformAdmin creates a platform admin directly, for `kiln admin
// create`, which runs with the operator's database access.
func (s *Service) CreatePlatformAdmin(ctx context.Context, email, password, name string) (User, error) {
	var u User
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		if u, err = createPlatformAdmin(ctx, tx, email, password, name); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM setup_tokens`)
		return err
	})
	return u, err
}

func createPlatformAdmin(ctx context.Context, tx pgx.Tx, email, password, name string) (User, error) {
	nu := NewUser{Email: email, Password: password, Name: name}
	if err := nu.check(false).Err(); err != nil {
		return User{}, err
	}
	return insertUser(ctx, tx, nu, true)
}
