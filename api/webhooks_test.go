package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kilnhq/kiln/webhook"
)

// receiver is a webhook receiver that records every request and answers
// with the statuses it is given in turn (then 200).
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	got      []received
	statuses []int
	headers  map[int]http.Header // extra headers by request number
}

type received struct {
	header http.Header
	body   []byte
	at     time.Time
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{t: t, statuses: statuses, headers: map[int]http.Header{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.got)
		r.got = append(r.got, received{header: req.Header.Clone(), body: body, at: time.Now()})
		status := http.StatusOK
		if n < len(r.statuses) {
			status = r.statuses[n]
		}
		for k, v := range r.headers[n] {
			w.Header()[k] = v
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"seen":` + strconv.Itoa(n+1) + `}`))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// wait returns the first n requests, failing the test after 10 s.
func (r *receiver) wait(n int) []received {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		got := slices.Clone(r.got)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("receiver got %d requests, want %d", len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func eventType(t *testing.T, body []byte) string {
	t.Helper()
	var m struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.Data["id"] == nil {
		t.Fatalf("webhook body is not {type, timestamp, data: job}: %v\n%s", err, body)
	}
	return m.Type
}

// TestJobWebhookRetries: a job's webhook answered 500 twice and then 200 is
// attempted three times with one webhook-id, signed with the tenant's
// secret; only the events the filter asks for (and the final one) go out;
// every attempt is visible through the API.
func TestJobWebhookRetries(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	rcv := newReceiver(t, 500, 500)
	secret := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/webhooks/secret", Auth: acme.Token}).JSON(t)["secret"].(string)

	j := b.submit(acme, map[string]any{"kind": "system.echo", "webhook": rcv.srv.URL + "/hook", "webhook_events": []string{"completed"}})
	b.await(acme, j["id"].(string))
	got := rcv.wait(3)
	time.Sleep(200 * time.Millisecond) // nothing more may come
	if rcv.count() != 3 {
		t.Fatalf("receiver got %d requests, want 3 (job.started is filtered out)", rcv.count())
	}
	for i, r := range got {
		if r.header.Get("webhook-id") != got[0].header.Get("webhook-id") || r.header.Get("webhook-id") == "" {
			t.Errorf("attempt %d webhook-id %q, want the first's %q", i+1, r.header.Get("webhook-id"), got[0].header.Get("webhook-id"))
		}
		if err := webhook.Verify(secret, r.header, r.body); err != nil {
			t.Errorf("attempt %d: signature does not verify with the tenant secret: %v", i+1, err)
		}
		if typ := eventType(t, r.body); typ != "job.succeeded" {
			t.Errorf("attempt %d: type %q, want job.succeeded", i+1, typ)
		}
	}

	list := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs/" + j["id"].(string) + "/deliveries", Auth: acme.Token}).JSON(t)
	items := list["data"].([]any)
	if len(items) != 1 {
		t.Fatalf("job has %d deliveries, want 1", len(items))
	}
	d := items[0].(map[string]any)
	if d["status"] != "succeeded" || d["attempts"] != float64(3) || d["message_id"] != got[0].header.Get("webhook-id") {
		t.Errorf("delivery = %v, want succeeded after 3 attempts with the webhook-id", d)
	}
	one := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/webhook-deliveries/" + d["id"].(string), Auth: acme.Token}).JSON(t)
	var codes []float64
	for _, a := range one["attempt_log"].([]any) {
		codes = append(codes, a.(map[string]any)["status_code"].(float64))
	}
	if !slices.Equal(codes, []float64{500, 500, 200}) {
		t.Errorf("attempt log status codes %v, want [500 500 200]", codes)
	}
	if ex := one["attempt_log"].([]any)[2].(map[string]any)["response_excerpt"]; ex != `{"seen":3}` {
		t.Errorf("response excerpt %q, want the receiver's body", ex)
	}

	// Redelivery sends the same message again with the same webhook-id.
	b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/webhook-deliveries/" + d["id"].(string) + "/redeliver", Auth: acme.Token})
	again := rcv.wait(4)[3]
	if again.header.Get("webhook-id") != got[0].header.Get("webhook-id") || string(again.body) != string(got[0].body) {
		t.Errorf("redelivery: webhook-id %q body %s, want the original's", again.header.Get("webhook-id"), again.body)
	}
}

// TestEndpointFilterAndRotation: a tenant endpoint gets only the event
// types it subscribed to; after a rotation both secrets sign.
func TestEndpointFilterAndRotation(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	rcv := newReceiver(t)
	ep := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/webhooks", Auth: acme.Token,
		Body: map[string]any{"url": rcv.srv.URL, "event_types": []string{"job.succeeded"}}}).JSON(t)
	oldSecret := ep["secret"].(string)
	if len(oldSecret) < 10 || oldSecret[:6] != "whsec_" {
		t.Fatalf("endpoint secret %q, want whsec_…", oldSecret)
	}
	if got := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/webhooks/" + ep["id"].(string), Auth: acme.Token}).JSON(t); got["secret"] != nil {
		t.Error("GET /webhooks/{id} shows the secret; only create, rotate and /secret may")
	}
	rot := b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/webhooks/" + ep["id"].(string) + "/rotate-secret", Auth: acme.Token}).JSON(t)
	newSecret := rot["secret"].(string)

	j := b.submit(acme, map[string]any{"kind": "system.echo", "input": map[string]any{"progress_steps": 2}})
	b.await(acme, j["id"].(string))
	r := rcv.wait(1)[0]
	time.Sleep(200 * time.Millisecond)
	if rcv.count() != 1 || eventType(t, r.body) != "job.succeeded" {
		t.Fatalf("endpoint got %d requests (first %s), want only job.succeeded", rcv.count(), r.body)
	}
	for name, sec := range map[string]string{"new": newSecret, "old (in overlap)": oldSecret} {
		if err := webhook.Verify(sec, r.header, r.body); err != nil {
			t.Errorf("signature with the %s secret: %v", name, err)
		}
	}
	list := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/webhooks/" + ep["id"].(string) + "/deliveries", Auth: acme.Token}).JSON(t)
	if n := len(list["data"].([]any)); n != 1 {
		t.Errorf("endpoint lists %d deliveries, want 1", n)
	}
}

// TestEndpointGoneAndRetryAfter: 410 disables the endpoint, visibly; 429
// with Retry-After delays the next attempt by at least that long.
func TestEndpointGoneAndRetryAfter(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")

	slow := newReceiver(t, 429)
	slow.headers[0] = http.Header{"Retry-After": {"1"}}
	gone := newReceiver(t, 410)
	goneEP := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/webhooks", Auth: acme.Token,
		Body: map[string]any{"url": gone.srv.URL, "event_types": []string{"job.succeeded"}}}).JSON(t)
	b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/webhooks", Auth: acme.Token,
		Body: map[string]any{"url": slow.srv.URL, "event_types": []string{"job.succeeded"}}})

	j := b.submit(acme, map[string]any{"kind": "system.echo"})
	b.await(acme, j["id"].(string))
	two := slow.wait(2)
	if gap := two[1].at.Sub(two[0].at); gap < time.Second {
		t.Errorf("second attempt %v after a 429 with Retry-After: 1, want at least 1s (the schedule alone is 50ms)", gap)
	}
	gone.wait(1)
	deadline := time.Now().Add(5 * time.Second)
	for {
		ep := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/webhooks/" + goneEP["id"].(string), Auth: acme.Token}).JSON(t)
		if ep["enabled"] == false {
			if ep["disabled_reason"] == nil || ep["disabled_reason"] == "" {
				t.Error("disabled endpoint has no disabled_reason")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("endpoint still enabled after a 410: %v", ep)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A disabled endpoint gets nothing more, and redelivery to it is refused.
	j2 := b.submit(acme, map[string]any{"kind": "system.echo"})
	b.await(acme, j2["id"].(string))
	slow.wait(3)
	if gone.count() != 1 {
		t.Errorf("disabled endpoint got %d requests, want 1", gone.count())
	}
	list := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/webhooks/" + goneEP["id"].(string) + "/deliveries", Auth: acme.Token}).JSON(t)
	d := list["data"].([]any)[0].(map[string]any)
	if d["status"] != "failed" || d["last_status"] != float64(410) {
		t.Errorf("delivery to the gone endpoint = %v, want failed with 410", d)
	}
	res := b.expect(http.StatusConflict, req{Method: "POST", Path: "/api/v1/webhook-deliveries/" + d["id"].(string) + "/redeliver", Auth: acme.Token})
	if res.ErrorCode(t) != "webhook_endpoint_disabled" {
		t.Errorf("redeliver to a disabled endpoint: %s", res.Body)
	}
}

// TestEndpointDisabledAfterThreeDays: an endpoint whose failures began
// three days ago is disabled by its next failure.
func TestEndpointDisabledAfterThreeDays(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	rcv := newReceiver(t, 500, 500, 500, 500, 500)
	ep := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/webhooks", Auth: acme.Token,
		Body: map[string]any{"url": rcv.srv.URL}}).JSON(t)
	_, err := b.db.Pool.Exec(t.Context(), `UPDATE webhook_endpoints SET failing_since = now() - interval '73 hours' WHERE id = $1`, ep["id"])
	must(t, err)
	j := b.submit(acme, map[string]any{"kind": "system.echo"})
	b.await(acme, j["id"].(string))
	rcv.wait(1)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/webhooks/" + ep["id"].(string), Auth: acme.Token}).JSON(t)
		if got["enabled"] == false {
			if got["disabled_reason"] != "every delivery failed for three days in a row" {
				t.Errorf("disabled_reason %q", got["disabled_reason"])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("endpoint failing for 73 h still enabled: %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhookURLsRefused: URLs Kiln may not call are refused up front.
func TestWebhookURLsRefused(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	for _, u := range []string{"http://169.254.169.254/latest/meta-data", "http://10.0.0.1/hook", "http://[::1]:8080/", "ftp://example.com/x", "http://2130706433/"} {
		res := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/jobs", Auth: acme.Token,
			Body: map[string]any{"kind": "system.echo", "webhook": u}})
		if res.Fields(t)["webhook"] == nil {
			t.Errorf("job webhook %s: 422 without the webhook field: %s", u, res.Body)
		}
		res = b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/webhooks", Auth: acme.Token,
			Body: map[string]any{"url": u}})
		if res.Fields(t)["url"] == nil {
			t.Errorf("endpoint %s: 422 without the url field: %s", u, res.Body)
		}
	}
	var n int
	must(t, b.db.Pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM webhook_endpoints)`).Scan(&n))
	if n != 0 {
		t.Errorf("%d rows written by refused requests", n)
	}
}

