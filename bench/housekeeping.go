package bench

import (
	"context"
	"fmt"
	"strings"

	"github.com/kilnhq/kiln/internal/pg"
)

// engineTables are the tables every job writes to.
var engineTables = []string{"jobs", "job_events", "credit_ledger", "credit_accounts", "job_slots", "webhook_outbox"}

// Housekeeping is what the run did to the engine's tables in place of a
// server's autovacuum. Without one, each run would start on the dead rows
// of every run before it (a million after a few dozen runs, which slowed
// every phase), and Postgres would plan the engine's statements with
// whatever statistics the tables last had: after a VACUUM of empty tables,
// it planned full scans of jobs (one in the completion statement) and kept
// those plans as the table grew.
type Housekeeping struct {
	// Autovacuum is the server's setting; the run does the rest only when
	// it is off.
	Autovacuum bool
	// Vacuumed: VACUUM before the run, removing what earlier runs deleted.
	Vacuumed bool
	// Analyzed: ANALYZE after the warm-up submits, so every phase is
	// planned for tables in use.
	Analyzed bool
}

// readAutovacuum records whether the server vacuums by itself.
func (e *env) readAutovacuum(ctx context.Context) error {
	on, err := pg.Autovacuum(ctx, e.cfg.DB)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	e.house.Autovacuum = on
	return nil
}

// analyze refreshes the engine tables' statistics when no autovacuum will.
func (e *env) analyze(ctx context.Context) error {
	return e.upkeep(ctx, "ANALYZE", &e.house.Analyzed)
}

// vacuum removes the dead rows earlier runs left when no autovacuum will.
func (e *env) vacuum(ctx context.Context) error {
	return e.upkeep(ctx, "VACUUM", &e.house.Vacuumed)
}

// upkeep runs command (VACUUM or ANALYZE) on the engine's tables, unless the
// server's autovacuum does, and records that it did.
func (e *env) upkeep(ctx context.Context, command string, did *bool) error {
	if e.house.Autovacuum {
		return nil
	}
	if _, err := e.cfg.DB.Exec(ctx, command+" "+strings.Join(engineTables, ", ")); err != nil {
		return fmt.Errorf("bench: %s the engine's tables: %w", strings.ToLower(command), err)
	}
	*did = true
	return nil
}

// String says what the run did, for the report.
func (h Housekeeping) String() string {
	if h.Autovacuum {
		return "Postgres autovacuum on"
	}
	return fmt.Sprintf("Postgres autovacuum off; in its place the bench ran VACUUM before the run (%s) and ANALYZE after the warm-up (%s) on %s",
		done(h.Vacuumed), done(h.Analyzed), strings.Join(engineTables, ", "))
}

func done(ok bool) string {
	if ok {
		return "done"
	}
	return "not done"
}
