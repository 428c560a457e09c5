package rag

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	gooselock "github.com/pressly/goose/v3/lock"

	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

//go:embed vectormigrations/*.sql
var vectorMigrations embed.FS

// VectorVersionTable is the goose version table of the vector database's
// migrations. It differs from the main database's, so both sets can live in
// one database when VECTOR_DATABASE_URL is DATABASE_URL.
const VectorVersionTable = "rag_goose_db_version"

// Store defaults. DefaultEfSearch is high because the bench (BenchReport)
// needs it for a recall@10 of 0.95 at 100,000 chunks with the hash
// embedder, whose vectors are hard for HNSW (recall 0.80 at 200, 0.89 at
// 400, 0.95 at 800); semantic embeddings cluster better and get the same
// recall at a lower ef_search, so a deployment using them can lower it.
const (
	DefaultHNSWM              = 16
	DefaultHNSWEfConstruction = 128
	DefaultEfSearch           = 800
	DefaultIndexThreshold     = 10_000
	// MinPgvector is the oldest pgvector the store runs on.
	MinPgvector = "0.7.0"
)

// ErrVectorUnavailable is returned by every Store method when the vector
// database cannot serve: it is unreachable, or it lacks pgvector. The API
// answers it with 503 vector_store_unavailable; the rest of Kiln runs on.
// The problem's message says what is wrong and how to fix it.
var ErrVectorUnavailable = problem.New(problem.Unavailable, "vector_store_unavailable",
	"the vector store is unavailable: VECTOR_DATABASE_URL must point at a Postgres with pgvector "+MinPgvector+
		" or later (or run deploy/dev/pglite/start.sh for a local one)")

// unavailable is ErrVectorUnavailable with a specific reason.
func unavailable(reason string) error {
	return &problem.Problem{Kind: problem.Unavailable, Code: ErrVectorUnavailable.Code,
		Message: "the vector store is unavailable: " + reason}
}

// StoreOptions tune the vector store. Zero values take the defaults.
type StoreOptions struct {
	// HNSWM and HNSWEfConstruction build each HNSW index (pgvector's m and
	// ef_construction). They apply to indexes made after they change.
	HNSWM              int
	HNSWEfConstruction int
	// EfSearch is hnsw.ef_search for queries that do not set their own; a
	// query also raises it to the number of candidates it needs.
	EfSearch int
	// IndexThreshold is how many chunks of one vector size the table holds
	// before the store builds that size's HNSW index. Below it, exact search
	// is fast, and inserts skip index upkeep (which is slow on PGlite); the
	// index is then built in one pass, much faster than row by row.
	IndexThreshold int
	// Lock takes a database-wide session lock while migrating, so two
	// processes starting together do not migrate at once. On PGlite every
	// connection shares one session, so the lock excludes nothing there;
	// the store then retries a migration that lost a race.
	Lock bool
}

func (o StoreOptions) withDefaults() StoreOptions {
	if o.HNSWM <= 0 {
		o.HNSWM = DefaultHNSWM
	}
	if o.HNSWEfConstruction <= 0 {
		o.HNSWEfConstruction = DefaultHNSWEfConstruction
	}
	if o.EfSearch <= 0 {
		o.EfSearch = DefaultEfSearch
	}
	if o.IndexThreshold <= 0 {
		o.IndexThreshold = DefaultIndexThreshold
	}
	return o
}

// Store keeps chunks and their embeddings in Postgres with pgvector and
// searches them. Every method is scoped by tenant. A Store that could not
// open answers every call with the error that stopped it (see
// ErrVectorUnavailable).
type Store struct {
	pool      *pgxpool.Pool
	owned     bool // the store opened the pool and closes it
	log       *slog.Logger
	opts      StoreOptions
	err       error
	iterative bool // pgvector 0.8+: hnsw.iterative_scan for filtered queries
	version   string

	mu        sync.Mutex
	indexed   map[int]bool // vector sizes whose HNSW index exists
	pending   map[int]int  // rows of each unindexed size, as far as known
	holdIndex bool         // Bench loads in bulk: no automatic index build
	changed   int          // rows written or deleted since the last ANALYZE
	rows      int          // the table's rows at the last ANALYZE
}

// ConnectStore connects to the vector database at url and opens the store.
// A pool of one connection is used when the URL says pool_max_conns=1, as
// start.sh's PGlite URL does. When the database is unreachable or lacks
// pgvector, the error wraps ErrVectorUnavailable and the returned store,
// not nil, answers every call with it.
func ConnectStore(ctx context.Context, url string, log *slog.Logger, opts StoreOptions) (*Store, error) {
	pool, err := pg.Connect(ctx, url, pg.Options{})
	if err != nil {
		s := &Store{log: log, err: unavailable("cannot connect to VECTOR_DATABASE_URL (" + err.Error() + ")")}
		return s, s.err
	}
	s, err := OpenStore(ctx, pool, log, opts)
	s.owned = true
	return s, err
}

// OpenStore migrates the vector tables in pool's database and returns the
// store. Errors are as for ConnectStore.
func OpenStore(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, opts StoreOptions) (*Store, error) {
	s := &Store{pool: pool, log: log, opts: opts.withDefaults(), indexed: map[int]bool{}, pending: map[int]int{}}
	if s.err = s.open(ctx); s.err != nil {
		// Whatever stopped it (a migration, a broken data directory), the
		// store answers 503 vector_store_unavailable, never a 500.
		if !errors.Is(s.err, ErrVectorUnavailable) {
			s.err = unavailable("cannot open the vector store (" + s.err.Error() + ")")
		}
		return s, s.err
	}
	log.Info("vector store ready", "pgvector", s.version, "iterative_scan", s.iterative)
	return s, nil
}

