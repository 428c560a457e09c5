// Package content owns a tenant's publishable content: sites, and the posts
// and media files that hang off them (pages and content elements later).
// Every query takes the caller's tenant id. It owns the tables in its
// migrations folder; the bytes of media files live in a storage.Store.
package content

import (
	"embed"
	"errors"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/microcosm-cc/bluemonday"

	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/storage"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the package's migration files for pg.NewMigrator.
func Migrations() pg.Source {
	return pg.Source{Owner: "content", FS: migrations, Dir: "migrations"}
}

// Service stores and reads content.
type Service struct {
	db    *pgxpool.Pool
	log   *slog.Logger
	store storage.Store
	media MediaConfig
	// html sanitises every body_html written (bluemonday's UGC policy).
	html *bluemonday.Policy
}

// Options holds what only some callers of New need.
type Options struct {
	// Store keeps the bytes of media files; without one, media calls
	// answer 503 media_storage_unavailable.
	Store storage.Store
	// Media limits media files.
	Media MediaConfig
}

// MediaConfig limits media files.
type MediaConfig struct {
	// MaxBytes is the largest file accepted (KILN_MEDIA_MAX_MB); zero or
	// less means DefaultMediaMaxBytes.
	MaxBytes int64
}

// DefaultMediaMaxBytes is the file size limit when MediaConfig sets none.
const DefaultMediaMaxBytes = 50 << 20

// New returns a Service over db. opts (at most one) gives it a media store
// and limits; callers that use no media may leave it out.
func New(db *pgxpool.Pool, log *slog.Logger, opts ...Options) *Service {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Media.MaxBytes <= 0 {
		o.Media.MaxBytes = DefaultMediaMaxBytes
	}
	return &Service{db: db, log: log, store: o.Store, media: o.Media, html: bluemonday.UGCPolicy()}
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
