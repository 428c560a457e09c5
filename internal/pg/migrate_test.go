package pg_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/schema"
	"github.com/kilnhq/kiln/internal/testkit"
)

func TestDuplicateVersionsAcrossPackagesAreRefused(t *testing.T) {
	a := fstest.MapFS{"m/00001_a.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")}}
	b := fstest.MapFS{"m/00001_b.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")}}
	db := testkit.NewDB(t)
	_, err := pg.NewMigrator(db.Pool, testkit.Logger(t), false, pg.Source{Owner: "a", FS: a, Dir: "m"}, pg.Source{Owner: "b", FS: b, Dir: "m"})
	if err == nil || !strings.Contains(err.Error(), "used by both a and b") {
		t.Fatalf("err = %v, want a clash naming both owners", err)
	}
}

// TestEveryMigrationRollsBack applies all migrations (testkit did), rolls
// each back in turn, and applies them again: every Down section works.
func TestEveryMigrationRollsBack(t *testing.T) {
	ctx := context.Background()
	db := testkit.NewDB(t)
	m, err := schema.Migrator(db.Pool, testkit.Logger(t), false)
	testkit.Must(t, "migrator", err)
	defer m.Close()
	st, err := m.Status(ctx)
	testkit.Must(t, "status", err)
	for _, s := range st {
		if s.AppliedAt.IsZero() {
			t.Fatalf("migration %s pending after testkit applied all", s.Name)
		}
	}
	for range st {
		testkit.Must(t, "down", m.Down(ctx))
	}
	if err := m.Down(ctx); err == nil || !strings.Contains(err.Error(), "nothing to roll back") {
		t.Fatalf("down with nothing applied: err = %v", err)
	}
	var tables int
	testkit.Must(t, "count tables", db.Pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = $1 AND table_name NOT LIKE 'goose%'`, db.Schema).Scan(&tables))
	if tables != 0 {
		t.Fatalf("%d tables left after rolling everything back", tables)
	}
	testkit.Must(t, "up again", m.Up(ctx))
}
