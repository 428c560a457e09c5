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
	postID := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/sites/blog/posts", Auth: acme.Token,
		Body: map[string]string{"title": "Acme news"}}).JSON(t)["id"].(string)
	mediaID := b.upload(acme, "blog", "note.txt", []byte("Acme's file"), nil).JSON(t)["id"].(string)
	hookRcv := newReceiver(t)
	endpointID := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/webhooks", Auth: acme.Token,
		Body: map[string]string{"url": hookRcv.srv.URL}}).JSON(t)["id"].(string)
	deliveryID := "whd_isolation"
	_, err := b.db.Pool.Exec(t.Context(), `INSERT INTO webhook_deliveries (id, tenant_id, job_id, endpoint_id, url, event_type, message_id, payload, status)
		VALUES ($1, $2, $3, $4, $5, 'job.succeeded', 'msg_isolation', '{}', 'failed')`, deliveryID, acme.ID, jobID, endpointID, hookRcv.srv.URL)
	must(t, err)
	b.expect(http.StatusOK, req{Method: "PUT", Path: "/api/v1/settings/integrations/openai", Auth: acme.Token,
		Body: map[string]string{"api_key": "sk-acme-secret-9999"}})
	b.expect(http.StatusOK, req{Method: "PUT", Path: "/api/v1/system-prompts/test.greeting", Auth: acme.Token,
		Body: map[string]string{"template": "Acme greets {{.Name}}."}})
	kbID := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/knowledge-bases", Auth: acme.Token,
		Body: map[string]string{"name": "Acme knowledge"}}).JSON(t)["id"].(string)
	agentID := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/agents", Auth: acme.Token,
		Body: map[string]any{"name": "Acme agent", "knowledge_base_ids": []string{kbID}}}).JSON(t)["id"].(string)
	// A document without an index job, so Acme's credits stay as they are.
	docID := "doc_isolation"
	_, err = b.db.Pool.Exec(t.Context(), `INSERT INTO kb_documents (id, tenant_id, knowledge_base_id, title, source_type, content)
		VALUES ($1, $2, $3, 'Acme doc', 'text', 'Acme knows things')`, docID, acme.ID, kbID)
	must(t, err)

	// A revision of Acme's post, as a post.transform would record.
	revID := "rev_01jisolationisolationis000"
	_, err = b.db.Pool.Exec(t.Context(), `INSERT INTO post_revisions (id, tenant_id, site_id, post_id, kind, job_id, title, body_markdown,
		body_html, new_body_markdown, new_body_html, applied_at) VALUES ($1, $2, $3, $4, 'transform', 'job_isolation', 'Acme news', 'old', '', '', '', now())`,
		revID, acme.ID, siteID, postID)
	must(t, err)
	// For each route with a parameter: the id of Acme's resource (ids
	// separated by spaces fill the route's parameters in order), and what a
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
		"GET /api/v1/sites/:site/posts":                   {siteID, http.StatusNotFound},
		"POST /api/v1/sites/:site/posts":                  {siteID, http.StatusNotFound},
		"GET /api/v1/sites/:site/posts/:id":               {siteID + " " + postID, http.StatusNotFound},
		"PATCH /api/v1/sites/:site/posts/:id":             {siteID + " " + postID, http.StatusNotFound},
		"DELETE /api/v1/sites/:site/posts/:id":            {siteID + " " + postID, http.StatusNotFound},
		"POST /api/v1/sites/:site/posts/from-url":         {siteID, http.StatusNotFound},
		"POST /api/v1/sites/:site/posts/from-pdf":         {siteID, http.StatusNotFound},
		"POST /api/v1/sites/:site/posts/:id/recrawl":      {siteID + " " + postID, http.StatusNotFound},
		"GET /api/v1/sites/:site/media":                   {siteID, http.StatusNotFound},
		"POST /api/v1/sites/:site/media":                  {siteID, http.StatusNotFound},
		"GET /api/v1/sites/:site/media/:id":               {siteID + " " + mediaID, http.StatusNotFound},
		"PATCH /api/v1/sites/:site/media/:id":             {siteID + " " + mediaID, http.StatusNotFound},
		"DELETE /api/v1/sites/:site/media/:id":            {siteID + " " + mediaID, http.StatusNotFound},
		"GET /api/v1/sites/:site/media/:id/view":          {siteID + " " + mediaID, http.StatusNotFound},
		"GET /api/v1/jobs/:id":                            {jobID, http.StatusNotFound},
		"GET /api/v1/jobs/:id/events":                     {jobID, http.StatusNotFound},
		"POST /api/v1/jobs/:id/cancel":                    {jobID, http.StatusNotFound},
		"POST /api/v1/jobs/:id/retry":                     {jobID, http.StatusNotFound},
		"GET /api/v1/jobs/:id/deliveries":                 {jobID, http.StatusNotFound},
		"GET /api/v1/webhooks/:id":                        {endpointID, http.StatusNotFound},
		"PATCH /api/v1/webhooks/:id":                      {endpointID, http.StatusNotFound},
		"DELETE /api/v1/webhooks/:id":                     {endpointID, http.StatusNotFound},
		"GET /api/v1/webhooks/:id/secret":                 {endpointID, http.StatusNotFound},
		"POST /api/v1/webhooks/:id/rotate-secret":         {endpointID, http.StatusNotFound},
		"GET /api/v1/webhooks/:id/deliveries":             {endpointID, http.StatusNotFound},
		"GET /api/v1/webhook-deliveries/:id":              {deliveryID, http.StatusNotFound},
		"POST /api/v1/webhook-deliveries/:id/redeliver":   {deliveryID, http.StatusNotFound},
		"POST /api/v1/admin/tenants/:id/credits":          {acme.ID, http.StatusForbidden},
		"GET /api/v1/admin/tenants/:id":                   {acme.ID, http.StatusForbidden},
		"PATCH /api/v1/admin/tenants/:id":                 {acme.ID, http.StatusForbidden},
		"POST /api/v1/admin/tenants/:id/suspend":          {acme.ID, http.StatusForbidden},
		"POST /api/v1/admin/tenants/:id/resume":           {acme.ID, http.StatusForbidden},
		"GET /api/v1/admin/tenants/:id/rate-limits":       {acme.ID, http.StatusForbidden},
		"PUT /api/v1/admin/tenants/:id/rate-limits":       {acme.ID, http.StatusForbidden},
		"POST /api/v1/sites/:site/media/generatevideo":    {siteID, http.StatusNotFound},
		// Media generation (content/generate).
		"POST /api/v1/sites/:site/media/generate":              {siteID, http.StatusNotFound},
		"POST /api/v1/sites/:site/media/tts":                   {siteID, http.StatusNotFound},
		"POST /api/v1/sites/:site/media/:id/edit-with-ai":      {siteID + " " + mediaID, http.StatusNotFound},
		"POST /api/v1/sites/:site/media/:id/generate-metadata": {siteID + " " + mediaID, http.StatusNotFound},
		"GET /api/v1/sites/:site/media/:id/image-versions":     {siteID + " " + mediaID, http.StatusNotFound},
		// Transform and SEO (content/transform, content/seo).
		"POST /api/v1/sites/:site/posts/:id/transform":                 {siteID + " " + postID, http.StatusNotFound},
		"GET /api/v1/sites/:site/posts/:id/revisions":                  {siteID + " " + postID, http.StatusNotFound},
		"POST /api/v1/sites/:site/posts/:id/revisions/:rev_id/restore": {siteID + " " + postID + " " + revID, http.StatusNotFound},
		"POST /api/v1/sites/:site/seo/generatetext":                    {siteID, http.StatusNotFound},
		"POST /api/v1/sites/:site/seo/analyze":                         {siteID, http.StatusNotFound},
		// Translations (content/translate).
		"POST /api/v1/sites/:site/translations/posts/:id/translate":         {siteID + " " + postID, http.StatusNotFound},
		"GET /api/v1/sites/:site/translations/posts/:id":                    {siteID + " " + postID, http.StatusNotFound},
		"POST /api/v1/sites/:site/translations/posts/:id/sync-translations": {siteID + " " + postID, http.StatusNotFound},
		"POST /api/v1/sites/:site/translations/media/:id/translate":         {siteID + " " + mediaID, http.StatusNotFound},
		"GET /api/v1/sites/:site/translations/media/:id":                    {siteID + " " + mediaID, http.StatusNotFound},
		"POST /api/v1/sites/:site/translations/media/:id/sync-translations": {siteID + " " + mediaID, http.StatusNotFound},
		// Unauthenticated: only a signed delivery is taken.
		"POST /api/v1/providers/:provider/webhook": {"fal", http.StatusUnauthorized},
		// Settings are per tenant: Globex reads and changes its own (the
		// PUT body's unknown field is refused), never Acme's key.
		"GET /api/v1/settings/integrations/:provider":    {"openai", http.StatusOK},
		"PUT /api/v1/settings/integrations/:provider":    {"openai", http.StatusUnprocessableEntity},
		"DELETE /api/v1/settings/integrations/:provider": {"openai", http.StatusNoContent},
		// Globex's own prompt: the default, whatever Acme set.
		"GET /api/v1/system-prompts/:type":    {"test.greeting", http.StatusOK},
		"PUT /api/v1/system-prompts/:type":    {"test.greeting", http.StatusUnprocessableEntity},
		"DELETE /api/v1/system-prompts/:type": {"test.greeting", http.StatusOK},
	}
	// Knowledge bases and agents: every one is a 404 to Globex.
	for route, id := range map[string]string{
		"GET /api/v1/knowledge-bases/:id":                              kbID,
		"PATCH /api/v1/knowledge-bases/:id":                            kbID,
		"DELETE /api/v1/knowledge-bases/:id":                           kbID,
		"GET /api/v1/knowledge-bases/:id/documents":                    kbID,
		"POST /api/v1/knowledge-bases/:id/documents":                   kbID,
		"GET /api/v1/knowledge-bases/:id/documents/:doc_id":            kbID + " " + docID,
		"PATCH /api/v1/knowledge-bases/:id/documents/:doc_id":          kbID + " " + docID,
		"DELETE /api/v1/knowledge-bases/:id/documents/:doc_id":         kbID + " " + docID,
		"POST /api/v1/knowledge-bases/:id/reindex":                     kbID,
		"POST /api/v1/knowledge-bases/:id/search":                      kbID,
		"GET /api/v1/agents/:id":                                       agentID,
		"PATCH /api/v1/agents/:id":                                     agentID,
		"DELETE /api/v1/agents/:id":                                    agentID,
		"POST /api/v1/agents/:id/search":                               agentID,
		"GET /api/v1/agents/:id/knowledge-base":                        agentID,
		"POST /api/v1/agents/:id/knowledge-base/from-post/:post_id":    agentID + " " + postID,
		"DELETE /api/v1/agents/:id/knowledge-base/:doc_id":             agentID + " " + docID,
		"POST /api/v1/agents/knowledge-base/:doc_id/compute-rag-index": docID,
	} {
		cases[route] = struct {
			id     string
			status int
		}{id, http.StatusNotFound}
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
		ids, segs := strings.Fields(c.id), strings.Split(rt.Path, "/")
		for i, seg := range segs {
			if strings.HasPrefix(seg, ":") && len(ids) > 0 {
				segs[i], ids = ids[0], ids[1:]
			}
		}
		path := strings.Join(segs, "/")
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
	if hookRcv.count() != 0 {
		t.Errorf("another tenant's redelivery reached Acme's endpoint %d times", hookRcv.count())
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
	if p := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/posts/" + postID, Auth: acme.Token}).JSON(t); p["title"] != "Acme news" {
		t.Errorf("Acme's post was changed by another tenant: %v", p)
	}
	if v := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/media/" + mediaID + "/view", Auth: acme.Token}); string(v.Body) != "Acme's file" {
		t.Errorf("Acme's file was changed by another tenant: %q", v.Body)
	}
	if kb := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/knowledge-bases/" + kbID, Auth: acme.Token}).JSON(t); kb["name"] != "Acme knowledge" || kb["document_count"] != float64(1) {
		t.Errorf("Acme's knowledge base was changed by another tenant: %v", kb)
	}
	if a := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/agents/" + agentID, Auth: acme.Token}).JSON(t); a["name"] != "Acme agent" {
		t.Errorf("Acme's agent was changed by another tenant: %v", a)
	}
	b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/knowledge-bases/" + kbID + "/documents/" + docID, Auth: acme.Token})
	if j := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs/" + jobID, Auth: acme.Token}).JSON(t); j["status"] != "queued" {
		t.Errorf("Acme's job is %v after another tenant's attempts, want queued", j["status"])
	}
	if bal := b.balance(acme); bal["balance"] != float64(99) {
		t.Errorf("Acme's balance = %v, want 99", bal["balance"])
	}
	if v := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/settings/integrations/openai", Auth: globex.Token}).JSON(t); v["key_source"] == "tenant" || v["api_key"] == "…9999" {
		t.Errorf("Globex sees Acme's provider key: %v", v)
	}
	if v := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/settings/integrations/openai", Auth: acme.Token}).JSON(t); v["api_key"] != "…9999" {
		t.Errorf("Acme's key was changed by another tenant: %v", v)
	}
	if p := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/system-prompts/test.greeting", Auth: globex.Token}).JSON(t); p["customized"] != false {
		t.Errorf("Globex sees Acme's system prompt: %v", p)
	}
	if p := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/system-prompts/test.greeting", Auth: acme.Token}).JSON(t); p["template"] != "Acme greets {{.Name}}." {
		t.Errorf("Acme's system prompt was changed by another tenant: %v", p)
	}
	// Lists show only the caller's own.
	for _, p := range []string{"/api/v1/knowledge-bases", "/api/v1/agents"} {
		if l := b.expect(http.StatusOK, req{Method: "GET", Path: p, Auth: globex.Token}).JSON(t); len(l["data"].([]any)) != 0 {
			t.Errorf("Globex lists Acme's %s: %v", p, l)
		}
	}
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
