package bench_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/kilnhq/kiln/bench"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/testkit"
)

// TestQuickRun runs the smoke sizes against the real Postgres and Redis
// and checks that every figure was measured and the tenant is gone.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark's smoke sizes (about 20 s)")
	}
	db := testkit.NewDB(t)
	rd := testkit.NewRedis(t)
	opt, err := asynq.ParseRedisURI(testkit.RedisURL())
	testkit.Must(t, "parse redis url", err)
	cfg := bench.DefaultConfig()
	cfg.Sizes = bench.QuickSizes()
	cfg.DB, cfg.Redis, cfg.RedisOpt = db.Pool, rd.Client, opt
	cfg.Namespace = testkit.Namespace(t, rd)
	cfg.Timeout = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	res, err := bench.Run(ctx, cfg, testkit.Logger(t))
	testkit.Must(t, "bench.Run", err)

	for name, v := range map[string]float64{
		"submit": res.Submit.PerSecond(), "end-to-end": res.E2E.PerSecond(),
		"raw enqueue": res.RawEnqueue.PerSecond(), "raw processing": res.RawProcess.PerSecond(),
	} {
		if v <= 0 {
			t.Errorf("%s rate = %v, want > 0", name, v)
		}
	}
	for name, l := range map[string]bench.Latency{
		"submit": res.SubmitLatency, "submit-to-start": res.SubmitToStart,
		"raw pickup": res.RawPickup, "raw pickup at poll": res.RawPickupAtPoll,
	} {
		if l.Samples == 0 || l.P50 <= 0 || l.P99 < l.P50 {
			t.Errorf("%s latency = %+v, want samples and 0 < p50 <= p99", name, l)
		}
	}
	var out bytes.Buffer
	testkit.Must(t, "print", res.Print(&out))
	if !bytes.Contains(out.Bytes(), []byte("submit-to-start p50")) {
		t.Errorf("table lacks the submit-to-start row:\n%s", out.String())
	}
	on, err := pg.Autovacuum(ctx, db.Pool)
	testkit.Must(t, "read autovacuum", err)
	want := bench.Housekeeping{Autovacuum: on, Vacuumed: !on, Analyzed: !on}
	if res.Housekeeping != want {
		t.Errorf("housekeeping = %+v, want %+v (autovacuum off: the bench vacuums and analyzes)", res.Housekeeping, want)
	}
	if !bytes.Contains(out.Bytes(), []byte(res.Housekeeping.String())) {
		t.Errorf("report lacks the housekeeping line:\n%s", out.String())
	}
	var tenants int
	testkit.Must(t, "count tenants", db.Pool.QueryRow(ctx, `SELECT count(*) FROM tenants`).Scan(&tenants))
	if tenants != 0 {
		t.Errorf("%d tenants left after the run, want 0", tenants)
	}
	t.Logf("quick run:\n%s", out.String())
}
