package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/config"
	"github.com/kilnhq/kiln/worker"
)

// devEmail is the owner `kiln dev` creates on its first start.
const devEmail = "dev@kiln.local"

// runDev migrates, makes sure a dev tenant exists, and runs the API, a worker
// and the scheduler in one process.
func runDev(ctx context.Context) error {
	cfg, err := loadConfig(config.ModeDev)
	if err != nil {
		return err
	}
	if cfg.JWTSecret == "" {
		if cfg.JWTSecret, err = devSecret(cfg.DevDir); err != nil {
			return err
		}
	}
	if cfg.EncryptionKey == nil {
		if cfg.EncryptionKey, err = devEncryptionKey(cfg.DevDir); err != nil {
			return err
		}
	}
	a, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.bootstrapDev(ctx); err != nil {
		return err
	}
	_, periodic := a.workerMux()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.serveAPI(ctx) })
	g.Go(func() error { return a.runWorker(ctx) })
	g.Go(func() error { return worker.RunScheduler(ctx, a.asynq, a.log, periodic) })
	return g.Wait()
}

// devSecret reads the JWT secret kept in dir, generating it the first time,
// so tokens survive a restart of `kiln dev`.
func devSecret(dir string) (string, error) {
	return devFile(dir, "jwt-secret", 48, config.ValidateSecret)
}

// devEncryptionKey reads the key that encrypts tenants' provider keys in
// dev, generating it the first time, so stored keys survive a restart.
func devEncryptionKey(dir string) ([]byte, error) {
	raw, err := devFile(dir, "encryption-key", 32, func(s string) error {
		_, err := config.ParseEncryptionKey(s)
		return err
	})
	if err != nil {
		return nil, err
	}
	return config.ParseEncryptionKey(raw)
}

// devFile reads a secret kept in dir/name, or generates n random bytes
// (base64, URL alphabet) and keeps them there.
func devFile(dir, name string, n int, valid func(string) error) (string, error) {
	path := filepath.Join(dir, name)
	if b, err := os.ReadFile(path); err == nil {
		secret := strings.TrimSpace(string(b))
		if err := valid(secret); err != nil {
			return "", fmt.Errorf("%s: the kept secret %w; delete the file to generate a new one", path, err)
		}
		return secret, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("KILN_DEV_DIR: read %s: %w", path, err)
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate %s: %w", name, err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("KILN_DEV_DIR: create %s: %w", dir, err)
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("KILN_DEV_DIR: write %s: %w", path, err)
	}
	return secret, nil
}

// bootstrapDev creates the dev tenant, its owner and an API key the first
// time, and prints the credentials once.
func (a *app) bootstrapDev(ctx context.Context) error {
	password, err := randomPassword()
	if err != nil {
		return err
	}
	m, t, err := a.identity.Signup(ctx, identity.SignupInput{Email: devEmail, Password: password, Name: "Dev Owner", TenantName: "Dev"})
	if errors.Is(err, identity.ErrEmailTaken) {
		a.log.InfoContext(ctx, "dev tenant exists; its credentials were printed at the first start", "email", devEmail)
		return nil
	}
	if err != nil {
		return fmt.Errorf("create dev tenant: %w", err)
	}
	owner := identity.Principal{Kind: identity.KindUser, ID: m.ID, UserID: m.ID, TenantID: t.ID, Role: identity.RoleOwner}
	_, key, err := a.identity.CreateAPIKey(ctx, owner, identity.NewAPIKey{Name: "dev"})
	if err != nil {
		return fmt.Errorf("create dev api key: %w", err)
	}
	fmt.Printf(`
Kiln dev tenant %q created. These are shown once; keep them.
  owner login: %s / %s
  API key:     %s
Try:
  curl -H "Authorization: Bearer %s" %s/api/v1/auth/me

`, t.Slug, devEmail, password, key, key, a.cfg.PublicURL)
	return nil
}

func randomPassword() (string, error) {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate dev password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
