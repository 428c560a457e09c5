package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/jobs"
)

// runCounter counts handler runs per job id.
type runCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *runCounter) next(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[id]++
	return c.n[id]
}

func validAny(in json.RawMessage) (json.RawMessage, error) { return in, nil }

// waiterKind parks on its first run for wait, and succeeds on its second.
func waiterKind(runs *runCounter, wait time.Duration, canceled chan<- string) jobs.Kind {
	return jobs.Kind{Name: "test.waiter", Price: 2, Validate: validAny,
		Handler: func(ctx context.Context, run *jobs.Run) (any, error) {
			if runs.next(run.Job.ID) == 1 {
				return nil, jobs.Await(wait)
			}
			run.SetUsage(1)
			return map[string]any{"attempt": run.Job.Attempt}, nil
		},
		OnCancel: func(ctx context.Context, j jobs.Job) error {
			canceled <- j.ID
			return nil
		},
	}
}

func submit(t *testing.T, h *harness, tenant, kind string, input any) jobs.Job {
	t.Helper()
	raw, err := json.Marshal(input)
	testkit.Must(t, "encode input", err)
	j, err := h.svc.Submit(context.Background(), jobs.SubmitRequest{TenantID: tenant, Kind: kind, Input: raw})
	testkit.Must(t, "submit "+kind, err)
	return j
}

