package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/jobs"
)

// submit posts a job and returns its answer.
func (b *bundle) submit(t tenant, body map[string]any) map[string]any {
	b.t.Helper()
	return b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/jobs", Auth: t.Token, Body: body}).JSON(b.t)
}

// await long-polls a job until it is final (or 30 s pass) and returns it.
func (b *bundle) await(t tenant, id string) map[string]any {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs/" + id, Auth: t.Token,
			Header: map[string]string{"Prefer": "wait=10"}}).JSON(b.t)
		if s := j["status"].(string); jobs.Status(s).Final() || time.Now().After(deadline) {
			return j
		}
	}
}

// awaitStatus polls until the job has status want.
func (b *bundle) awaitStatus(t tenant, id, want string) map[string]any {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		j := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs/" + id, Auth: t.Token}).JSON(b.t)
		if j["status"] == want {
			return j
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("job %s is %v, want %s", id, j["status"], want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *bundle) balance(t tenant) map[string]any {
	b.t.Helper()
	return b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/credits/balance", Auth: t.Token}).JSON(b.t)
}

// checkLedger asserts the credit invariants (testkit.CheckLedger).
func (b *bundle) checkLedger() {
	b.t.Helper()
	testkit.CheckLedger(b.t, b.db.Pool)
}

func TestJobRunsAndIsChargedOnce(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	res := b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/jobs", Auth: acme.Token,
		Body: map[string]any{"kind": "system.echo", "input": map[string]any{"message": "hello"}, "metadata": map[string]any{"run": 1}}})
	j := res.JSON(t)
	id := j["id"].(string)
	if res.Header.Get("Location") != "http://kiln.test/api/v1/jobs/"+id || !strings.HasPrefix(id, "job_") {
		t.Fatalf("Location %q for %s", res.Header.Get("Location"), id)
	}
	if j["status"] != "queued" || j["credits"].(map[string]any)["reserved"] != float64(1) {
		t.Fatalf("submitted job = %v", j)
	}
	// The 202 answer shows the job as it is stored.
	stored := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs/" + id, Auth: acme.Token}).JSON(t)
	for _, field := range []string{"id", "kind", "input", "metadata", "priority", "run_at", "created_at", "max_attempts", "webhook_events", "site_id", "urls"} {
		if got, want := fmt.Sprint(j[field]), fmt.Sprint(stored[field]); got != want {
			t.Errorf("submit answered %s = %s, stored %s", field, got, want)
		}
	}
	done := b.await(acme, id)
	if done["status"] != "succeeded" || done["result"].(map[string]any)["message"] != "hello" || done["progress"] != float64(100) {
		t.Fatalf("finished job = %v", done)
	}
	if done["credits"].(map[string]any)["charged"] != float64(1) || done["attempt"] != float64(1) || done["finished_at"] == nil {
		t.Fatalf("finished job = %v", done)
	}
	bal := b.balance(acme)
	if bal["balance"] != float64(99) || bal["reserved"] != float64(0) || bal["spent_this_month"] != float64(1) {
		t.Fatalf("balance = %v, want 99 left, none reserved, 1 spent", bal)
	}
	tx := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/credits/transactions", Auth: acme.Token}).JSON(t)
	var entries []string
	for _, e := range tx["data"].([]any) {
		entries = append(entries, e.(map[string]any)["entry"].(string))
	}
	if strings.Join(entries, ",") != "release,reserve,grant" {
		t.Fatalf("ledger = %v, want release, reserve, grant (newest first)", entries)
	}
	b.checkLedger()
}

func TestJobLifecycleEventsOverSSE(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	id := b.submit(acme, map[string]any{"kind": "system.echo", "input": map[string]any{"progress_steps": 3, "sleep_ms": 150}})["id"].(string)

	stream := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs/" + id + "/events", Auth: acme.Token})
	if ct := stream.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	events := parseSSE(string(stream.Body))
	var types []string
	for _, e := range events {
		types = append(types, e.typ)
	}
	want := "job.queued,job.started,job.progress,job.progress,job.progress,job.succeeded"
	if strings.Join(types, ",") != want {
		t.Fatalf("events = %v, want %s", types, want)
	}
	// A reconnect with Last-Event-ID replays only what came after.
	replay := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs/" + id + "/events", Auth: acme.Token,
		Header: map[string]string{"Last-Event-ID": events[3].id}})
	rest := parseSSE(string(replay.Body))
	if len(rest) != 2 || rest[0].typ != "job.progress" || rest[1].typ != "job.succeeded" {
		t.Fatalf("replay after %s = %v", events[3].id, rest)
	}
	b.expect(http.StatusUnprocessableEntity, req{Method: "GET", Path: "/api/v1/jobs/" + id + "/events", Auth: acme.Token,
		Header: map[string]string{"Last-Event-ID": "yesterday"}})
}

