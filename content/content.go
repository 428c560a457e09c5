// Package content owns a tenant's publishable content: sites now, and the
// posts, pages and content elements that hang off them. Every query takes
// the caller's tenant id. It owns the tables in its migrations folder.
package content

import (
	"embed"
	"errors"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kilnhq/kiln/internal/pg"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the package's migration files for pg.NewMigrator.
func Migrations() pg.Source {
	return pg.Source{Owner: "content", FS: migrations, Dir: "migrations"}
}

// Service stores and reads content.
type Service struct {
	db  *pgxpool.Pool
	log *slog.Logger
}

// New returns a Service over db.
func New(db *pgxpool.Pool, log *slog.Logger) *Service {
	return &Service{db: db, log: log}
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
