// Package e2e runs the kiln binary as a separate process against the real
// Postgres and Redis, to test what only a real process shows: a worker
// killed mid-job, and a worker draining on SIGTERM.
package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/jobs"
)

// kilnBinary is built once per test run by TestMain.
var kilnBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kiln-e2e")
	if err != nil {
		panic(err)
	}
	kilnBinary = filepath.Join(dir, "kiln")
	build := exec.Command("go", "build", "-o", kilnBinary, "../cmd/kiln")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		panic("build kiln: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// stack is one test's database, namespace and an engine to submit with.
type stack struct {
	t      *testing.T
	db     *testkit.DB
	ns     string
	svc    *jobs.Service
	tenant string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	db := testkit.NewDB(t)
	rd := testkit.NewRedis(t)
	ns := testkit.Namespace(t, rd)
	log := testkit.Logger(t)
	kinds := jobs.NewRegistry()
	kinds.Register(jobs.EchoKind())
	svc := jobs.New(db.Pool, rd.Client, log, jobs.Config{Namespace: ns, SignupCredits: 100}, kinds)
	ids, err := identity.New(db.Pool, log, identity.Config{})
	testkit.Must(t, "identity", err)
	ids.OnTenantCreated(func(ctx context.Context, tx pgx.Tx, tn identity.Tenant) error { return svc.OpenAccount(ctx, tx, tn.ID) })
	tn, err := ids.CreateTenant(context.Background(), "Acme", "")
	testkit.Must(t, "tenant", err)
	return &stack{t: t, db: db, ns: ns, svc: svc, tenant: tn.ID}
}

// worker starts `kiln worker` on the stack's schema and namespace.
func (s *stack) worker(grace string) *exec.Cmd {
	s.t.Helper()
	cmd := exec.Command(kilnBinary, "worker")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+s.db.URL, "REDIS_URL="+testkit.RedisURL(), "KILN_NAMESPACE="+s.ns,
		"KILN_DIAGNOSTIC_KINDS=1", "KILN_SHUTDOWN_GRACE="+grace, "KILN_WORKER_CONCURRENCY=4", "KILN_LOG_LEVEL=warn",
		"KILN_MEDIA_DIR="+s.t.TempDir())
	log, err := os.Create(filepath.Join(s.t.TempDir(), "worker.log"))
	testkit.Must(s.t, "worker log", err)
	cmd.Stdout, cmd.Stderr = log, log
	testkit.Must(s.t, "start worker", cmd.Start())
	s.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if s.t.Failed() {
			out, _ := os.ReadFile(log.Name())
			s.t.Logf("worker log:\n%s", out)
		}
	})
	return cmd
}

func (s *stack) submit(input map[string]any) jobs.Job {
	s.t.Helper()
	raw, _ := json.Marshal(input)
	j, err := s.svc.Submit(context.Background(), jobs.SubmitRequest{TenantID: s.tenant, Kind: "system.echo", Input: raw})
	testkit.Must(s.t, "submit", err)
	return j
}

// await polls until the job's status satisfies ok.
func (s *stack) await(id string, timeout time.Duration, ok func(jobs.Job) bool) jobs.Job {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		j, err := s.svc.Get(context.Background(), s.tenant, id)
		testkit.Must(s.t, "get job", err)
		if ok(j) {
			return j
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("job %s is %s after %v", id, j.Status, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func running(j jobs.Job) bool { return j.Status == jobs.StatusRunning }
func final(j jobs.Job) bool   { return j.Status.Final() }

// ledgerOf returns the job's ledger entries by kind.
func (s *stack) ledgerOf(id string) map[string]int64 {
	rows, err := s.db.Pool.Query(context.Background(), `SELECT entry, amount FROM credit_ledger WHERE job_id = $1`, id)
	testkit.Must(s.t, "ledger", err)
	out := map[string]int64{}
	for rows.Next() {
		var e string
		var a int64
		testkit.Must(s.t, "scan", rows.Scan(&e, &a))
		if _, dup := out[e]; dup {
			s.t.Fatalf("job %s has two %s entries", id, e)
		}
		out[e] = a
	}
	return out
}

func TestKilledWorkerJobRunsAgainAndIsChargedOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	j := s.submit(map[string]any{"sleep_ms": 3000, "progress_steps": 3})
	first := s.worker("5s")
	s.await(j.ID, 30*time.Second, running)
	testkit.Must(t, "SIGKILL", first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()

	s.worker("5s")
	// Asynq hands back a dead worker's task once its lease has expired.
	done := s.await(j.ID, 4*time.Minute, final)
	if done.Status != jobs.StatusSucceeded || done.Attempt != 2 {
		t.Fatalf("job after SIGKILL: %s on attempt %d, want succeeded on attempt 2", done.Status, done.Attempt)
	}
	if l := s.ledgerOf(j.ID); l["reserve"] != -1 || l["release"] != 0 || *done.Credits.Charged != 1 {
		t.Fatalf("ledger %v, charged %v: want one reserve of 1 and one release of 0", l, *done.Credits.Charged)
	}
}

func TestSIGTERMDrainsRunningJobs(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	j := s.submit(map[string]any{"sleep_ms": 1500})
	w := s.worker("20s")
	s.await(j.ID, 30*time.Second, running)
	testkit.Must(t, "SIGTERM", w.Process.Signal(syscall.SIGTERM))
	testkit.Must(t, "worker exit", w.Wait())
	done, err := s.svc.Get(context.Background(), s.tenant, j.ID)
	testkit.Must(t, "get", err)
	if done.Status != jobs.StatusSucceeded || done.Attempt != 1 {
		t.Fatalf("job finished during the drain: %s on attempt %d, want succeeded on attempt 1", done.Status, done.Attempt)
	}
}

func TestSIGTERMReturnsUnfinishedJobsToTheQueue(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	j := s.submit(map[string]any{"sleep_ms": 4000})
	w := s.worker("1s")
	s.await(j.ID, 30*time.Second, running)
	testkit.Must(t, "SIGTERM", w.Process.Signal(syscall.SIGTERM))
	_ = w.Wait() // past the grace the worker gives the task back and exits

	s.worker("20s")
	done := s.await(j.ID, 60*time.Second, final)
	if done.Status != jobs.StatusSucceeded || done.Attempt != 2 {
		t.Fatalf("job given back on shutdown: %s on attempt %d, want succeeded on attempt 2", done.Status, done.Attempt)
	}
	if l := s.ledgerOf(j.ID); l["reserve"] != -1 || l["release"] != 0 {
		t.Fatalf("ledger %v: want one reserve and one release of 0", l)
	}
}
