// Package transform defines post.transform: the chat model rewrites a
// post's Markdown body by a preset (summarize, rewrite, expand, simplify,
// change_tone) or a free instruction, keeping its structure (headings and
// link URLs are checked after the model answers), and the change is
// recorded as a revision that can be restored. It owns the post_revisions
// table (migrations folder).
package transform

import (
	"embed"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/settings"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the package's migration files for pg.NewMigrator.
func Migrations() pg.Source {
	return pg.Source{Owner: "content/transform", FS: migrations, Dir: "migrations"}
}

// Kind is the job kind's name.
const Kind = "post.transform"

// Error codes of the kind, beside the provider's.
const (
	// CodeLostStructure: the model's body dropped headings or link URLs
	// (or was empty); retried once, then the job fails.
	CodeLostStructure = "transform_lost_structure"
	// CodeIncomplete: the model's answer was cut at its token limit;
	// retried once, then the job fails.
	CodeIncomplete = "transform_incomplete"
	// CodePostTooLong: the post is longer than MaxPostChars.
	CodePostTooLong = "post_too_long"
	// CodePostChanged: the post grew past what the job reserved for
	// between submit and run.
	CodePostChanged = "post_changed"
	// CodePostEdited: the post was edited while the model worked; the edit
	// is kept and the transform is not applied.
	CodePostEdited = "post_edited"
)

// Service runs post.transform over the tenant's posts and settings.
type Service struct {
	content   *content.Service
	settings  *settings.Service
	revisions *Revisions
	log       *slog.Logger
}

// New returns the service.
func New(db *pgxpool.Pool, c *content.Service, s *settings.Service, log *slog.Logger) *Service {
	return &Service{content: c, settings: s, revisions: NewRevisions(db, c), log: log}
}

// Kinds returns the kinds to register: post.transform.
func (s *Service) Kinds() []jobs.Kind { return []jobs.Kind{s.kind()} }
