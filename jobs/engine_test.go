package jobs_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/jobs"
)

// TestRedisLosingItsDataLosesNoJob submits jobs, flushes Redis (FLUSHALL on
// a Redis of the test's own), and checks the relay brings every job back.
func TestRedisLosingItsDataLosesNoJob(t *testing.T) {
	rdb := privateRedis(t)
	h := setup(t, options{redis: rdb})
	tenant := h.tenant("Acme")
	const n = 30
	for range n {
		h.echo(tenant, map[string]any{"message": "survive"})
	}
	size, err := rdb.DBSize(context.Background()).Result()
	testkit.Must(t, "dbsize", err)
	if size == 0 {
		t.Fatal("nothing was enqueued before the flush")
	}
	testkit.Must(t, "flushall", rdb.FlushAll(context.Background()).Err())
	h.startWorker(8)
	h.waitFinal(45 * time.Second)
	var ok int
	testkit.Must(t, "count", h.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM jobs WHERE status = 'succeeded' AND attempt = 1`).Scan(&ok))
	if ok != n {
		t.Fatalf("%d of %d jobs succeeded on their first attempt after FLUSHALL", ok, n)
	}
	h.checkLedger()
}

// TestBusyTenantDoesNotStarveAnother queues 10,000 jobs of 100 ms for one
// tenant and checks that another tenant's job, submitted after, starts
// before more than the first tenant's cap of admitted jobs (plus what was
// running) has started: admission, not arrival order, decides.
func TestBusyTenantDoesNotStarveAnother(t *testing.T) {
	const backlog, maxActive, concurrency = 10_000, 50, 10
	h := setup(t, options{maxActive: maxActive})
	busy, other := h.tenant("Busy"), h.tenant("Other")
	stop := h.startWorker(concurrency)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < backlog; i += 16 {
				h.echo(busy, map[string]any{"sleep_ms": 100})
			}
		}()
	}
	wg.Wait()
	j := h.echo(other, map[string]any{"message": "me too"})
	deadline := time.Now().Add(60 * time.Second)
	var started *time.Time
	for started == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		testkit.Must(t, "read job", h.db.Pool.QueryRow(context.Background(), `SELECT started_at FROM jobs WHERE id = $1`, j.ID).Scan(&started))
	}
	if started == nil {
		t.Fatal("the other tenant's job never started")
	}
	var ahead int
	testkit.Must(t, "count", h.db.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM jobs WHERE tenant_id = $1 AND started_at > $3 AND started_at < $2`, busy, *started, j.CreatedAt).Scan(&ahead))
	t.Logf("the other tenant's job started %v after submit; %d of the busy tenant's jobs started in between",
		started.Sub(j.CreatedAt).Round(time.Millisecond), ahead)
	// The cap is soft: the 16 concurrent submitters may each pass it once.
	if limit := maxActive + concurrency + 16; ahead > limit {
		t.Fatalf("%d of the busy tenant's jobs started first, want at most %d (cap %d, %d running, 16 racing submits)", ahead, limit, maxActive, concurrency)
	}
	stop()
}