type sseEvent struct{ id, typ, data string }

func parseSSE(body string) []sseEvent {
	var out []sseEvent
	for _, block := range strings.Split(body, "\n\n") {
		var e sseEvent
		for _, line := range strings.Split(block, "\n") {
			k, v, _ := strings.Cut(line, ": ")
			switch k {
			case "id":
				e.id = v
			case "event":
				e.typ = v
			case "data":
				e.data = v
			}
		}
		if e.typ != "" {
			out = append(out, e)
		}
	}
	return out
}

func TestRetriesTimeoutsAndPanics(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")

	retried := b.await(acme, b.submit(acme, map[string]any{"kind": "system.echo", "input": map[string]any{"fail_times": 2}})["id"].(string))
	if retried["status"] != "succeeded" || retried["attempt"] != float64(3) || retried["error"] != nil {
		t.Fatalf("job failing twice then succeeding = %v", retried)
	}

	exhausted := b.await(acme, b.submit(acme, map[string]any{"kind": "system.echo", "input": map[string]any{"fail_times": 9}})["id"].(string))
	if exhausted["status"] != "failed" || exhausted["attempt"] != float64(5) || exhausted["error"].(map[string]any)["code"] != "echo_failure" {
		t.Fatalf("job failing every attempt = %v", exhausted)
	}
	if exhausted["credits"].(map[string]any)["charged"] != float64(0) {
		t.Fatalf("failed job charged %v, want 0", exhausted["credits"])
	}

	timedOut := b.await(acme, b.submit(acme, map[string]any{"kind": "test.sleeper", "input": map[string]any{}})["id"].(string))
	if timedOut["status"] != "failed" || timedOut["error"].(map[string]any)["code"] != "timeout" || timedOut["attempt"] != float64(2) {
		t.Fatalf("job over its timeout = %v", timedOut)
	}

	panicked := b.await(acme, b.submit(acme, map[string]any{"kind": "system.echo", "input": map[string]any{"panic": true}})["id"].(string))
	if panicked["status"] != "failed" || panicked["error"].(map[string]any)["code"] != "internal_error" || panicked["attempt"] != float64(1) {
		t.Fatalf("panicking job = %v", panicked)
	}
	// The worker survived the panic.
	after := b.await(acme, b.submit(acme, map[string]any{"kind": "system.echo", "input": map[string]any{"message": "still here"}})["id"].(string))
	if after["status"] != "succeeded" {
		t.Fatalf("job after a panic = %v", after)
	}
	bal := b.balance(acme)
	if bal["balance"] != float64(98) { // two successes charged, three failures released
		t.Fatalf("balance = %v, want 98", bal["balance"])
	}
	b.checkLedger()
}

func TestCancelQueuedAndRunning(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	// No worker yet: the job waits in the queue.
	queued := b.submit(acme, map[string]any{"kind": "system.echo", "input": map[string]any{}})["id"].(string)
	c := b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/jobs/" + queued + "/cancel", Auth: acme.Token}).JSON(t)
	if c["status"] != "canceled" || c["credits"].(map[string]any)["charged"] != float64(0) {
		t.Fatalf("canceled queued job = %v", c)
	}
	b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/jobs/" + queued + "/cancel", Auth: acme.Token})

	b.startWorker()
	running := b.submit(acme, map[string]any{"kind": "system.echo", "input": map[string]any{"sleep_ms": 60000, "progress_steps": 60}})["id"].(string)
	b.awaitStatus(acme, running, "running")
	b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/jobs/" + running + "/cancel", Auth: acme.Token})
	ended := b.await(acme, running)
	if ended["status"] != "canceled" || ended["credits"].(map[string]any)["charged"] != float64(0) {
		t.Fatalf("canceled running job = %v", ended)
	}
	if ended["finished_at"] == nil {
		t.Fatal("canceled job has no finished_at")
	}

	// The canceled queued job never ran, even with a worker present.
	time.Sleep(300 * time.Millisecond)
	q := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs/" + queued, Auth: acme.Token}).JSON(t)
	if q["status"] != "canceled" || q["attempt"] != float64(0) {
		t.Fatalf("canceled queued job later = %v", q)
	}
	// A succeeded job cannot be canceled.
	okID := b.await(acme, b.submit(acme, map[string]any{"kind": "system.echo", "input": map[string]any{}})["id"].(string))["id"].(string)
	if res := b.expect(http.StatusConflict, req{Method: "POST", Path: "/api/v1/jobs/" + okID + "/cancel", Auth: acme.Token}); res.ErrorCode(t) != "job_final" {
		t.Fatalf("cancel succeeded job: %s", res.Body)
	}
	if bal := b.balance(acme); bal["balance"] != float64(99) {
		t.Fatalf("balance = %v, want 99 (only the succeeded job charged)", bal["balance"])
	}
	b.checkLedger()
}