// waitFor polls job id until cond holds or timeout passes.
func waitFor(t *testing.T, h *harness, tenant, id string, timeout time.Duration, what string, cond func(jobs.Job) bool) jobs.Job {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		j, err := h.svc.Get(context.Background(), tenant, id)
		testkit.Must(t, "get job", err)
		if cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: not %s after %v: status %s", id, what, timeout, j.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// parked reports whether the job is parked, read from its row.
func parked(t *testing.T, h *harness, id string) bool {
	t.Helper()
	var p bool
	testkit.Must(t, "read parked", h.db.Pool.QueryRow(context.Background(),
		`SELECT parked_until IS NOT NULL FROM jobs WHERE id = $1`, id).Scan(&p))
	return p
}

func TestParkedJobHoldsNoWorkerAndResumesOnWake(t *testing.T) {
	runs := &runCounter{}
	h := setup(t, options{kinds: []jobs.Kind{waiterKind(runs, time.Hour, make(chan string, 1))}})
	h.startWorker(1) // one slot: an echo job can only run if the parked job does not hold it
	tenant := h.tenant("Waiter")
	w := submit(t, h, tenant, "test.waiter", map[string]any{})
	waitFor(t, h, tenant, w.ID, 10*time.Second, "parked", func(jobs.Job) bool { return parked(t, h, w.ID) })

	e := h.echo(tenant, map[string]any{"message": "meanwhile"})
	waitFor(t, h, tenant, e.ID, 10*time.Second, "succeeded", func(j jobs.Job) bool { return j.Status == jobs.StatusSucceeded })
	if j, _ := h.svc.Get(context.Background(), tenant, w.ID); j.Status != jobs.StatusRunning {
		t.Fatalf("parked job is %s, want running while it waits", j.Status)
	}

	woke, err := h.svc.Wake(context.Background(), w.ID)
	testkit.Must(t, "wake", err)
	if !woke {
		t.Fatal("Wake reported the parked job not woken")
	}
	done := waitFor(t, h, tenant, w.ID, 10*time.Second, "succeeded", func(j jobs.Job) bool { return j.Status.Final() })
	if done.Status != jobs.StatusSucceeded || done.Attempt != 1 {
		t.Fatalf("resumed job: status %s attempt %d, want succeeded in attempt 1", done.Status, done.Attempt)
	}
	if charged(done) != 1 {
		t.Errorf("charged %d, want the usage 1", charged(done))
	}
	events, err := h.svc.Events(context.Background(), tenant, w.ID, 0)
	testkit.Must(t, "events", err)
	started := 0
	for _, ev := range events {
		if ev.Type == "job.started" {
			started++
		}
	}
	if started != 1 {
		t.Errorf("%d job.started events, want 1: a resume is not a new start", started)
	}
	h.checkLedger()
}

func TestRelayWakesAParkedJobWhenItsWaitPasses(t *testing.T) {
	runs := &runCounter{}
	h := setup(t, options{kinds: []jobs.Kind{waiterKind(runs, 300*time.Millisecond, make(chan string, 1))}})
	h.startWorker(2)
	tenant := h.tenant("Poller")
	w := submit(t, h, tenant, "test.waiter", map[string]any{})
	done := waitFor(t, h, tenant, w.ID, 15*time.Second, "final", func(j jobs.Job) bool { return j.Status.Final() })
	if done.Status != jobs.StatusSucceeded {
		t.Fatalf("status %s, want succeeded after the relay woke it", done.Status)
	}
	runs.mu.Lock()
	got := runs.n[w.ID]
	runs.mu.Unlock()
	if got != 2 {
		t.Errorf("handler ran %d times, want 2 (park, then resume)", got)
	}
}

func TestCancelParkedJobCancelsOutsideWork(t *testing.T) {
	runs := &runCounter{}
	canceled := make(chan string, 1)
	h := setup(t, options{kinds: []jobs.Kind{waiterKind(runs, time.Hour, canceled)}})
	h.startWorker(1)
	tenant := h.tenant("Canceler")
	w := submit(t, h, tenant, "test.waiter", map[string]any{})
	waitFor(t, h, tenant, w.ID, 10*time.Second, "parked", func(jobs.Job) bool { return parked(t, h, w.ID) })

	j, err := h.svc.Cancel(context.Background(), tenant, w.ID)
	testkit.Must(t, "cancel", err)
	if j.Status != jobs.StatusCanceled || charged(j) != 0 {
		t.Fatalf("after cancel: status %s charged %d, want canceled at once with nothing charged", j.Status, charged(j))
	}
	select {
	case id := <-canceled:
		if id != w.ID {
			t.Errorf("OnCancel got job %s, want %s", id, w.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the kind's OnCancel was not called")
	}
	h.checkLedger()
}

// fanOutKinds: test.parent submits one test.child per name in its input,
// parks until they are final, and captures their usage; test.child fails
// its first attempt when its name is "flaky" and uses 2 credits.
func fanOutKinds(childBlocks bool) []jobs.Kind {
	parent := jobs.Kind{Name: "test.parent", Price: 5, Validate: validAny,
		Units: func(in json.RawMessage) int64 {
			var v struct{ Names []string }
			_ = json.Unmarshal(in, &v)
			return int64(len(v.Names))
		},
		Handler: func(ctx context.Context, run *jobs.Run) (any, error) {
			var in struct{ Names []string }
			if err := run.Input(&in); err != nil {
				return nil, err
			}
			var reqs []jobs.ChildRequest
			for _, n := range in.Names {
				reqs = append(reqs, jobs.ChildRequest{Key: n, Kind: "test.child", Input: map[string]string{"name": n}})
			}
			kids, err := run.SubmitChildren(ctx, reqs)
			if err != nil {
				return nil, err
			}
			var used int64
			out := map[string]int{}
			for _, k := range kids {
				if !k.Status.Final() {
					return nil, jobs.Await(time.Minute)
				}
				used += k.Usage
				out[string(k.Status)]++
			}
			run.SetUsage(used)
			return out, nil
		}}
	child := jobs.Kind{Name: "test.child", Internal: true, Validate: validAny, MaxAttempts: 3,
		Handler: func(ctx context.Context, run *jobs.Run) (any, error) {
			var in struct{ Name string }
			if err := run.Input(&in); err != nil {
				return nil, err
			}
			if childBlocks || in.Name == "block" {
				<-ctx.Done()
				return nil, ctx.Err()
			}
			if in.Name == "flaky" && run.Job.Attempt == 1 {
				return nil, jobs.Retryable("provider_unavailable", "first try fails", nil)
			}
			run.SetUsage(2)
			return map[string]string{"name": in.Name}, nil
		}}
	return []jobs.Kind{parent, child}
}

func TestFanOutChildrenRetryAndParentCapturesTheirUsage(t *testing.T) {
	h := setup(t, options{kinds: fanOutKinds(false)})
	h.startWorker(4)
	tenant := h.tenant("Fan")
	p := submit(t, h, tenant, "test.parent", map[string]any{"names": []string{"a", "flaky", "c"}})
	if p.Credits.Reserved != 15 {
		t.Fatalf("parent reserved %d, want 3 units x 5", p.Credits.Reserved)
	}
	done := waitFor(t, h, tenant, p.ID, 30*time.Second, "final", func(j jobs.Job) bool { return j.Status.Final() })
	if done.Status != jobs.StatusSucceeded || charged(done) != 6 {
		t.Fatalf("parent: status %s charged %d, want succeeded charging the children's 3 x 2", done.Status, charged(done))
	}
	kids, err := h.svc.Children(context.Background(), tenant, p.ID)
	testkit.Must(t, "children", err)
	attempts := map[string]int{}
	for _, k := range kids {
		var in struct{ Name string }
		_ = json.Unmarshal(k.Input, &in)
		attempts[in.Name] = k.Attempt
		if k.Credits.Reserved != 0 || charged(k) != 0 || k.ParentID == nil || *k.ParentID != p.ID {
			t.Errorf("child %s: reserved %d charged %d parent %v; children reserve nothing and point at the parent",
				in.Name, k.Credits.Reserved, charged(k), k.ParentID)
		}
	}
	want := map[string]int{"a": 1, "flaky": 2, "c": 1}
	for name, n := range want {
		if attempts[name] != n {
			t.Errorf("child %s ran %d attempts, want %d (all: %v)", name, attempts[name], n, attempts)
		}
	}
	h.checkLedger()
}

func TestCancelParentCancelsItsChildren(t *testing.T) {
	h := setup(t, options{kinds: fanOutKinds(true)})
	h.startWorker(4)
	tenant := h.tenant("Stopper")
	p := submit(t, h, tenant, "test.parent", map[string]any{"names": []string{"x", "y"}})
	waitFor(t, h, tenant, p.ID, 10*time.Second, "parked", func(jobs.Job) bool { return parked(t, h, p.ID) })
	_, err := h.svc.Cancel(context.Background(), tenant, p.ID)
	testkit.Must(t, "cancel parent", err)
	h.waitFinal(10 * time.Second)
	kids, err := h.svc.Children(context.Background(), tenant, p.ID)
	testkit.Must(t, "children", err)
	if len(kids) != 2 {
		t.Fatalf("%d children, want 2", len(kids))
	}
	for _, k := range kids {
		if k.Status != jobs.StatusCanceled {
			t.Errorf("child %s is %s, want canceled with its parent", k.ID, k.Status)
		}
	}
	h.checkLedger()
}

func TestSubmitRefusesInternalKindsAndRunsPreflight(t *testing.T) {
	notReady := problem.New(problem.Unavailable, "provider_not_configured", "set KILN_TEST_KEY")
	gated := jobs.Kind{Name: "test.gated", Validate: validAny,
		Preflight: func(ctx context.Context, tenantID string, in json.RawMessage) error {
			if string(in) == `{"ready":true}` {
				return nil
			}
			return notReady
		},
		Handler: func(context.Context, *jobs.Run) (any, error) { return nil, nil }}
	h := setup(t, options{kinds: append(fanOutKinds(false), gated)})
	tenant := h.tenant("Gate")
	ctx := context.Background()
	cases := []struct {
		kind, input string
		want        string // error code, "" for accepted
	}{
		{"test.child", `{"name":"a"}`, "validation_failed"},
		{"test.gated", `{"ready":false}`, "provider_not_configured"},
		{"test.gated", `{"ready":true}`, ""},
	}
	for _, c := range cases {
		_, err := h.svc.Submit(ctx, jobs.SubmitRequest{TenantID: tenant, Kind: c.kind, Input: json.RawMessage(c.input)})
		var p *problem.Problem
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %s: %v, want accepted", c.kind, c.input, err)
		case c.want != "" && (!errors.As(err, &p) || p.Code != c.want):
			t.Errorf("%s %s: error %v, want code %s", c.kind, c.input, err, c.want)
		}
	}
	var n int
	testkit.Must(t, "count jobs", h.db.Pool.QueryRow(ctx, `SELECT count(*) FROM jobs`).Scan(&n))
	if n != 1 {
		t.Errorf("%d jobs written, want only the accepted one", n)
	}
}

// charged is what a job was charged, 0 before it settled.
func charged(j jobs.Job) int64 {
	if j.Credits.Charged == nil {
		return 0
	}
	return *j.Credits.Charged
}

func TestWakeWhileTheHandlerRunsIsNotLost(t *testing.T) {
	runs := &runCounter{}
	started, release := make(chan string, 1), make(chan struct{})
	k := jobs.Kind{Name: "test.slowparker", Validate: validAny,
		Handler: func(ctx context.Context, run *jobs.Run) (any, error) {
			if runs.next(run.Job.ID) == 1 {
				started <- run.Job.ID
				<-release
				return nil, jobs.Await(time.Hour) // the wake came first: this park must be short
			}
			return map[string]bool{"resumed": true}, nil
		}}
	h := setup(t, options{kinds: []jobs.Kind{k}})
	h.startWorker(2)
	tenant := h.tenant("Racer")
	j := submit(t, h, tenant, "test.slowparker", map[string]any{})
	<-started
	woke, err := h.svc.Wake(context.Background(), j.ID)
	testkit.Must(t, "wake a running job", err)
	if woke {
		t.Fatal("Wake reported a running, unparked job woken")
	}
	close(release)
	done := waitFor(t, h, tenant, j.ID, 15*time.Second, "final", func(j jobs.Job) bool { return j.Status.Final() })
	if done.Status != jobs.StatusSucceeded || done.Attempt != 1 {
		t.Fatalf("status %s attempt %d, want succeeded in attempt 1 soon after the early wake", done.Status, done.Attempt)
	}
}

func TestCanceledParentPaysForWhatItsChildrenFinished(t *testing.T) {
	h := setup(t, options{kinds: fanOutKinds(false)})
	h.startWorker(4)
	tenant := h.tenant("Halfway")
	p := submit(t, h, tenant, "test.parent", map[string]any{"names": []string{"done", "block"}})
	deadline := time.Now().Add(15 * time.Second)
	for {
		kids, err := h.svc.Children(context.Background(), tenant, p.ID)
		testkit.Must(t, "children", err)
		if len(kids) == 2 && (kids[0].Status == jobs.StatusSucceeded || kids[1].Status == jobs.StatusSucceeded) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the quick child never finished")
		}
		time.Sleep(20 * time.Millisecond)
	}
	j, err := h.svc.Cancel(context.Background(), tenant, p.ID)
	testkit.Must(t, "cancel", err)
	h.waitFinal(10 * time.Second)
	j, err = h.svc.Get(context.Background(), tenant, p.ID)
	testkit.Must(t, "get parent", err)
	if j.Status != jobs.StatusCanceled || charged(j) != 2 {
		t.Fatalf("parent %s charged %d, want canceled and charged the finished child's 2", j.Status, charged(j))
	}
	h.checkLedger()
}
