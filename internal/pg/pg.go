// Package pg connects to Postgres and runs Kiln's migrations. Each domain
// package owns its tables and ships its own migration files; this package
// gathers them into one ordered set and applies it with goose.
package pg

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options tunes a connection pool.
type Options struct {
	// SearchPath, when set, is the schema search path of every connection.
	// Tests use it to give each test a schema of its own.
	SearchPath string
	// MaxConns caps the pool; zero keeps pgx's default.
	MaxConns int32
}

// Connect opens a pool to url and checks that the server answers.
func Connect(ctx context.Context, url string, opts Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if opts.SearchPath != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = opts.SearchPath
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	case !strings.Contains(url, "pool_max_conns"):
		// pgx's default (4 on a small machine) queues API requests behind
		// each other; group commit keeps the number of writers low anyway.
		cfg.MaxConns = int32(max(16, 4*runtime.NumCPU()))
	}
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		// Times leave the API in UTC (RFC 3339 with Z), whatever the
		// server's or process's time zone.
		conn.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres pool: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres at %s: %w", cfg.ConnConfig.Host, err)
	}
	return pool, nil
}

// InTx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, fn)
}

// Querier is what both a pool and a transaction can do, so store functions
// run the same inside and outside a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Page asks for one page of a list, newest first: at most Limit rows whose
// id sorts before After (empty for the first page).
type Page struct {
	Limit int
	After string
}

// Trim cuts rows fetched with LIMIT page.Limit+1 down to the page and
// returns the cursor for the next page, or "" when this page is the last.
func Trim[T any](rows []T, page Page, id func(T) string) ([]T, string) {
	if len(rows) <= page.Limit {
		return rows, ""
	}
	rows = rows[:page.Limit]
	return rows, id(rows[len(rows)-1])
}

// IsUniqueViolation reports whether err is a unique-constraint violation,
// optionally of the named constraint.
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return false
	}
	return constraint == "" || pgErr.ConstraintName == constraint
}

// IsForeignKeyViolation reports whether err is a foreign-key violation.
func IsForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}

// Autovacuum reports whether the server runs autovacuum. Without it nothing
// removes the dead rows every job update leaves, nor refreshes the
// statistics the planner uses, so the engine's tables bloat and its queries
// slow down until someone runs VACUUM ANALYZE.
func Autovacuum(ctx context.Context, q Querier) (bool, error) {
	var on string
	if err := q.QueryRow(ctx, `SELECT current_setting('autovacuum')`).Scan(&on); err != nil {
		return false, fmt.Errorf("read the server's autovacuum setting: %w", err)
	}
	return on == "on", nil
}