func TestRetryEndpointAndScheduledJobs(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	failed := b.await(acme, b.submit(acme, map[string]any{"kind": "system.echo", "input": map[string]any{"panic": true}})["id"].(string))["id"].(string)
	retry := b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/jobs/" + failed + "/retry", Auth: acme.Token}).JSON(t)
	if retry["retry_of"] != failed || retry["id"] == failed {
		t.Fatalf("retry = %v", retry)
	}
	okID := b.await(acme, b.submit(acme, map[string]any{"kind": "system.echo", "input": map[string]any{}})["id"].(string))["id"].(string)
	b.expect(http.StatusConflict, req{Method: "POST", Path: "/api/v1/jobs/" + okID + "/retry", Auth: acme.Token})

	runAt := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	sched := b.submit(acme, map[string]any{"kind": "system.echo", "input": map[string]any{}, "run_at": runAt})
	if sched["status"] != "scheduled" {
		t.Fatalf("future job = %v", sched)
	}
	done := b.await(acme, sched["id"].(string))
	started, _ := time.Parse(time.RFC3339Nano, done["started_at"].(string))
	want, _ := time.Parse(time.RFC3339Nano, runAt)
	if done["status"] != "succeeded" || started.Before(want) {
		t.Fatalf("scheduled job = %v, started %v before run_at %v", done["status"], started, want)
	}
}

