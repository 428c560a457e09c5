package api_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
)

// TestIntegrationSettings: an admin sets, reads, checks and removes the
// tenant's provider key through the API; the key is stored encrypted and
// never shown; jobs use it; editors may not touch it.
func TestIntegrationSettings(t *testing.T) {
	b := setupWith(t, bundleOptions{noProvider: true})
	acme := b.signup("Acme Settings")
	b.site(acme, "blog")
	path := "/api/v1/settings/integrations/openai"

	// No key anywhere: a chat job is refused at submit, naming the setting.
	post := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/sites/blog/posts", Auth: acme.Token,
		Body: map[string]string{"title": "Hello", "body_markdown": "# Hello\n\nSome text to summarise."}}).JSON(t)["id"].(string)
	transform := req{Method: "POST", Path: "/api/v1/sites/blog/posts/" + post + "/transform", Auth: acme.Token,
		Body: map[string]string{"preset": "summarize"}}
	if res := b.expect(http.StatusServiceUnavailable, transform); res.ErrorCode(t) != "provider_not_configured" {
		t.Fatalf("without a key: %s", res.Body)
	}

	// A key the provider refuses checks as not ok, and nothing is stored.
	bad := b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/settings/integrations/test", Auth: acme.Token,
		Body: map[string]any{"provider": "openai", "api_key": "sk-wrong-key-0000", "base_url": b.ai.URL()}}).JSON(t)
	if bad["ok"] != false || bad["code"] != "provider_auth_failed" {
		t.Errorf("checking a wrong key: %v, want ok false with provider_auth_failed", bad)
	}
	good := b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/settings/integrations/test", Auth: acme.Token,
		Body: map[string]any{"provider": "openai", "api_key": b.ai.APIKey(), "base_url": b.ai.URL(),
			"models": map[string]string{"chat": "gpt-4o-mini"}}}).JSON(t)
	if good["ok"] != true {
		t.Errorf("checking the right key: %v", good)
	}

	// Saved: shown masked, stored sealed, used by jobs.
	view := b.expect(http.StatusOK, req{Method: "PUT", Path: path, Auth: acme.Token,
		Body: map[string]any{"api_key": b.ai.APIKey(), "base_url": b.ai.URL(), "models": map[string]string{"chat": "gpt-4o-mini"}}}).JSON(t)
	key := b.ai.APIKey()
	if view["api_key"] != "…"+key[len(key)-4:] || view["key_source"] != "tenant" || bytes.Contains(b.do(req{Method: "GET", Path: path, Auth: acme.Token}).Body, []byte(key)) {
		t.Fatalf("the key is not masked: %v", view)
	}
	var sealed []byte
	must(t, b.db.Pool.QueryRow(context.Background(), `SELECT api_key_sealed FROM tenant_integrations WHERE tenant_id = $1`, acme.ID).Scan(&sealed))
	if bytes.Contains(sealed, []byte(key)) {
		t.Fatal("the key is stored in clear")
	}
	b.expect(http.StatusAccepted, transform)

	// Editors cannot read or change it; a private base URL is refused.
	editor, _ := b.member(acme, "editor")
	b.expect(http.StatusForbidden, req{Method: "GET", Path: path, Auth: editor})
	bl := b.expect(http.StatusUnprocessableEntity, req{Method: "PUT", Path: path, Auth: acme.Token,
		Body: map[string]any{"base_url": "http://10.0.0.5/v1"}})
	if bl.Fields(t)["base_url"] == nil {
		t.Errorf("a private base URL: %s, want 422 naming base_url", bl.Body)
	}
	b.expect(http.StatusNotFound, req{Method: "GET", Path: "/api/v1/settings/integrations/nope", Auth: acme.Token})

	// Removed: the deployment's (none) applies again.
	b.expect(http.StatusNoContent, req{Method: "DELETE", Path: path, Auth: acme.Token})
	b.expect(http.StatusServiceUnavailable, transform)
}

// TestVideoKeyCheck: the fal key check asks the queue API and tells an
// accepted key from a refused one.
func TestVideoKeyCheck(t *testing.T) {
	b := setupWith(t, bundleOptions{noProvider: true})
	acme := b.signup("Acme Fal")
	for _, tc := range []struct {
		key  string
		want bool
	}{{b.video.APIKey(), true}, {"fal-wrong:key", false}} {
		res := b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/settings/integrations/test", Auth: acme.Token,
			Body: map[string]any{"provider": "fal", "api_key": tc.key, "base_url": b.video.URL()}}).JSON(t)
		if res["ok"] != tc.want {
			t.Errorf("fal key %q checked %v, want ok %v", tc.key, res, tc.want)
		}
	}
}

// TestSystemPromptsAPI: a tenant replaces a platform default, a template
// that does not render is refused, and DELETE puts the default back.
func TestSystemPromptsAPI(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme Prompts")
	path := "/api/v1/system-prompts/test.greeting"
	def := b.expect(http.StatusOK, req{Method: "GET", Path: path, Auth: acme.Token}).JSON(t)
	if def["customized"] != false || def["template"] != def["default"] {
		t.Fatalf("default prompt: %v", def)
	}
	bad := b.expect(http.StatusUnprocessableEntity, req{Method: "PUT", Path: path, Auth: acme.Token,
		Body: map[string]string{"template": "Hi {{.Nickname}}"}})
	if bad.Fields(t)["template"] == nil {
		t.Errorf("a template with an unknown variable: %s", bad.Body)
	}
	set := b.expect(http.StatusOK, req{Method: "PUT", Path: path, Auth: acme.Token,
		Body: map[string]string{"template": "Hi {{.Name}}!"}}).JSON(t)
	if set["customized"] != true || set["template"] != "Hi {{.Name}}!" {
		t.Errorf("after PUT: %v", set)
	}
	reset := b.expect(http.StatusOK, req{Method: "DELETE", Path: path, Auth: acme.Token}).JSON(t)
	if reset["customized"] != false || reset["template"] != def["default"] {
		t.Errorf("after DELETE: %v, want the default back", reset)
	}
	list := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/system-prompts", Auth: acme.Token}).JSON(t)
	if len(list["data"].([]any)) < 10 {
		t.Errorf("system prompts listed: %d, want every generation kind's", len(list["data"].([]any)))
	}
	b.expect(http.StatusNotFound, req{Method: "GET", Path: "/api/v1/system-prompts/nope", Auth: acme.Token})
}
