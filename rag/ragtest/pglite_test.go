package ragtest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/rag/ragtest"
)

// These tests hold the vector database server (PGlite behind
// deploy/dev/pglite/server.mjs, unless KILN_TEST_VECTOR_DATABASE_URL says
// otherwise) to what the store relies on: connections that do not see
// each other's half-done work, and a session that survives a client dying
// inside a transaction.

func table(t *testing.T, url string) string {
	t.Helper()
	ctx := context.Background()
	name := "ragtest_" + ids.New("t")[2:]
	conn, err := pgx.Connect(ctx, url)
	testkit.Must(t, "connect", err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (worker int, n int)", name))
	testkit.Must(t, "create table", err)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), url)
		if err == nil {
			_, err = c.Exec(context.Background(), "DROP TABLE "+name)
			c.Close(context.Background())
		}
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	return name
}

func TestConcurrentConnectionsKeepTheirTransactions(t *testing.T) {
	ctx := context.Background()
	url := ragtest.URL(t)
	tbl := table(t, url)
	const workers, rounds = 6, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool, err := pg.Connect(ctx, url, pg.Options{MaxConns: 1})
			if err != nil {
				errs <- err
				return
			}
			defer pool.Close()
			for i := range rounds {
				if err := round(ctx, pool.Begin, tbl, w, i); err != nil {
					errs <- fmt.Errorf("worker %d round %d: %w", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	conn, err := pgx.Connect(ctx, url)
	testkit.Must(t, "connect", err)
	defer conn.Close(ctx)
	var n int
	testkit.Must(t, "count", conn.QueryRow(ctx, "SELECT count(*) FROM "+tbl).Scan(&n))
	if want := workers * (rounds - rounds/5); n != want {
		t.Fatalf("%d rows, want %d (every fifth transaction rolls back)", n, want)
	}
}

// round inserts a row in a transaction, checks that the transaction sees
// exactly its worker's committed rows plus this one, and rolls back every
// fifth round.
func round(ctx context.Context, begin func(context.Context) (pgx.Tx, error), tbl string, w, i int) error {
	tx, err := begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after commit it is a no-op
	if _, err := tx.Exec(ctx, "INSERT INTO "+tbl+" VALUES ($1, $2)", w, i); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+tbl+" WHERE worker = $1", w).Scan(&n); err != nil {
		return err
	}
	if want := i - i/5 + 1; n != want {
		return fmt.Errorf("the transaction sees %d of its worker's rows, want %d", n, want)
	}
	if i%5 == 4 {
		return tx.Rollback(ctx)
	}
	return tx.Commit(ctx)
}

func TestAClientDyingInATransactionFreesTheSession(t *testing.T) {
	ctx := context.Background()
	url := ragtest.URL(t)
	tbl := table(t, url)
	dying, err := pgx.Connect(ctx, url)
	testkit.Must(t, "connect", err)
	_, err = dying.Exec(ctx, "BEGIN")
	testkit.Must(t, "begin", err)
	_, err = dying.Exec(ctx, "INSERT INTO "+tbl+" VALUES (1, 1)")
	testkit.Must(t, "insert", err)
	testkit.Must(t, "drop the socket", dying.PgConn().Conn().Close()) // no ROLLBACK, no Terminate
	other, err := pgx.Connect(ctx, url)
	testkit.Must(t, "connect", err)
	defer other.Close(ctx)
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var n int
	testkit.Must(t, "query after the other client died", other.QueryRow(qctx, "SELECT count(*) FROM "+tbl).Scan(&n))
	if n != 0 {
		t.Fatalf("the dead client's uncommitted row is visible (%d rows)", n)
	}
}