// TestLedgerUnderRandomOutcomes runs many jobs that randomly succeed, fail,
// retry, panic, are canceled or delivered twice (as after a crash between
// the work and its acknowledgement), and checks that every tenant's balance
// is the sum of its ledger and every job was reserved and settled once.
func TestLedgerUnderRandomOutcomes(t *testing.T) {
	h := setup(t, options{})
	tenants := []string{h.tenant("A"), h.tenant("B"), h.tenant("C")}
	h.startWorker(8)
	rng := rand.New(rand.NewPCG(1, 2))
	var submitted []jobs.Job
	for range 150 {
		in := map[string]any{"sleep_ms": rng.IntN(40)}
		switch r := rng.IntN(10); {
		case r == 0:
			in["panic"] = true
		case r < 3:
			in["fail_times"] = rng.IntN(7) // five attempts: six or more never succeed
		}
		submitted = append(submitted, h.echo(tenants[rng.IntN(len(tenants))], in))
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for _, j := range submitted {
		switch r := rng.IntN(10); {
		case r < 2:
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
				if _, err := h.svc.Cancel(ctx, j.TenantID, j.ID); err != nil && !errors.Is(err, jobs.ErrFinal) {
					t.Errorf("cancel %s: %v", j.ID, err)
				}
			}()
		case r < 4:
			wg.Add(1)
			go func() { // a second delivery of the same task
				defer wg.Done()
				_ = h.svc.ProcessTask(ctx, asynq.NewTask(j.Kind, []byte(j.ID)))
			}()
		}
	}
	wg.Wait()
	h.waitFinal(90 * time.Second)
	h.checkLedger()

	for _, tn := range tenants {
		var succeeded int64
		testkit.Must(t, "count", h.db.Pool.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE tenant_id = $1 AND status = 'succeeded'`, tn).Scan(&succeeded))
		b, err := h.svc.Balance(ctx, tn)
		testkit.Must(t, "balance", err)
		if b.Balance != 100_000-succeeded || b.Reserved != 0 {
			t.Errorf("tenant %s: balance %d reserved %d, want %d and 0 (%d succeeded at 1 credit)", tn, b.Balance, b.Reserved, 100_000-succeeded, succeeded)
		}
	}
}

// TestAsynqCancelEndsTheJobCanceled cancels a running task the way asynqmon
// does (Inspector.CancelProcessing). Asynq then retries the task whatever
// the handler returns; the job must still end canceled and not run again.
func TestAsynqCancelEndsTheJobCanceled(t *testing.T) {
	h := setup(t, options{})
	tenant := h.tenant("Acme")
	h.startWorker(4)
	j := h.echo(tenant, map[string]any{"sleep_ms": 30000, "progress_steps": 30})
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := h.svc.Get(ctx, tenant, j.ID)
		testkit.Must(t, "get", err)
		if got.Status == jobs.StatusRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job never started: %s", got.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	insp := asynq.NewInspectorFromRedisClient(h.redis)
	testkit.Must(t, "cancel processing", insp.CancelProcessing(j.ID))
	h.waitFinal(20 * time.Second)
	// Wait for Asynq's redelivery to be acknowledged: then it holds no task.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, err := insp.GetTaskInfo(h.svc.Queue(jobs.PriorityNormal), j.ID)
		if errors.Is(err, asynq.ErrTaskNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Asynq still holds the canceled task: %v", err)
		}
	}
	got, err := h.svc.Get(ctx, tenant, j.ID)
	testkit.Must(t, "get", err)
	if got.Status != jobs.StatusCanceled || got.Attempt != 1 || *got.Credits.Charged != 0 {
		t.Fatalf("job after asynq's cancel: %s, attempt %d, charged %d; want canceled, 1, 0", got.Status, got.Attempt, *got.Credits.Charged)
	}
	h.checkLedger()
}

// TestLogLinesAndPartialUsage checks a handler's log line becomes a job.log
// event, and that a job which used less than it reserved is charged what it
// used and given the rest back.
func TestLogLinesAndPartialUsage(t *testing.T) {
	h := setup(t, options{})
	tenant := h.tenant("Acme")
	h.startWorker(2)
	ctx := context.Background()
	j, err := h.svc.Submit(ctx, jobs.SubmitRequest{TenantID: tenant, Kind: "test.logger"})
	testkit.Must(t, "submit", err)
	h.waitFinal(20 * time.Second)
	got, err := h.svc.Get(ctx, tenant, j.ID)
	testkit.Must(t, "get", err)
	if got.Status != jobs.StatusSucceeded || got.Credits.Reserved != 5 || *got.Credits.Charged != 2 {
		t.Fatalf("job = %s, reserved %d, charged %v; want succeeded, 5, 2", got.Status, got.Credits.Reserved, *got.Credits.Charged)
	}
	events, err := h.svc.Events(ctx, tenant, j.ID, 0)
	testkit.Must(t, "events", err)
	logged := false
	for _, e := range events {
		if e.Type == jobs.EventLog && strings.Contains(string(e.Data), "half the work was enough") {
			logged = true
		}
	}
	if !logged {
		t.Fatalf("no job.log event among %d events", len(events))
	}
	b, err := h.svc.Balance(ctx, tenant)
	testkit.Must(t, "balance", err)
	if b.Balance != 100_000-2 || b.Reserved != 0 {
		t.Fatalf("balance %d reserved %d, want %d and 0", b.Balance, b.Reserved, 100_000-2)
	}
	h.checkLedger()
}

// TestCancelScheduledJob cancels a job that waits for its run_at: it ends
// canceled at once, releases its credits, and is never promoted or run.
func TestCancelScheduledJob(t *testing.T) {
	h := setup(t, options{})
	tenant := h.tenant("Acme")
	h.startWorker(2)
	ctx := context.Background()
	runAt := time.Now().Add(time.Hour)
	j, err := h.svc.Submit(ctx, jobs.SubmitRequest{TenantID: tenant, Kind: "system.echo", RunAt: &runAt})
	testkit.Must(t, "submit", err)
	if j.Status != jobs.StatusScheduled {
		t.Fatalf("job with a future run_at is %s, want scheduled", j.Status)
	}
	got, err := h.svc.Cancel(ctx, tenant, j.ID)
	testkit.Must(t, "cancel", err)
	if got.Status != jobs.StatusCanceled || *got.Credits.Charged != 0 || got.Attempt != 0 {
		t.Fatalf("canceled scheduled job = %s, charged %v, attempt %d", got.Status, *got.Credits.Charged, got.Attempt)
	}
	testkit.Must(t, "relay tick", h.svc.RelayOnce(ctx))
	if again, _ := h.svc.Get(ctx, tenant, j.ID); again.Status != jobs.StatusCanceled {
		t.Fatalf("after a relay tick the job is %s", again.Status)
	}
	h.checkLedger()
}

// TestJobSlotsFollowDeletes checks the admission count where jobs leave by
// deletion, not by finishing: deleting an admitted job frees its place, and
// deleting a tenant with admitted jobs (its jobs and its job_slots row both
// cascade) succeeds.
func TestJobSlotsFollowDeletes(t *testing.T) {
	h := setup(t, options{maxActive: 3})
	tenant := h.tenant("Acme")
	ctx := context.Background()
	for range 5 {
		h.echo(tenant, nil)
	}
	active := func() (n int) {
		t.Helper()
		testkit.Must(t, "read job_slots", h.db.Pool.QueryRow(ctx, `SELECT coalesce((SELECT active FROM job_slots WHERE tenant_id = $1), -1)`, tenant).Scan(&n))
		return n
	}
	if n := active(); n != 3 {
		t.Fatalf("after 5 submits under a cap of 3: job_slots says %d active, want 3", n)
	}
	var first string
	testkit.Must(t, "find an admitted job", h.db.Pool.QueryRow(ctx,
		`SELECT id FROM jobs WHERE tenant_id = $1 AND admitted_at IS NOT NULL ORDER BY id LIMIT 1`, tenant).Scan(&first))
	_, err := h.db.Pool.Exec(ctx, `DELETE FROM jobs WHERE id = $1`, first)
	testkit.Must(t, "delete an admitted job", err)
	if n := active(); n != 2 {
		t.Fatalf("after deleting an admitted job: job_slots says %d active, want 2", n)
	}
	_, err = h.db.Pool.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, tenant)
	testkit.Must(t, "delete the tenant with its admitted jobs", err)
	if n := active(); n != -1 {
		t.Fatalf("after deleting the tenant: job_slots row still there (%d active)", n)
	}
}
