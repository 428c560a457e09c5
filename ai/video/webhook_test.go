package video

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/ai/aitest"
)

// receiver is a webhook endpoint that verifies each delivery with a
// Client, as Kiln's handler does.
type receiver struct {
	c    *Client
	mu   sync.Mutex
	got  []WebhookPayload
	errs []error
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p, err := rv.c.Verify(r.Context(), r.Header, body)
	rv.mu.Lock()
	rv.got, rv.errs = append(rv.got, p), append(rv.errs, err)
	rv.mu.Unlock()
	if err != nil {
		w.WriteHeader(http.StatusUnauthorized)
	}
}

func TestWebhookDelivery(t *testing.T) {
	q := aitest.NewVideoQueue(t)
	c := newClient(t, q)
	rv := &receiver{c: c}
	hook := httptest.NewServer(rv)
	defer hook.Close()
	ctx := context.Background()

	ok, err := c.Submit(ctx, veoFast, map[string]any{"prompt": "hooked"}, hook.URL+"/hooks/fal?job=7")
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if j, _ := q.Job(ok.ID); j.Webhook != hook.URL+"/hooks/fal?job=7" {
		t.Fatalf("fal_webhook = %q", j.Webhook)
	}
	refused, err := c.Submit(ctx, veoFast, map[string]any{"prompt": "forbidden"}, hook.URL+"/hooks/fal")
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	q.Complete(ok.ID)
	q.FailRequestAs(refused.ID, aitest.ModelErrorContentPolicy, "flagged by a content checker")

	if len(rv.got) != 2 || rv.errs[0] != nil || rv.errs[1] != nil {
		t.Fatalf("deliveries verified: %d, errors %v", len(rv.got), rv.errs)
	}
	if ws := q.Webhooks(); ws[0].StatusCode != http.StatusOK || ws[1].StatusCode != http.StatusOK {
		t.Errorf("the receiver answered %d and %d, want 200", ws[0].StatusCode, ws[1].StatusCode)
	}
	good := rv.got[0]
	res, err := good.Result()
	want, _ := c.Result(ctx, veoFast, ok.ID)
	if good.RequestID != ok.ID || good.Status != WebhookOK || good.UserID != aitest.DefaultWebhookUserID ||
		err != nil || res.Video() != want.Video() {
		t.Errorf("OK delivery = %+v, result %+v (%v); want request %s with the result's video %+v",
			good, res, err, ok.ID, want.Video())
	}
	bad := rv.got[1]
	if _, err := bad.Result(); bad.RequestID != refused.ID || bad.Status != WebhookError || !errors.Is(err, ai.ErrContentRejected) {
		t.Errorf("ERROR delivery = %+v; Result error %v, want content_rejected", bad, err)
	}
}

func TestVerifyRejects(t *testing.T) {
	q := aitest.NewVideoQueue(t)
	other := aitest.NewVideoQueue(t)
	d := delivery(t, q)
	verifier := func(jwks string, edit func(*VerifierConfig)) *Verifier {
		cfg := VerifierConfig{JWKSURL: jwks}
		if edit != nil {
			edit(&cfg)
		}
		v, err := NewVerifier(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	shift := func(d time.Duration) func(*VerifierConfig) {
		return func(c *VerifierConfig) { c.Now = func() time.Time { return time.Now().Add(d) } }
	}
	withHeader := func(name, value string) http.Header {
		h := d.Header.Clone()
		h.Set(name, value)
		return h
	}
	tests := []struct {
		name   string
		v      *Verifier
		header http.Header
		body   []byte
		want   error
	}{
		{"good", verifier(q.JWKSURL(), nil), d.Header, d.Body, nil},
		{"good, for the configured user", verifier(q.JWKSURL(), func(c *VerifierConfig) { c.UserID = aitest.DefaultWebhookUserID }),
			d.Header, d.Body, nil},
		{"tampered body", verifier(q.JWKSURL(), nil), d.Header, bytes.Replace(d.Body, []byte(`"OK"`), []byte(`"ERROR"`), 1),
			ErrBadSignature},
		{"body with an extra space", verifier(q.JWKSURL(), nil), d.Header, append(bytes.Clone(d.Body), ' '), ErrBadSignature},
		{"another request id in the header", verifier(q.JWKSURL(), nil),
			withHeader("X-Fal-Webhook-Request-Id", "00000000-0000-4000-8000-000000000999"), d.Body, ErrBadSignature},
		{"signed with another key", verifier(other.JWKSURL(), nil), d.Header, d.Body, ErrBadSignature},
		{"stale timestamp", verifier(q.JWKSURL(), shift(6*time.Minute)), d.Header, d.Body, ErrStaleWebhook},
		{"timestamp from the future", verifier(q.JWKSURL(), shift(-6*time.Minute)), d.Header, d.Body, ErrStaleWebhook},
		{"within the tolerance", verifier(q.JWKSURL(), shift(4*time.Minute)), d.Header, d.Body, nil},
		{"no signature", verifier(q.JWKSURL(), nil), withHeader("X-Fal-Webhook-Signature", ""), d.Body, ErrMalformedWebhook},
		{"signature not hex", verifier(q.JWKSURL(), nil), withHeader("X-Fal-Webhook-Signature", "zz"), d.Body, ErrBadSignature},
		{"another user", verifier(q.JWKSURL(), func(c *VerifierConfig) { c.UserID = "kiln-prod" }), d.Header, d.Body,
			ErrWrongUser},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.v.Verify(context.Background(), tc.header, tc.body)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if tc.want == nil && (p.RequestID != d.RequestID || p.Status != WebhookOK) {
				t.Errorf("payload = %+v, want request %s OK", p, d.RequestID)
			}
		})
	}
}

// delivery completes a request with a webhook and returns the signed
// delivery the queue made.
func delivery(t *testing.T, q *aitest.VideoQueue) aitest.WebhookDelivery {
	t.Helper()
	sink := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer sink.Close()
	req, err := newClient(t, q).Submit(context.Background(), veoFast, map[string]any{"prompt": "p"}, sink.URL)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	q.Complete(req.ID)
	ws := q.Webhooks()
	if len(ws) == 0 || ws[len(ws)-1].StatusCode != http.StatusOK {
		t.Fatalf("no webhook was delivered: %+v", ws)
	}
	return ws[len(ws)-1]
}

// jwksSwitch serves the JWKS of one of two queues and counts the fetches.
type jwksSwitch struct {
	from    atomic.Pointer[aitest.VideoQueue]
	fetches atomic.Int32
}

func (s *jwksSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.fetches.Add(1)
	res, err := http.Get(s.from.Load().JWKSURL())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	_, _ = io.Copy(w, res.Body)
}

func TestVerifyRefetchesRotatedKeys(t *testing.T) {
	oldKey, newKey := aitest.NewVideoQueue(t), aitest.NewVideoQueue(t)
	sw := &jwksSwitch{}
	sw.from.Store(oldKey)
	jwks := httptest.NewServer(sw)
	defer jwks.Close()
	var offset atomic.Int64
	v, err := NewVerifier(VerifierConfig{JWKSURL: jwks.URL, MinRefetch: time.Minute,
		Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	before, after := delivery(t, oldKey), delivery(t, newKey)

	steps := []struct {
		name    string
		d       aitest.WebhookDelivery
		advance time.Duration
		want    error
		fetches int32
	}{
		{"first delivery fetches the keys", before, 0, nil, 1},
		{"the next uses the cache", before, 0, nil, 1},
		{"a new key within MinRefetch is not fetched", after, 0, ErrBadSignature, 1},
		{"after MinRefetch the rotated set is fetched", after, 2 * time.Minute, nil, 2},
		{"an unknown key right after a fetch fetches nothing", before, 0, ErrBadSignature, 2},
	}
	sw.from.Store(oldKey)
	for i, st := range steps {
		if i == 3 {
			sw.from.Store(newKey)
		}
		offset.Add(int64(st.advance))
		_, err := v.Verify(ctx, st.d.Header, st.d.Body)
		if !errors.Is(err, st.want) || (st.want == nil && err != nil) {
			t.Fatalf("%s: Verify = %v, want %v", st.name, err, st.want)
		}
		if got := sw.fetches.Load(); got != st.fetches {
			t.Fatalf("%s: %d JWKS fetches, want %d", st.name, got, st.fetches)
		}
	}
}

func TestVerifyKeysUnavailable(t *testing.T) {
	q := aitest.NewVideoQueue(t)
	d := delivery(t, q)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	v, err := NewVerifier(VerifierConfig{JWKSURL: down.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), d.Header, d.Body)
	if err == nil || errors.Is(err, ErrBadSignature) || errors.Is(err, ErrMalformedWebhook) {
		t.Errorf("Verify with the keys unavailable = %v, want a fetch error that is no verdict on the delivery", err)
	}
}

func TestWebhookFailureMapping(t *testing.T) {
	tests := []struct {
		name    string
		payload WebhookPayload
		want    error
	}{
		{"model validation error", WebhookPayload{Status: WebhookError, Error: "Invalid status code: 422",
			Payload: []byte(`{"detail":[{"loc":["body","prompt"],"msg":"field required","type":"value_error.missing"}]}`)},
			ai.ErrProviderRequestRejected},
		{"content policy", WebhookPayload{Status: WebhookError, Error: "Invalid status code: 422",
			Payload: []byte(`{"detail":[{"loc":["body"],"msg":"flagged","type":"content_policy_violation"}]}`)},
			ai.ErrContentRejected},
		{"runner failure", WebhookPayload{Status: WebhookError, Error: "Invalid status code: 503",
			Payload: []byte(`{"detail":"Runner disconnected","error_type":"runner_disconnected"}`)}, ai.ErrProviderUnavailable},
		{"no payload", WebhookPayload{Status: WebhookError, Error: "Request timed out", Payload: []byte(`null`),
			PayloadError: "payload is not JSON"}, ai.ErrProviderUnavailable},
	}
	for _, tc := range tests {
		if _, err := tc.payload.Result(); !errors.Is(err, tc.want) {
			t.Errorf("%s: Result = %v, want %v", tc.name, err, tc.want)
		}
	}
}
