// Package testkit gives tests the real Postgres and Redis on the machine,
// isolated per test: each test gets a fresh Postgres schema with every
// migration applied, and a Redis key prefix of its own. Nothing is mocked.
// Start the services with `make services` (deploy/dev/services.sh).
package testkit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/schema"
)

// DatabaseURL is the test database: KILN_TEST_DATABASE_URL, or the kiln_test
// database that deploy/dev/services.sh creates.
func DatabaseURL() string {
	if u := os.Getenv("KILN_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://kiln:kiln@127.0.0.1:5432/kiln_test?sslmode=disable"
}

// RedisURL is the test Redis: KILN_TEST_REDIS_URL or the local default.
func RedisURL() string {
	if u := os.Getenv("KILN_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// DB is a test's own database: a pool whose connections use a fresh schema.
type DB struct {
	Pool   *pgxpool.Pool
	Schema string
	// URL connects to the same schema, for a subprocess under test.
	URL string
}

// NewDB creates a schema for t, applies every migration to it, and drops it
// when t ends.
func NewDB(t testing.TB) *DB {
	t.Helper()
	ctx := context.Background()
	name := "t_" + strings.TrimPrefix(ids.New("x"), "x_")
	admin, err := pg.Connect(ctx, DatabaseURL(), pg.Options{MaxConns: 1})
	if err != nil {
		t.Fatalf("testkit: %v (start the services with `make services`)", err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		admin.Close()
		t.Fatalf("testkit: create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("testkit: drop schema %s: %v", name, err)
		}
		admin.Close()
	})
	pool, err := pg.Connect(ctx, DatabaseURL(), pg.Options{SearchPath: name + ",public", MaxConns: 8})
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	t.Cleanup(pool.Close)
	m, err := schema.Migrator(pool, Logger(t), false)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	defer m.Close()
	if err := m.Up(ctx); err != nil {
		t.Fatalf("testkit: migrate schema %s: %v", name, err)
	}
	return &DB{Pool: pool, Schema: name, URL: withSearchPath(DatabaseURL(), name)}
}

func withSearchPath(url, schema string) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema + ",public"
}

// Redis is a test's Redis client and the key prefix it owns.
type Redis struct {
	Client *redis.Client
	Prefix string
}

// NewRedis connects to the test Redis and deletes the test's keys (those
// under Prefix) when t ends.
func NewRedis(t testing.TB) *Redis {
	t.Helper()
	opts, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatalf("testkit: parse KILN_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("testkit: connect to redis: %v (start the services with `make services`)", err)
	}
	r := &Redis{Client: c, Prefix: "test:" + strings.TrimPrefix(ids.New("x"), "x_") + ":"}
	t.Cleanup(func() {
		defer c.Close()
		keys, err := c.Keys(context.Background(), r.Prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			err = c.Del(context.Background(), keys...).Err()
		}
		if err != nil {
			t.Errorf("testkit: clean redis prefix %s: %v", r.Prefix, err)
		}
	})
	return r
}

// Namespace returns a queue namespace of t's own and deletes its Asynq
// queues when t ends, so tests can run workers side by side on one Redis.
func Namespace(t testing.TB, r *Redis) string {
	t.Helper()
	ns := "t" + strings.TrimPrefix(ids.New("x"), "x_")
	t.Cleanup(func() {
		insp := asynq.NewInspectorFromRedisClient(r.Client)
		queues, err := insp.Queues()
		if err != nil {
			t.Errorf("testkit: list queues: %v", err)
			return
		}
		for _, q := range queues {
			if !strings.HasPrefix(q, ns+":") {
				continue
			}
			// A worker killed by the test leaves its task active until its
			// lease runs out, and Asynq will not delete a queue with active
			// tasks: then remove the queue's keys directly.
			if err := insp.DeleteQueue(q, true); err != nil {
				if err := dropQueueKeys(r.Client, q); err != nil {
					t.Errorf("testkit: delete queue %s: %v", q, err)
				}
			}
		}
	})
	return ns
}

// dropQueueKeys removes an Asynq queue's keys and its registration.
func dropQueueKeys(c *redis.Client, queue string) error {
	ctx := context.Background()
	iter := c.Scan(ctx, 0, "asynq:{"+queue+"}:*", 1000).Iterator()
	for iter.Next(ctx) {
		if err := c.Del(ctx, iter.Val()).Err(); err != nil {
			return err
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	return c.SRem(ctx, "asynq:queues", queue).Err()
}

// Logger returns a logger whose output is printed only if t fails. Lines
// logged after t ends (by goroutines still stopping) are dropped.
func Logger(t testing.TB) *slog.Logger {
	w := &bufferedLog{}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if t.Failed() && w.buf.Len() > 0 {
			t.Logf("log output:\n%s", w.buf.String())
		}
		w.closed = true
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type bufferedLog struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	closed bool
}

func (w *bufferedLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.buf.Write(p)
	}
	return len(p), nil
}

// Discard is a logger that drops everything, for benchmarks.
func Discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Must fails t when err is not nil, naming what was being done.
func Must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(fmt.Errorf("%s: %w", what, err))
	}
}
