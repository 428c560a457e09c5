package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kilnhq/kiln/api"
)

// TestQueueDashboardAccess: asynqmon at /admin/queues answers platform
// admins (bearer token, the cookie their login sets, or basic auth) and no
// one else, tenant owners included.
func TestQueueDashboardAccess(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	admin := b.platformAdmin()
	get := func(path string, set func(*http.Request)) *http.Response {
		t.Helper()
		r, err := http.NewRequest("GET", b.srv.URL+path, nil)
		must(t, err)
		set(r)
		res, err := http.DefaultClient.Do(r)
		must(t, err)
		res.Body.Close()
		return res
	}
	none := func(*http.Request) {}
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	basic := func(user, pass string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(user, pass) }
	}

	// The cookie a platform admin's login sets.
	login := b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/auth/login",
		Body: map[string]string{"email": "root@example.com", "password": "password-123"}})
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: login.Header}).Cookies() {
		if c.Name == "kiln_admin_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/admin" {
		t.Fatalf("admin login cookie = %+v, want kiln_admin_session, HttpOnly, SameSite=Strict, Path=/admin", cookie)
	}
	ownerLogin := b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/auth/login",
		Body: map[string]string{"email": acme.Email, "password": "password-123"}})
	if strings.Contains(ownerLogin.Header.Get("Set-Cookie"), "kiln_admin_session") {
		t.Error("a tenant owner's login set the admin dashboard cookie")
	}

	cases := []struct {
		name string
		path string
		set  func(*http.Request)
		want int
	}{
		{"no credential", "/admin/queues", none, http.StatusUnauthorized},
		{"tenant owner token", "/admin/queues", bearer(acme.Token), http.StatusForbidden},
		{"tenant owner basic auth", "/admin/queues", basic(acme.Email, "password-123"), http.StatusForbidden},
		{"wrong password", "/admin/queues", basic("root@example.com", "nope-nope-nope"), http.StatusUnauthorized},
		{"admin token", "/admin/queues", bearer(admin), http.StatusOK},
		{"admin cookie", "/admin/queues", func(r *http.Request) { r.AddCookie(cookie) }, http.StatusOK},
		{"admin basic auth", "/admin/queues", basic("root@example.com", "password-123"), http.StatusOK},
		{"admin api route", "/admin/queues/api/queues", bearer(admin), http.StatusOK},
		{"owner api route", "/admin/queues/api/queues", bearer(acme.Token), http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := get(c.path, c.set)
			if res.StatusCode != c.want {
				t.Errorf("GET %s: %d, want %d", c.path, res.StatusCode, c.want)
			}
			if c.want == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without a basic-auth challenge")
			}
		})
	}
}

// TestQueueDashboardReadOnly: with the read-only option, asynqmon refuses
// changes.
func TestQueueDashboardReadOnly(t *testing.T) {
	b := setup(t, func(c *api.Config) { c.ConsoleReadOnly = true })
	admin := b.platformAdmin()
	res := b.do(req{Method: "DELETE", Path: "/admin/queues/api/queues/default", Auth: admin})
	if res.Status < 400 || res.Status == http.StatusNotFound {
		t.Errorf("DELETE a queue in read-only mode: %d, want it refused\n%s", res.Status, res.Body)
	}
}

func TestRedact(t *testing.T) {
	cases := []struct{ in, want string }{
		{"job_01abc", "job_01abc"},
		{`{"delivery_id":"whd_1","attempt":2}`, `{"attempt":2,"delivery_id":"whd_1"}`},
		{`{"prompt":"a cat","api_key":"sk-1","n":{"secret":"x","ok":1}}`, `{"api_key":"[redacted]","n":{"ok":1,"secret":"[redacted]"},"prompt":"[redacted]"}`},
		{strings.Repeat("x y", 40), "(120 bytes, not shown)"},
	}
	for _, c := range cases {
		if got := api.Redact([]byte(c.in)); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestMonitoringEndpoints: the admin monitoring routes answer platform
// admins with live figures.
func TestMonitoringEndpoints(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	admin := b.platformAdmin()
	j := b.submit(acme, map[string]any{"kind": "system.echo"})
	b.await(acme, j["id"].(string))

	health := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/admin/monitoring/system-health", Auth: admin}).JSON(t)
	if health["status"] != "ok" || len(health["workers"].([]any)) == 0 {
		t.Errorf("system-health = %v, want ok with the running worker", health)
	}
	qs := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/admin/monitoring/queue-stats", Auth: admin}).JSON(t)
	names := map[string]bool{}
	for _, q := range qs["queues"].([]any) {
		names[q.(map[string]any)["queue"].(string)] = true
	}
	if !names[b.ns+":normal"] {
		t.Errorf("queue-stats lists %v, want %s:normal", names, b.ns)
	}
	perf := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/admin/monitoring/performance-metrics?window=1h", Auth: admin}).JSON(t)
	kinds := perf["kinds"].([]any)
	if len(kinds) != 1 || kinds[0].(map[string]any)["kind"] != "system.echo" || kinds[0].(map[string]any)["succeeded"] != float64(1) ||
		kinds[0].(map[string]any)["run_seconds"].(map[string]any)["p50"] == nil {
		t.Errorf("performance-metrics = %v, want system.echo with 1 success and a p50", perf)
	}
	b.expect(http.StatusUnprocessableEntity, req{Method: "GET", Path: "/api/v1/admin/monitoring/performance-metrics?window=9999h", Auth: admin})
	rl := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/admin/monitoring/rate-limit-stats", Auth: admin}).JSON(t)
	if rl["enabled"] != true {
		t.Errorf("rate-limit-stats = %v", rl)
	}
	for _, p := range []string{"system-health", "queue-stats", "performance-metrics", "rate-limit-stats"} {
		b.expect(http.StatusForbidden, req{Method: "GET", Path: "/api/v1/admin/monitoring/" + p, Auth: acme.Token})
	}
}
