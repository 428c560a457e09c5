package main

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/kilnhq/kiln/content"
	gen "github.com/kilnhq/kiln/content/generation"
	"github.com/kilnhq/kiln/content/videogen"
	"github.com/kilnhq/kiln/internal/config"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/settings"
)

// generation holds the AI generation kinds (issue 7) and what they share:
// the tenants' provider settings and system prompts.
type generation struct {
	settings *settings.Service
	set      *gen.Set
	// guarded calls providers at tenant-given URLs (providerEgress).
	guarded *http.Client
}

// newGeneration builds the settings service (deployment providers from the
// environment, every kind's default prompts) and the generation services.
func newGeneration(cfg config.Config, db *pgxpool.Pool, rdb *redis.Client, c *content.Service, log *slog.Logger) (generation, error) {
	limiters := newProviderLimiters(rdb, cfg, log)
	guarded := providerEgress(cfg).HTTPClient()
	st, err := settings.New(db, log, settings.Config{Defaults: deploymentIntegrations(cfg), EncryptionKey: cfg.EncryptionKey,
		Prompts: gen.Prompts(), HTTPClient: guarded, Limiter: limiters.For})
	if err != nil {
		return generation{}, fmt.Errorf("settings: %w", err)
	}
	set, err := gen.New(db, c, st, log, gen.Config{Video: videogen.Config{HTTPClient: guarded,
		WebhookURL: func(provider string) string { return cfg.PublicURL + "/api/v1/providers/" + provider + "/webhook" }}})
	if err != nil {
		return generation{}, err
	}
	return generation{settings: st, set: set, guarded: guarded}, nil
}

// kinds are the generation kinds.
func (g generation) kinds() []jobs.Kind { return g.set.Kinds() }
