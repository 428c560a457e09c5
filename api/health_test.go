package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/kilnhq/kiln/api"
	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/testkit"
)

func TestHealthAndRoot(t *testing.T) {
	b := setup(t)
	b.expect(http.StatusOK, req{Method: "GET", Path: "/health/live"})
	ready := b.expect(http.StatusOK, req{Method: "GET", Path: "/health/ready"}).JSON(t)
	if ready["status"] != "ok" {
		t.Fatalf("ready = %v", ready)
	}
	root := b.expect(http.StatusOK, req{Method: "GET", Path: "/"}).JSON(t)
	if root["name"] != "kiln" || root["version"] != "test" || root["links"].(map[string]any)["openapi"] != "http://kiln.test/api/v1/openapi.yaml" {
		t.Fatalf("root = %v", root)
	}
}

// TestReadyNamesWhatIsDown points the API at a Postgres and a Redis that do
// not answer (a closed port) and checks that /health/ready names each.
func TestReadyNamesWhatIsDown(t *testing.T) {
	good := testkit.NewDB(t)
	goodRedis := testkit.NewRedis(t)
	deadDB, err := pgxpool.New(t.Context(), "postgres://kiln@127.0.0.1:1/none?connect_timeout=1")
	testkit.Must(t, "pool", err)
	t.Cleanup(deadDB.Close)
	deadRedis := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { deadRedis.Close() })
	deadIdentity, err := identity.New(deadDB, testkit.Logger(t), identity.Config{Issuer: "kiln", Audience: "kiln-api"})
	testkit.Must(t, "identity", err)

	tests := []struct {
		name string
		deps api.Deps
		down []string
	}{
		{"postgres down", api.Deps{DB: deadDB, Redis: goodRedis.Client, Identity: deadIdentity}, []string{"postgres"}},
		{"redis down", api.Deps{DB: good.Pool, Redis: deadRedis}, []string{"redis"}},
		{"both down", api.Deps{DB: deadDB, Redis: deadRedis, Identity: deadIdentity}, []string{"postgres", "redis"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := api.New(api.Config{MaxBodyBytes: 1024}, testkit.Logger(t), tt.deps)
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/health/ready", nil))
			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503: %s", rec.Code, rec.Body)
			}
			body := rec.Body.String()
			for _, name := range tt.down {
				if !strings.Contains(body, `"message":"not ready: `) || !strings.Contains(body, name) {
					t.Errorf("body does not name %s: %s", name, body)
				}
			}
			if len(tt.down) == 1 && strings.Contains(body, `"down":["postgres","redis"]`) {
				t.Errorf("body names both when only %s is down: %s", tt.down[0], body)
			}
			if tt.deps.DB != deadDB {
				return
			}
			// A route that needs Postgres answers 503, not 500.
			login := httptest.NewRequest("POST", "/api/v1/auth/login", strings.NewReader(`{"email":"a@example.com","password":"password-123"}`))
			login.Header.Set("Content-Type", "application/json")
			rec = httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, login)
			if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "dependency_unavailable") || rec.Header().Get("Retry-After") == "" {
				t.Errorf("login with Postgres down: %d %s", rec.Code, rec.Body)
			}
		})
	}
}

func TestRequestBasics(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")

	// Every answer carries a request id; a sensible one from the caller is kept.
	if id := b.do(req{Method: "GET", Path: "/health/live"}).Header.Get("X-Request-ID"); !strings.HasPrefix(id, "req_") {
		t.Errorf("generated X-Request-ID = %q", id)
	}
	if id := b.do(req{Method: "GET", Path: "/health/live", Header: map[string]string{"X-Request-ID": "trace-42"}}).Header.Get("X-Request-ID"); id != "trace-42" {
		t.Errorf("X-Request-ID = %q, want the caller's", id)
	}

	// Bodies over the limit are refused with 413 and write nothing.
	big := `{"name": "` + strings.Repeat("x", 70<<10) + `", "slug": "big"}`
	if res := b.expect(http.StatusRequestEntityTooLarge, req{Method: "POST", Path: "/api/v1/sites", Auth: acme.Token, Body: big}); res.ErrorCode(t) != "body_too_large" {
		t.Fatalf("code = %q", res.ErrorCode(t))
	}
	list := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites", Auth: acme.Token}).JSON(t)
	if len(list["data"].([]any)) != 0 {
		t.Fatal("an oversized request wrote a site")
	}

	// Unknown routes and methods answer JSON errors.
	if res := b.expect(http.StatusNotFound, req{Method: "GET", Path: "/api/v1/nope"}); res.ErrorCode(t) != "route_not_found" {
		t.Errorf("unknown route code = %q", res.ErrorCode(t))
	}
	if res := b.expect(http.StatusMethodNotAllowed, req{Method: "PUT", Path: "/api/v1/sites"}); res.ErrorCode(t) != "method_not_allowed" {
		t.Errorf("wrong method code = %q", res.ErrorCode(t))
	}
}
