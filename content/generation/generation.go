// Package generation gathers the AI generation kinds of issue 7 (media,
// video, transform, SEO, translation) into one set: their default system
// prompts and their kinds, built over the same content and settings. The
// binary and the tests build it the same way, so a new kind is added in
// one place.
package generation

import (
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/content/generate"
	"github.com/kilnhq/kiln/content/seo"
	"github.com/kilnhq/kiln/content/transform"
	"github.com/kilnhq/kiln/content/translate"
	"github.com/kilnhq/kiln/content/videogen"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/settings"
)

// Prompts are the default system prompts of every generation kind, for
// settings.Config.Prompts.
func Prompts() []settings.PromptDefault {
	var out []settings.PromptDefault
	for _, p := range [][]settings.PromptDefault{generate.Prompts(), seo.Prompts(), transform.Prompts(),
		translate.Prompts(), videogen.Prompts()} {
		out = append(out, p...)
	}
	return out
}

// Config configures the kinds that take settings of their own.
type Config struct {
	Media generate.Config
	Video videogen.Config
}

// Set is the generation kinds' services.
type Set struct {
	// Video also receives the provider's webhooks and needs the engine
	// (SetEngine) once it exists.
	Video *videogen.Service
	media *generate.Generator
	seo   *seo.Service
	trans *transform.Service
	lang  *translate.Translator
}

// New builds every generation service over db, the content service and
// the tenants' settings.
func New(db *pgxpool.Pool, c *content.Service, st *settings.Service, log *slog.Logger, cfg Config) (*Set, error) {
	video, err := videogen.New(db, c, st, log, cfg.Video)
	if err != nil {
		return nil, err
	}
	return &Set{Video: video, media: generate.New(c, st, log, cfg.Media), seo: seo.New(c, st, log),
		trans: transform.New(db, c, st, log), lang: translate.New(db, c, st, log)}, nil
}

// Kinds are every generation kind, for the engine's registry.
func (s *Set) Kinds() []jobs.Kind {
	var out []jobs.Kind
	for _, k := range [][]jobs.Kind{s.media.Kinds(), s.seo.Kinds(), s.trans.Kinds(), s.lang.Kinds(), s.Video.Kinds()} {
		out = append(out, k...)
	}
	return out
}