// TestPruneDeliveries: finished deliveries older than the retention go with
// their attempts; pending and recent ones stay.
func TestPruneDeliveries(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	_, err := b.db.Pool.Exec(t.Context(), `INSERT INTO webhook_deliveries (id, tenant_id, url, event_type, message_id, payload, status, completed_at)
		VALUES ('whd_old', $1, 'http://x', 'job.succeeded', 'msg_1', '{}', 'succeeded', now() - interval '31 days'),
		       ('whd_new', $1, 'http://x', 'job.succeeded', 'msg_2', '{}', 'failed', now() - interval '1 day'),
		       ('whd_pending', $1, 'http://x', 'job.succeeded', 'msg_3', '{}', 'pending', NULL)`, acme.ID)
	must(t, err)
	_, err = b.db.Pool.Exec(t.Context(), `INSERT INTO webhook_attempts (delivery_id, attempt, latency_ms) VALUES ('whd_old', 1, 5)`)
	must(t, err)
	n, err := b.webhooks.PruneDeliveries(t.Context())
	must(t, err)
	var left, attempts int
	must(t, b.db.Pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM webhook_deliveries), (SELECT count(*) FROM webhook_attempts)`).Scan(&left, &attempts))
	if n != 1 || left != 2 || attempts != 0 {
		t.Errorf("pruned %d, left %d deliveries and %d attempts; want 1, 2 and 0", n, left, attempts)
	}
}

// TestLostDeliveryIsRecovered: a pending delivery whose task Redis lost
// (a failed enqueue, a crash, a flushed Redis) is enqueued again by the
// recovery sweep and delivered.
func TestLostDeliveryIsRecovered(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	rcv := newReceiver(t)
	payload := `{"type":"job.succeeded","timestamp":"2026-11-22T00:00:00Z","data":{"id":"job_lost"}}`
	_, err := b.db.Pool.Exec(t.Context(), `INSERT INTO webhook_deliveries (id, tenant_id, url, event_type, message_id, payload, status, next_attempt_at)
		VALUES ('whd_lost', $1, $2, 'job.succeeded', 'msg_lost', $3, 'pending', now() - interval '10 minutes')`, acme.ID, rcv.srv.URL, payload)
	must(t, err)
	time.Sleep(200 * time.Millisecond)
	if rcv.count() != 0 {
		t.Fatalf("a delivery with no task was sent before the sweep")
	}
	must(t, b.webhooks.RecoverLost(t.Context(), time.Minute))
	got := rcv.wait(1)[0]
	var sent, stored any
	must(t, json.Unmarshal(got.body, &sent))
	must(t, json.Unmarshal([]byte(payload), &stored))
	if got.header.Get("webhook-id") != "msg_lost" || !reflect.DeepEqual(sent, stored) {
		t.Errorf("recovered delivery: webhook-id %q body %s, want msg_lost and %s", got.header.Get("webhook-id"), got.body, payload)
	}
	// A second sweep while the delivery is done sends nothing more.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var status string
		must(t, b.db.Pool.QueryRow(t.Context(), `SELECT status FROM webhook_deliveries WHERE id = 'whd_lost'`).Scan(&status))
		if status == "succeeded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recovered delivery is %s", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	must(t, b.webhooks.RecoverLost(t.Context(), 0))
	time.Sleep(200 * time.Millisecond)
	if rcv.count() != 1 {
		t.Errorf("receiver got %d requests after a second sweep, want 1", rcv.count())
	}
}