func TestSubmitBadInputAndCredits(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	tests := []struct {
		name   string
		body   any
		status int
		fields []string
	}{
		{"unknown kind", map[string]any{"kind": "nope"}, 422, []string{"kind"}},
		{"bad input", map[string]any{"kind": "system.echo", "input": map[string]any{"sleep_ms": -1}}, 422, []string{"input.sleep_ms"}},
		{"unknown input field", map[string]any{"kind": "system.echo", "input": map[string]any{"slep_ms": 1}}, 422, []string{"input"}},
		{"bad options", map[string]any{"kind": "system.echo", "priority": "urgent", "webhook": "ftp://x", "webhook_events": []string{"all"}, "metadata": []int{1}},
			422, []string{"priority", "webhook", "webhook_events", "metadata"}},
		{"unknown site", map[string]any{"kind": "system.echo", "site_id": "nope"}, 404, nil},
		{"malformed", `{"kind":`, 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := b.expect(tt.status, req{Method: "POST", Path: "/api/v1/jobs", Auth: acme.Token, Body: tt.body})
			for _, f := range tt.fields {
				if res.Fields(t)[f] == nil {
					t.Errorf("details.fields lacks %s: %s", f, res.Body)
				}
			}
		})
	}

	// Not enough credits: 402 with the amounts, and nothing written.
	_, err := b.jobs.SetCosts(context.Background(), acme.ID, map[string]int64{"system.echo": 500})
	must(t, err)
	res := b.expect(http.StatusPaymentRequired, req{Method: "POST", Path: "/api/v1/jobs", Auth: acme.Token, Body: map[string]any{"kind": "system.echo"}})
	details := res.JSON(t)["error"].(map[string]any)["details"].(map[string]any)
	if res.ErrorCode(t) != "insufficient_credits" || details["required"] != float64(500) || details["available"] != float64(100) {
		t.Fatalf("402 body = %s", res.Body)
	}
	est := b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/jobs/estimate", Auth: acme.Token, Body: map[string]any{"kind": "system.echo"}}).JSON(t)
	if est["credits"] != float64(500) || est["affordable"] != false {
		t.Fatalf("estimate = %v", est)
	}
	var n int
	must(t, b.db.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM job_events) + (SELECT count(*) FROM credit_ledger WHERE entry <> 'grant')`).Scan(&n))
	if n != 0 {
		t.Fatalf("%d rows written by refused submits", n)
	}

	// A monthly limit refuses spend past it.
	_, err = b.jobs.SetCosts(context.Background(), acme.ID, map[string]int64{"system.echo": 1})
	must(t, err)
	b.expect(http.StatusOK, req{Method: "PUT", Path: "/api/v1/credits/monthly-limit", Auth: acme.Token, Body: map[string]any{"monthly_limit": 2}})
	b.submit(acme, map[string]any{"kind": "system.echo"})
	b.submit(acme, map[string]any{"kind": "system.echo"})
	if res := b.expect(http.StatusPaymentRequired, req{Method: "POST", Path: "/api/v1/jobs", Auth: acme.Token, Body: map[string]any{"kind": "system.echo"}}); res.ErrorCode(t) != "monthly_limit_reached" {
		t.Fatalf("over the monthly limit: %s", res.Body)
	}
	b.checkLedger()
}

func TestIdempotencyKey(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	body := map[string]any{"kind": "system.echo", "input": map[string]any{"message": "once"}}
	key := map[string]string{"Idempotency-Key": "order-42"}
	first := b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/jobs", Auth: acme.Token, Body: body, Header: key})
	again := b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/jobs", Auth: acme.Token, Body: body, Header: key})
	if first.JSON(t)["id"] != again.JSON(t)["id"] || again.Header.Get("Idempotent-Replayed") != "true" || again.Header.Get("Location") != first.Header.Get("Location") {
		t.Fatalf("replay: first %s, again %s (%v)", first.Body, again.Body, again.Header)
	}
	other := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/jobs", Auth: acme.Token,
		Body: map[string]any{"kind": "system.echo", "input": map[string]any{"message": "twice"}}, Header: key})
	if other.ErrorCode(t) != "idempotency_key_reused" {
		t.Fatalf("another body: %s", other.Body)
	}

	// Concurrent requests with one key make one job.
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = b.do(req{Method: "POST", Path: "/api/v1/jobs", Auth: acme.Token, Body: body,
				Header: map[string]string{"Idempotency-Key": "burst"}}).Status
		}()
	}
	wg.Wait()
	for _, s := range statuses {
		if s != http.StatusAccepted && s != http.StatusConflict {
			t.Fatalf("concurrent statuses = %v, want only 202 and 409", statuses)
		}
	}
	var jobsMade int
	must(t, b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM jobs`).Scan(&jobsMade))
	if jobsMade != 2 {
		t.Fatalf("%d jobs made, want 2 (one per key)", jobsMade)
	}
}

func TestJobStatusListAndETag(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	site := b.site(acme, "blog")
	first := b.submit(acme, map[string]any{"kind": "system.echo", "site_id": "blog"})
	second := b.submit(acme, map[string]any{"kind": "system.echo"})
	if first["site_id"] != site {
		t.Fatalf("site_id = %v, want %s (resolved from the slug)", first["site_id"], site)
	}
	got := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs/" + second["id"].(string), Auth: acme.Token})
	j := got.JSON(t)
	if j["queue_position"] != float64(1) {
		t.Fatalf("queue_position of the second queued job = %v, want 1", j["queue_position"])
	}
	etag := got.Header.Get("ETag")
	b.expect(http.StatusNotModified, req{Method: "GET", Path: "/api/v1/jobs/" + second["id"].(string), Auth: acme.Token,
		Header: map[string]string{"If-None-Match": etag}})
	b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/jobs/" + second["id"].(string) + "/cancel", Auth: acme.Token})
	b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs/" + second["id"].(string), Auth: acme.Token,
		Header: map[string]string{"If-None-Match": etag}})

	// Prefer: wait on a job that stays queued returns after the wait.
	start := time.Now()
	held := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs/" + first["id"].(string), Auth: acme.Token,
		Header: map[string]string{"Prefer": "wait=1"}})
	if time.Since(start) < 900*time.Millisecond || held.Header.Get("Preference-Applied") != "wait=1" {
		t.Fatalf("Prefer: wait=1 answered after %v with %q", time.Since(start), held.Header.Get("Preference-Applied"))
	}

	count := func(q string) int {
		return len(b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs?" + q, Auth: acme.Token}).JSON(t)["data"].([]any))
	}
	for q, want := range map[string]int{"": 2, "status=queued": 1, "status=canceled": 1, "kind=system.echo": 2, "kind=other": 0,
		"site_id=blog": 1, "created_after=2000-01-01T00:00:00Z": 2, "created_before=2000-01-01T00:00:00Z": 0} {
		if got := count(q); got != want {
			t.Errorf("GET /jobs?%s: %d jobs, want %d", q, got, want)
		}
	}
	b.expect(http.StatusUnprocessableEntity, req{Method: "GET", Path: "/api/v1/jobs?status=done", Auth: acme.Token})
	b.expect(http.StatusUnprocessableEntity, req{Method: "GET", Path: "/api/v1/jobs?created_after=yesterday", Auth: acme.Token})
	kinds := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/job-kinds", Auth: acme.Token}).JSON(t)["data"].([]any)
	found := false
	for _, k := range kinds {
		km := k.(map[string]any)
		if km["name"] == "system.echo" && km["price"] == float64(1) && km["input_schema"] != nil {
			found = true
		}
	}
	if !found {
		t.Fatalf("job-kinds lacks system.echo with its price and schema: %v", kinds)
	}
}

