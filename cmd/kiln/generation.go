package main

import (
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/content/generate"
	"github.com/kilnhq/kiln/content/seo"
	"github.com/kilnhq/kiln/content/transform"
	"github.com/kilnhq/kiln/content/translate"
	"github.com/kilnhq/kiln/content/videogen"
	"github.com/kilnhq/kiln/internal/config"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/settings"
)

// generation holds the AI generation kinds (issue 7) and what they share:
// the tenants' provider settings and system prompts.
type generation struct {
	settings  *settings.Service
	video     *videogen.Service
	media     *generate.Generator
	seo       *seo.Service
	transform *transform.Service
	translate *translate.Translator
}

// newGeneration builds the settings service (deployment providers from the
// environment, every kind's default prompts) and the generation services.
func newGeneration(cfg config.Config, db *pgxpool.Pool, rdb *redis.Client, c *content.Service, log *slog.Logger) (generation, error) {
	limiters := newProviderLimiters(rdb, cfg, log)
	guarded := providerEgress(cfg).HTTPClient()
	st, err := settings.New(db, log, settings.Config{Defaults: deploymentIntegrations(cfg), EncryptionKey: cfg.EncryptionKey,
		Prompts: generationPrompts(), HTTPClient: guarded, Limiter: limiters.For})
	if err != nil {
		return generation{}, fmt.Errorf("settings: %w", err)
	}
	video, err := videogen.New(db, c, st, log, videogen.Config{HTTPClient: guarded,
		WebhookURL: func(provider string) string { return cfg.PublicURL + "/api/v1/providers/" + provider + "/webhook" }})
	if err != nil {
		return generation{}, err
	}
	return generation{settings: st, video: video, media: generate.New(c, st, log, generate.Config{}),
		seo: seo.New(c, st, log), transform: transform.New(db, c, st, log), translate: translate.New(db, c, st, log)}, nil
}

// generationPrompts are the default system prompts of every generation kind.
func generationPrompts() []settings.PromptDefault {
	var out []settings.PromptDefault
	out = append(out, generate.Prompts()...)
	out = append(out, seo.Prompts()...)
	out = append(out, transform.Prompts()...)
	out = append(out, translate.Prompts()...)
	out = append(out, videogen.Prompts()...)
	return out
}

// kinds are the generation kinds.
func (g generation) kinds() []jobs.Kind {
	var out []jobs.Kind
	out = append(out, g.media.Kinds()...)
	out = append(out, g.seo.Kinds()...)
	out = append(out, g.transform.Kinds()...)
	out = append(out, g.translate.Kinds()...)
	out = append(out, g.video.Kinds()...)
	return out
}