// Close closes the pool if the store opened it.
func (s *Store) Close() {
	if s.owned && s.pool != nil {
		s.pool.Close()
	}
}

// Err is the error that keeps the store from serving, or nil.
func (s *Store) Err() error { return s.err }

// PgvectorVersion is the installed pgvector version.
func (s *Store) PgvectorVersion() string { return s.version }

func (s *Store) open(ctx context.Context) error {
	if err := s.checkPgvector(ctx); err != nil {
		return err
	}
	if err := s.migrate(ctx); err != nil {
		return err
	}
	if err := s.pool.QueryRow(ctx, `SELECT extversion FROM pg_extension WHERE extname = 'vector'`).Scan(&s.version); err != nil {
		return fmt.Errorf("read pgvector version: %w", err)
	}
	s.iterative = versionAtLeast(s.version, "0.8.0")
	if err := s.loadIndexes(ctx); err != nil {
		return err
	}
	return s.analyze(ctx)
}

// checkPgvector fails with ErrVectorUnavailable when the server has no
// pgvector, or one older than MinPgvector.
func (s *Store) checkPgvector(ctx context.Context) error {
	var def string
	err := s.pool.QueryRow(ctx, `SELECT coalesce(installed_version, default_version) FROM pg_available_extensions WHERE name = 'vector'`).Scan(&def)
	if isNoRows(err) {
		return unavailable("the Postgres server at VECTOR_DATABASE_URL has no pgvector extension; install pgvector " +
			MinPgvector + " or later on it (Debian: apt-get install postgresql-NN-pgvector), or point VECTOR_DATABASE_URL " +
			"at a server that has it (deploy/dev/pglite/start.sh starts a local one)")
	}
	if err != nil {
		return unavailable("cannot query the vector database (" + err.Error() + ")")
	}
	if !versionAtLeast(def, MinPgvector) {
		return unavailable(fmt.Sprintf("pgvector %s is installed, Kiln needs %s or later; upgrade it (ALTER EXTENSION vector UPDATE)", def, MinPgvector))
	}
	return nil
}

// migrate applies the vector migrations with their own version table,
// retrying a failed attempt: on PGlite, processes starting together share
// one session, so no lock keeps them from racing, and the loser of a race
// finds the work done on its next try.
func (s *Store) migrate(ctx context.Context) error {
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	p, err := s.provider(db)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		_, err = p.Up(ctx)
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &pgErr) && pgErr.Code == "42501":
			return unavailable("the database user may not create the vector extension; ask a superuser to run CREATE EXTENSION vector in that database")
		case attempt == 3:
			return fmt.Errorf("migrate vector database: %w", err)
		}
		s.log.Warn("vector migration failed; retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("migrate vector database: %w", ctx.Err())
		case <-time.After(time.Duration(attempt) * 300 * time.Millisecond):
		}
	}
}

// provider is goose over the vector migrations.
func (s *Store) provider(db *sql.DB) (*goose.Provider, error) {
	files, err := fs.Sub(vectorMigrations, "vectormigrations")
	if err != nil {
		return nil, fmt.Errorf("vector migrations: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithSlog(s.log), goose.WithTableName(VectorVersionTable)}
	if s.opts.Lock {
		locker, err := gooselock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("create migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files, opts...)
	if err != nil {
		return nil, fmt.Errorf("load vector migrations: %w", err)
	}
	return p, nil
}

// MigrateVector applies the vector database's migrations to pool's
// database without opening a store, for `kiln migrate`. It fails with
// ErrVectorUnavailable when the database lacks pgvector.
func MigrateVector(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, lock bool) error {
	s := &Store{pool: pool, log: log, opts: StoreOptions{Lock: lock}.withDefaults()}
	if err := s.checkPgvector(ctx); err != nil {
		return err
	}
	return s.migrate(ctx)
}

// Vector sizes and the type each is indexed as: pgvector's HNSW takes up to
// 2,000 dimensions of vector and 4,000 of halfvec; larger vectors are
// searched exactly, without an index.
const (
	maxVectorIndexDims  = 2000
	maxHalfvecIndexDims = 4000
	// MaxDimensions is the largest vector the store keeps.
	MaxDimensions = 16000
)

// vectorExpr is the indexed expression for vectors of dims, and the cast
// that makes a query vector comparable with it.
func vectorExpr(dims int) (column, param string, indexed bool) {
	switch {
	case dims <= maxVectorIndexDims:
		return fmt.Sprintf("(embedding::vector(%d))", dims), fmt.Sprintf("::vector(%d)", dims), true
	case dims <= maxHalfvecIndexDims:
		return fmt.Sprintf("(embedding::halfvec(%d))", dims), fmt.Sprintf("::vector(%d)::halfvec(%d)", dims, dims), true
	default:
		return "embedding", "::vector", false
	}
}

func isDuplicateTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P07"
}

// versionAtLeast compares dotted version numbers.
func versionAtLeast(v, min string) bool {
	a, b := strings.Split(v, "."), strings.Split(min, ".")
	for i := range max(len(a), len(b)) {
		x, y := part(a, i), part(b, i)
		if x != y {
			return x > y
		}
	}
	return true
}

func part(p []string, i int) int {
	if i >= len(p) {
		return 0
	}
	n, _ := strconv.Atoi(p[i])
	return n
}