func TestCreditAdministration(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	root := b.platformAdmin()

	granted := b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/admin/tenants/" + acme.ID + "/credits", Auth: root,
		Body: map[string]any{"amount": 400, "note": "welcome"}}).JSON(t)
	if granted["balance"] != float64(500) {
		t.Fatalf("balance after a grant of 400 = %v, want 500", granted["balance"])
	}
	b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/admin/tenants/" + acme.ID + "/credits", Auth: root, Body: map[string]any{"amount": 0}})
	b.expect(http.StatusNotFound, req{Method: "POST", Path: "/api/v1/admin/tenants/ten_nope/credits", Auth: root, Body: map[string]any{"amount": 5}})
	b.expect(http.StatusForbidden, req{Method: "POST", Path: "/api/v1/admin/tenants/" + acme.ID + "/credits", Auth: acme.Token, Body: map[string]any{"amount": 5}})

	// Global prices, then a tenant override that wins for that tenant only.
	b.expect(http.StatusOK, req{Method: "PUT", Path: "/api/v1/admin/costs", Auth: root, Body: map[string]any{"costs": map[string]int{"system.echo": 3}}})
	b.expect(http.StatusOK, req{Method: "PUT", Path: "/api/v1/admin/costs", Auth: root, Body: map[string]any{"tenant_id": acme.ID, "costs": map[string]int{"system.echo": 7}}})
	bad := b.expect(http.StatusUnprocessableEntity, req{Method: "PUT", Path: "/api/v1/admin/costs", Auth: root, Body: map[string]any{"costs": map[string]int{"nope": 1, "system.echo": -1}}})
	if len(bad.Fields(t)) == 0 {
		t.Fatalf("bad costs: %s", bad.Body)
	}
	global := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/admin/costs", Auth: root}).JSON(t)["data"].([]any)
	if price := priceOf(global, "system.echo"); price != float64(3) {
		t.Fatalf("global echo price = %v, want 3", price)
	}
	globex := b.signup("Globex")
	if got := b.submit(acme, map[string]any{"kind": "system.echo"})["credits"].(map[string]any)["reserved"]; got != float64(7) {
		t.Fatalf("Acme reserved %v, want its override 7", got)
	}
	if got := b.submit(globex, map[string]any{"kind": "system.echo"})["credits"].(map[string]any)["reserved"]; got != float64(3) {
		t.Fatalf("Globex reserved %v, want the global 3", got)
	}

	// Only an owner sets the monthly limit.
	admin, _ := b.member(acme, "admin")
	b.expect(http.StatusForbidden, req{Method: "PUT", Path: "/api/v1/credits/monthly-limit", Auth: admin, Body: map[string]any{"monthly_limit": 5}})
	lim := b.expect(http.StatusOK, req{Method: "PUT", Path: "/api/v1/credits/monthly-limit", Auth: acme.Token, Body: map[string]any{"monthly_limit": 50}}).JSON(t)
	if lim["monthly_limit"] != float64(50) || lim["spent_this_month"] != float64(7) {
		t.Fatalf("balance after setting a limit = %v", lim)
	}
	b.checkLedger()
}

func priceOf(costs []any, kind string) any {
	for _, c := range costs {
		if m := c.(map[string]any); m["kind"] == kind {
			return m["credits"]
		}
	}
	return nil
}
