package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/jobs"
)

// harness is one test's engine over its own schema and queue namespace.
type harness struct {
	t     *testing.T
	db    *testkit.DB
	redis *redis.Client
	opt   asynq.RedisConnOpt
	ids   *identity.Service
	svc   *jobs.Service
	ns    string
}

type options struct {
	maxActive int
	redis     *redis.Client // a private Redis; the shared test Redis when nil
	kinds     []jobs.Kind   // registered beside system.echo
}

func setup(t *testing.T, o options) *harness {
	t.Helper()
	db := testkit.NewDB(t)
	h := &harness{t: t, db: db}
	if o.redis != nil {
		h.redis = o.redis
		h.ns = "kiln"
		h.opt = asynq.RedisClientOpt{Addr: o.redis.Options().Addr}
	} else {
		rd := testkit.NewRedis(t)
		h.redis = rd.Client
		h.ns = testkit.Namespace(t, rd)
		opt, err := asynq.ParseRedisURI(testkit.RedisURL())
		testkit.Must(t, "redis url", err)
		h.opt = opt
	}
	if o.maxActive == 0 {
		o.maxActive = 100
	}
	log := testkit.Logger(t)
	ids, err := identity.New(db.Pool, log, identity.Config{})
	testkit.Must(t, "identity", err)
	kinds := jobs.NewRegistry()
	kinds.Register(jobs.EchoKind())
	kinds.Register(loggerKind())
	for _, k := range o.kinds {
		kinds.Register(k)
	}
	h.svc = jobs.New(db.Pool, h.redis, log, jobs.Config{Namespace: h.ns, PublicURL: "http://kiln.test",
		SignupCredits: 100_000, TenantMaxActive: o.maxActive, RelayInterval: 200 * time.Millisecond}, kinds)
	ids.OnTenantCreated(func(ctx context.Context, tx pgx.Tx, tn identity.Tenant) error {
		return h.svc.OpenAccount(ctx, tx, tn.ID)
	})
	h.ids = ids
	return h
}

// tenant creates a tenant with 100,000 credits and returns its id.
func (h *harness) tenant(name string) string {
	h.t.Helper()
	tn, err := h.ids.CreateTenant(context.Background(), name, "")
	testkit.Must(h.t, "create tenant", err)
	return tn.ID
}

// startWorker runs a worker with the relay and cancel listener until the
// returned stop is called (or the test ends).
func (h *harness) startWorker(concurrency int) (stop func()) {
	h.t.Helper()
	return testkit.StartWorkerOn(h.t, h.svc, h.opt, h.ns, concurrency)
}

// echo submits a system.echo job with input for tenantID.
func (h *harness) echo(tenantID string, input map[string]any) jobs.Job {
	h.t.Helper()
	raw, err := json.Marshal(input)
	testkit.Must(h.t, "encode input", err)
	j, err := h.svc.Submit(context.Background(), jobs.SubmitRequest{TenantID: tenantID, Kind: "system.echo", Input: raw})
	testkit.Must(h.t, "submit", err)
	return j
}

// waitFinal waits until no job of the test is unfinished.
func (h *harness) waitFinal(timeout time.Duration) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var open int
		testkit.Must(h.t, "count open jobs", h.db.Pool.QueryRow(context.Background(),
			`SELECT count(*) FROM jobs WHERE status NOT IN ('succeeded', 'failed', 'canceled')`).Scan(&open))
		if open == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%d jobs still unfinished after %v", open, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkLedger asserts the credit invariants (testkit.CheckLedger).
func (h *harness) checkLedger() {
	h.t.Helper()
	testkit.CheckLedger(h.t, h.db.Pool)
}

// privateRedis starts a Redis server of the test's own on a free port, for
// tests that flush or stop it.
func privateRedis(t *testing.T) *redis.Client {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	testkit.Must(t, "find a free port", err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	testkit.Must(t, "start redis-server (install it with make services)", cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	t.Cleanup(func() { c.Close() })
	for i := 0; ; i++ {
		if c.Ping(context.Background()).Err() == nil {
			return c
		}
		if i > 100 {
			t.Fatal("private redis-server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loggerKind is a test kind whose handler writes a log line and reports its
// usage below the reservation.
func loggerKind() jobs.Kind {
	return jobs.Kind{
		Name: "test.logger", Price: 5,
		Validate: func(in json.RawMessage) (json.RawMessage, error) { return in, nil },
		Handler: func(ctx context.Context, run *jobs.Run) (any, error) {
			if err := run.Log(ctx, "info", "half the work was enough"); err != nil {
				return nil, err
			}
			run.SetUsage(2)
			return map[string]bool{"done": true}, nil
		},
	}
}
