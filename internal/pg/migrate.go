package pg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	gooselock "github.com/pressly/goose/v3/lock"
)

// Source is one package's migrations: the files in Dir of FS, named
// NNNNN_description.sql with numbers unique across all packages.
type Source struct {
	Owner string
	FS    fs.FS
	Dir   string
}

// Migrator applies the union of every package's migrations to one database.
type Migrator struct {
	provider *goose.Provider
	db       *sql.DB
}

// NewMigrator prepares the migrations of sources against pool. With lock, a
// database-wide session lock keeps two processes that start together from
// migrating at once; tests, which migrate a schema each, go without.
func NewMigrator(pool *pgxpool.Pool, log *slog.Logger, lock bool, sources ...Source) (*Migrator, error) {
	files, err := unite(sources)
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithSlog(log)}
	if lock {
		locker, err := gooselock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("create migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	db := stdlib.OpenDBFromPool(pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, files, opts...)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return &Migrator{provider: p, db: db}, nil
}

// Close releases the migrator's database handle (not the pool).
func (m *Migrator) Close() error { return m.db.Close() }

// Up applies every pending migration.
func (m *Migrator) Up(ctx context.Context) error {
	if _, err := m.provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	return nil
}

// Down rolls back the most recent migration.
func (m *Migrator) Down(ctx context.Context) error {
	if _, err := m.provider.Down(ctx); err != nil {
		if errors.Is(err, goose.ErrNoNextVersion) {
			return errors.New("migrate down: nothing to roll back")
		}
		return fmt.Errorf("migrate down: %w", err)
	}
	return nil
}

// Status describes one migration and when it was applied.
type Status struct {
	Version   int64
	Name      string
	AppliedAt time.Time // zero when pending
}

// Status lists every migration with its state.
func (m *Migrator) Status(ctx context.Context) ([]Status, error) {
	st, err := m.provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]Status, 0, len(st))
	for _, s := range st {
		out = append(out, Status{Version: s.Source.Version, Name: path.Base(s.Source.Path), AppliedAt: s.AppliedAt})
	}
	return out, nil
}

// unite collects the .sql files of every source into one flat file system
// and refuses two files with the same version number.
func unite(sources []Source) (fs.FS, error) {
	u := unionFS{}
	owners := map[string]string{}
	for _, s := range sources {
		entries, err := fs.ReadDir(s.FS, s.Dir)
		if err != nil {
			return nil, fmt.Errorf("read %s migrations: %w", s.Owner, err)
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".sql") {
				continue
			}
			version, _, _ := strings.Cut(name, "_")
			if prev, ok := owners[version]; ok {
				return nil, fmt.Errorf("migration version %s is used by both %s and %s", version, prev, s.Owner)
			}
			owners[version] = s.Owner
			u[name] = fileRef{fsys: s.FS, path: path.Join(s.Dir, name)}
		}
	}
	return u, nil
}

type fileRef struct {
	fsys fs.FS
	path string
}

// unionFS is a flat, read-only file system over files from several sources.
type unionFS map[string]fileRef

func (u unionFS) Open(name string) (fs.File, error) {
	ref, ok := u[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return ref.fsys.Open(ref.path)
}

func (u unionFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if name != "." {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	out := make([]fs.DirEntry, 0, len(u))
	for n, ref := range u {
		info, err := fs.Stat(ref.fsys, ref.path)
		if err != nil {
			return nil, fmt.Errorf("stat migration %s: %w", n, err)
		}
		out = append(out, fs.FileInfoToDirEntry(renamed{info, n}))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

func (u unionFS) Glob(pattern string) ([]string, error) {
	var out []string
	for n := range u {
		if ok, err := path.Match(pattern, n); err != nil {
			return nil, err
		} else if ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

type renamed struct {
	fs.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }
