package api_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/kilnhq/kiln/api"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/idempotency"
	"github.com/kilnhq/kiln/internal/testkit"
)

// TestRateLimits: a tenant past its limit gets 429 with Retry-After and the
// rate-limit headers; another tenant is untouched; an admin can lift one
// tenant's limit.
func TestRateLimits(t *testing.T) {
	b := setup(t, func(c *api.Config) {
		c.RateLimits = map[string]int{"ai": 3, "content": 5, "auth": 100, "general": 100}
	})
	acme, globex := b.signup("Acme"), b.signup("Globex")

	for i := range 3 {
		res := b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/jobs", Auth: acme.Token,
			Body: map[string]any{"kind": "system.echo"}})
		checkHeaders(t, res, "ai", 3, 2-i)
	}
	res := b.expect(http.StatusTooManyRequests, req{Method: "POST", Path: "/api/v1/jobs", Auth: acme.Token,
		Body: map[string]any{"kind": "system.echo"}})
	if code := res.ErrorCode(t); code != "rate_limited" {
		t.Errorf("error code %q, want rate_limited", code)
	}
	if n, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || n < 1 || n > 60 {
		t.Errorf("Retry-After = %q, want 1-60 seconds", res.Header.Get("Retry-After"))
	}
	checkHeaders(t, res, "ai", 3, 0)
	var jobs int
	must(t, b.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM jobs WHERE tenant_id = $1`, acme.ID).Scan(&jobs))
	if jobs != 3 {
		t.Errorf("acme has %d jobs after a refused submit, want 3", jobs)
	}

	// Another scope of the same tenant, and the same scope of another
	// tenant, have their own budgets.
	// (redis_rate computes Remaining in floating point: at 100/min a first
	// request can show 98.)
	gen := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs", Auth: acme.Token})
	if n, _ := strconv.Atoi(gen.Header.Get("X-RateLimit-Remaining")); gen.Header.Get("X-RateLimit-Limit") != "100" || n < 98 {
		t.Errorf("general scope after spending ai: limit %q remaining %d, want 100 and at least 98",
			gen.Header.Get("X-RateLimit-Limit"), n)
	}
	b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/jobs", Auth: globex.Token,
		Body: map[string]any{"kind": "system.echo"}})

	// A platform admin sees the refusal, and gives Acme its own ai limit.
	admin := b.platformAdmin()
	st := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/admin/monitoring/rate-limit-stats", Auth: admin}).JSON(t)["stats"].(map[string]any)
	top := st["top_limited"].([]any)
	if st["limited"].(map[string]any)["ai"] != float64(1) || len(top) != 1 || top[0].(map[string]any)["subject"] != acme.ID {
		t.Errorf("rate-limit-stats = %v, want one ai refusal of %s", st, acme.ID)
	}
	lim := b.expect(http.StatusOK, req{Method: "PUT", Path: "/api/v1/admin/tenants/" + acme.ID + "/rate-limits", Auth: admin,
		Body: map[string]any{"ai": 50}}).JSON(t)["per_minute"].(map[string]any)
	if lim["ai"] != float64(50) || lim["content"] != float64(5) {
		t.Errorf("limits after override = %v, want ai 50 and content 5", lim)
	}
	res = b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/jobs", Auth: acme.Token,
		Body: map[string]any{"kind": "system.echo"}})
	if res.Header.Get("X-RateLimit-Limit") != "50" {
		t.Errorf("X-RateLimit-Limit after override = %q, want 50", res.Header.Get("X-RateLimit-Limit"))
	}
	bad := b.expect(http.StatusUnprocessableEntity, req{Method: "PUT", Path: "/api/v1/admin/tenants/" + acme.ID + "/rate-limits", Auth: admin,
		Body: map[string]any{"ai": 0, "video": 5}})
	if f := bad.Fields(t); f["ai"] == nil || f["video"] == nil {
		t.Errorf("fields = %v, want ai and video named", f)
	}
	own := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/rate-limits", Auth: acme.Token}).JSON(t)["per_minute"].(map[string]any)
	if own["ai"] != float64(50) {
		t.Errorf("GET /rate-limits = %v, want ai 50", own)
	}
}

// TestAuthRateLimitPerIP: the auth routes are limited per client IP, before
// any credential is checked.
func TestAuthRateLimitPerIP(t *testing.T) {
	b := setup(t, func(c *api.Config) {
		c.RateLimits = map[string]int{"ai": 100, "content": 100, "auth": 2, "general": 100}
	})
	login := req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"email": "x@example.com", "password": "wrong-password"}}
	b.expect(http.StatusUnauthorized, login)
	b.expect(http.StatusUnauthorized, login)
	res := b.expect(http.StatusTooManyRequests, login)
	checkHeaders(t, res, "auth", 2, 0)
}

// TestRateLimitsFailOpen: with Redis unreachable, requests pass without
// rate-limit headers rather than failing.
func TestRateLimitsFailOpen(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = dead.Close() })
	s := api.New(api.Config{Version: "test", PublicURL: "http://kiln.test", MaxBodyBytes: 64 << 10, RateLimits: generousLimits()},
		testkit.Discard(), api.Deps{DB: b.db.Pool, Redis: dead, Identity: b.identity, Content: content.New(b.db.Pool, testkit.Discard()),
			Jobs: b.jobs, Idempotency: idempotency.New(b.db.Pool)})
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/api/v1/sites", nil)
	r.Header.Set("Authorization", "Bearer "+acme.Token)
	s.Handler().ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/sites with Redis down: status %d, want 200\n%s", rec.Code, rec.Body)
	}
	if h := rec.Header().Get("X-RateLimit-Limit"); h != "" {
		t.Errorf("X-RateLimit-Limit = %q with Redis down, want none", h)
	}
}

func checkHeaders(t *testing.T, res response, scope string, limit, remaining int) {
	t.Helper()
	want := map[string]string{
		"X-RateLimit-Limit":     strconv.Itoa(limit),
		"X-RateLimit-Remaining": strconv.Itoa(remaining),
		"RateLimit-Policy":      `"` + scope + `";q=` + strconv.Itoa(limit) + ";w=60",
	}
	for h, v := range want {
		if got := res.Header.Get(h); got != v {
			t.Errorf("%s = %q, want %q", h, got, v)
		}
	}
	if reset, err := strconv.Atoi(res.Header.Get("X-RateLimit-Reset")); err != nil || reset < 0 || reset > 60 {
		t.Errorf("X-RateLimit-Reset = %q, want 0-60 seconds", res.Header.Get("X-RateLimit-Reset"))
	}
	if got := res.Header.Get("RateLimit"); got == "" || got[:len(scope)+2] != `"`+scope+`"` {
		t.Errorf("RateLimit = %q, want it to name scope %s", got, scope)
	}
}
