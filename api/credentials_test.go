package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestAPIKeyAuthAndLifecycle(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	res := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/api-keys", Auth: acme.Token,
		Body: map[string]any{"name": "ci"}})
	created := res.JSON(t)
	key, id := created["key"].(string), created["id"].(string)
	if !strings.HasPrefix(key, "kiln_") || created["prefix"] != key[:12] {
		t.Fatalf("created key %q with prefix %v", key, created["prefix"])
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Error("the answer with the secret may be cached")
	}

	// The key works in each of the three places.
	for name, r := range map[string]req{
		"bearer":  {Method: "GET", Path: "/api/v1/sites", Auth: key},
		"header":  {Method: "GET", Path: "/api/v1/sites", Header: map[string]string{"X-API-Key": key}},
		"query":   {Method: "GET", Path: "/api/v1/sites?api_key=" + url.QueryEscape(key)},
		"me/bear": {Method: "GET", Path: "/api/v1/auth/me", Auth: key},
	} {
		if got := b.do(r); got.Status != http.StatusOK {
			t.Errorf("%s: status %d: %s", name, got.Status, got.Body)
		}
	}

	// The secret is never shown again, and the hash is all that is stored.
	for _, path := range []string{"/api/v1/api-keys", "/api/v1/api-keys/" + id} {
		body := string(b.expect(http.StatusOK, req{Method: "GET", Path: path, Auth: acme.Token}).Body)
		if strings.Contains(body, key) {
			t.Fatalf("%s shows the secret", path)
		}
		if !strings.Contains(body, `"last_used_at":"`) {
			t.Errorf("%s: last_used_at not recorded after use: %s", path, body)
		}
	}
	var stored int
	must(t, b.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM api_keys WHERE key_hash = convert_to($1, 'UTF8')`, key).Scan(&stored))
	if stored != 0 {
		t.Fatal("the key is stored in plain text")
	}

	// Revoked keys are refused.
	b.expect(http.StatusNoContent, req{Method: "DELETE", Path: "/api/v1/api-keys/" + id, Auth: acme.Token})
	b.expect(http.StatusUnauthorized, req{Method: "GET", Path: "/api/v1/sites", Auth: key})
	b.expect(http.StatusNotFound, req{Method: "DELETE", Path: "/api/v1/api-keys/" + id, Auth: acme.Token})
}

func TestExpiredAPIKeyIs401(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	expires := time.Now().Add(1500 * time.Millisecond)
	res := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/api-keys", Auth: acme.Token,
		Body: map[string]any{"name": "short-lived", "expires_at": expires.UTC().Format(time.RFC3339Nano)}})
	key := res.JSON(t)["key"].(string)
	b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites", Auth: key}) // now cached, too
	time.Sleep(time.Until(expires) + 100*time.Millisecond)
	b.expect(http.StatusUnauthorized, req{Method: "GET", Path: "/api/v1/sites", Auth: key})

	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	bad := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/api-keys", Auth: acme.Token,
		Body: map[string]any{"name": "x", "expires_at": past, "scopes": []string{"root"}}})
	if f := bad.Fields(t); f["expires_at"] == nil || f["scopes"] == nil {
		t.Fatalf("fields = %v, want expires_at and scopes", f)
	}
}

func TestAPIKeyScopesLimitWhatItMayDo(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	_, readKey := b.apiKey(acme, "read")
	_, writeKey := b.apiKey(acme, "read", "write")
	b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites", Auth: readKey})
	b.expect(http.StatusForbidden, req{Method: "POST", Path: "/api/v1/sites", Auth: readKey, Body: map[string]string{"name": "A", "slug": "a"}})
	b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/sites", Auth: writeKey, Body: map[string]string{"name": "A", "slug": "a"}})
	b.expect(http.StatusForbidden, req{Method: "GET", Path: "/api/v1/users", Auth: writeKey})

	// Only admins and owners manage API keys.
	editorToken, _ := b.member(acme, "editor")
	b.expect(http.StatusForbidden, req{Method: "POST", Path: "/api/v1/api-keys", Auth: editorToken, Body: map[string]any{"name": "x"}})
}

func TestServiceAccountClientCredentials(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	created := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/service-accounts", Auth: acme.Token,
		Body: map[string]string{"name": "pipeline", "role": "viewer"}}).JSON(t)
	clientID, secret := created["client_id"].(string), created["client_secret"].(string)

	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
	tok := b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/auth/token", Body: form}).JSON(t)
	access := tok["access_token"].(string)
	if _, has := tok["refresh_token"]; has {
		t.Error("client credentials grant returned a refresh token")
	}
	me := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/auth/me", Auth: access}).JSON(t)
	if me["principal"].(map[string]any)["kind"] != "service_account" || me["role"] != "viewer" {
		t.Fatalf("me = %v", me)
	}
	b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites", Auth: access})
	b.expect(http.StatusForbidden, req{Method: "POST", Path: "/api/v1/sites", Auth: access, Body: map[string]string{"name": "A", "slug": "a"}})

	// HTTP Basic works too; a wrong secret does not.
	basic := b.do(req{Method: "POST", Path: "/api/v1/auth/token", Body: url.Values{"grant_type": {"client_credentials"}},
		Header: map[string]string{"Authorization": basicAuth(clientID, secret)}})
	if basic.Status != http.StatusOK {
		t.Fatalf("basic auth grant: %d %s", basic.Status, basic.Body)
	}
	form.Set("client_secret", "wrong")
	b.expect(http.StatusUnauthorized, req{Method: "POST", Path: "/api/v1/auth/token", Body: form})

	// Rotation retires the old secret; deletion retires the tokens.
	rotated := b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/service-accounts/" + clientID + "/rotate-secret", Auth: acme.Token}).JSON(t)
	form.Set("client_secret", secret)
	b.expect(http.StatusUnauthorized, req{Method: "POST", Path: "/api/v1/auth/token", Body: form})
	form.Set("client_secret", rotated["client_secret"].(string))
	b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/auth/token", Body: form})
	b.expect(http.StatusNoContent, req{Method: "DELETE", Path: "/api/v1/service-accounts/" + clientID, Auth: acme.Token})
	b.expect(http.StatusUnauthorized, req{Method: "GET", Path: "/api/v1/sites", Auth: access})

	bad := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/auth/token", Body: url.Values{"grant_type": {"magic"}}})
	if bad.Fields(t)["grant_type"] == nil {
		t.Fatalf("unsupported grant: %s", bad.Body)
	}
}

func basicAuth(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}
