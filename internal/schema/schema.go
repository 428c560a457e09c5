// Package schema lists every package's migrations in the order their tables
// depend on each other. `kiln migrate`, `kiln dev` and the test helpers all
// apply this one list.
package schema

import (
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/content/transform"
	"github.com/kilnhq/kiln/content/translate"
	"github.com/kilnhq/kiln/content/videogen"
	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/idempotency"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/ratelimit"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/jobs/webhooks"
	"github.com/kilnhq/kiln/rag"
	"github.com/kilnhq/kiln/settings"
)

// Sources returns the migrations of every package that owns tables.
func Sources() []pg.Source {
	return []pg.Source{
		identity.Migrations(),
		content.Migrations(),
		idempotency.Migrations(),
		jobs.Migrations(),
		webhooks.Migrations(),
		ratelimit.Migrations(),
		rag.Migrations(),
		settings.Migrations(),
		transform.Migrations(),
		translate.Migrations(),
		videogen.Migrations(),
	}
}

// Migrator returns a migrator over every package's migrations.
func Migrator(pool *pgxpool.Pool, log *slog.Logger, lock bool) (*pg.Migrator, error) {
	return pg.NewMigrator(pool, log, lock, Sources()...)
}
