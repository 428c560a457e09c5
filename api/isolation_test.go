package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestTenantIsolation walks every route that takes an id: a caller from
// tenant B asking for tenant A's resource gets 404, as if it did not exist,
// and nothing of A's changes. A new route with an id fails this test until
// it is added to the table.
func TestTenantIsolation(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	globex := b.signup("Globex")

	siteID := b.site(acme, "blog")
	_, userID := b.member(acme, "editor")
	keyID, _ := b.apiKey(acme)
	sa := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/service-accounts", Auth: acme.Token,
		Body: map[string]string{"name": "bot"}}).JSON(t)["id"].(string)
	jobID := b.submit(acme, map[string]any{"kind": "system.echo"})["id"].(string)

	// For each route with a parameter: the id of Acme's resource, and what a
	// Globex owner gets (404; 403 where the route is for platform admins).
	cases := map[string]struct {
		id     string
		status int
	}{
		"GET /api/v1/users/:id":                           {userID, http.StatusNotFound},
		"PATCH /api/v1/users/:id":                         {userID, http.StatusNotFound},
		"DELETE /api/v1/users/:id":                        {userID, http.StatusNotFound},
		"GET /api/v1/api-keys/:id":                        {keyID, http.StatusNotFound},
		"DELETE /api/v1/api-keys/:id":                     {keyID, http.StatusNotFound},
		"GET /api/v1/service-accounts/:id":                {sa, http.StatusNotFound},
		"PATCH /api/v1/service-accounts/:id":              {sa, http.StatusNotFound},
		"DELETE /api/v1/service-accounts/:id":             {sa, http.StatusNotFound},
		"POST /api/v1/service-accounts/:id/rotate-secret": {sa, http.StatusNotFound},
		"GET /api/v1/sites/:site":                         {siteID, http.StatusNotFound},
		"PATCH /api/v1/sites/:site":                       {siteID, http.StatusNotFound},
		"DELETE /api/v1/sites/:site":                      {siteID, http.StatusNotFound},
		"GET /api/v1/jobs/:id":                            {jobID, http.StatusNotFound},
		"GET /api/v1/jobs/:id/events":                     {jobID, http.StatusNotFound},
		"POST /api/v1/jobs/:id/cancel":                    {jobID, http.StatusNotFound},
		"POST /api/v1/jobs/:id/retry":                     {jobID, http.StatusNotFound},
		"POST /api/v1/admin/tenants/:id/credits":          {acme.ID, http.StatusForbidden},
		"GET /api/v1/admin/tenants/:id":                   {acme.ID, http.StatusForbidden},
		"PATCH /api/v1/admin/tenants/:id":                 {acme.ID, http.StatusForbidden},
		"POST /api/v1/admin/tenants/:id/suspend":          {acme.ID, http.StatusForbidden},
		"POST /api/v1/admin/tenants/:id/resume":           {acme.ID, http.StatusForbidden},
		"GET /api/v1/admin/tenants/:id/rate-limits":       {acme.ID, http.StatusForbidden},
		"PUT /api/v1/admin/tenants/:id/rate-limits":       {acme.ID, http.StatusForbidden},
	}
	covered := 0
	for _, rt := range b.server.Routes() {
		if !strings.Contains(rt.Path, ":") {
			continue
		}
		key := rt.Method + " " + rt.Path
		c, ok := cases[key]
		if !ok {
			t.Errorf("route %s takes an id but has no tenant-isolation case", key)
			continue
		}
		covered++
		path := rt.Path[:strings.Index(rt.Path, ":")] + c.id
		if rest := rt.Path[strings.Index(rt.Path, ":"):]; strings.Contains(rest, "/") {
			path += rest[strings.Index(rest, "/"):]
		}
		r := req{Method: rt.Method, Path: path, Auth: globex.Token, Body: map[string]string{"name": "hijacked"}}
		if rt.Method == http.MethodGet || rt.Method == http.MethodDelete {
			r.Body = nil
		}
		if res := b.do(r); res.Status != c.status {
			t.Errorf("%s as another tenant: status %d, want %d: %s", key, res.Status, c.status, res.Body)
		}
		// The slug addresses sites too: Globex cannot reach Acme's by slug.
		if strings.Contains(rt.Path, ":site") {
			r.Path = strings.Replace(path, siteID, "blog", 1)
			if res := b.do(r); res.Status != http.StatusNotFound {
				t.Errorf("%s by slug as another tenant: status %d, want 404", key, res.Status)
			}
		}
	}
	if covered != len(cases) {
		t.Errorf("%d routes with ids walked, table has %d: remove cases for routes that are gone", covered, len(cases))
	}

	// Acme's resources are untouched and still there.
	for _, p := range []string{"/api/v1/sites/" + siteID, "/api/v1/users/" + userID, "/api/v1/api-keys/" + keyID, "/api/v1/service-accounts/" + sa} {
		got := b.expect(http.StatusOK, req{Method: "GET", Path: p, Auth: acme.Token}).JSON(t)
		if got["name"] == "hijacked" {
			t.Errorf("%s was changed by another tenant", p)
		}
	}
	if j := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs/" + jobID, Auth: acme.Token}).JSON(t); j["status"] != "queued" {
		t.Errorf("Acme's job is %v after another tenant's attempts, want queued", j["status"])
	}
	if bal := b.balance(acme); bal["balance"] != float64(99) {
		t.Errorf("Acme's balance = %v, want 99", bal["balance"])
	}
	// Lists show only the caller's own.
	list := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites", Auth: globex.Token}).JSON(t)
	if len(list["data"].([]any)) != 0 {
		t.Errorf("Globex lists Acme's sites: %v", list)
	}
	if jl := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs", Auth: globex.Token}).JSON(t); len(jl["data"].([]any)) != 0 {
		t.Errorf("Globex lists Acme's jobs: %v", jl)
	}
	if tx := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/credits/transactions", Auth: globex.Token}).JSON(t); len(tx["data"].([]any)) != 1 {
		t.Errorf("Globex's ledger holds %d entries, want its own grant only", len(tx["data"].([]any)))
	}
	users := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/users", Auth: globex.Token}).JSON(t)
	if len(users["data"].([]any)) != 1 {
		t.Errorf("Globex lists %d users, want only its owner", len(users["data"].([]any)))
	}
}
