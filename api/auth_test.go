package api_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/kilnhq/kiln/api"
)

func TestSignupLoginRefreshLogout(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")

	me := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/auth/me", Auth: acme.Token}).JSON(t)
	if me["role"] != "owner" || me["tenant"].(map[string]any)["id"] != acme.ID || me["user"].(map[string]any)["email"] != acme.Email {
		t.Fatalf("me after signup = %v, want owner of %s", me, acme.ID)
	}

	// JSON login and the OAuth2 password form both work.
	jsonLogin := b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/auth/login",
		Body: map[string]string{"email": acme.Email, "password": "password-123"}}).JSON(t)
	form := url.Values{"username": {acme.Email}, "password": {"password-123"}, "grant_type": {"password"}}
	formLogin := b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/auth/login", Body: form}).JSON(t)
	if cc := b.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: form}).Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("token answer Cache-Control = %q, want no-store", cc)
	}
	for name, tok := range map[string]map[string]any{"json": jsonLogin, "form": formLogin} {
		if tok["token_type"] != "Bearer" || tok["expires_in"] != float64(900) || tok["access_token"] == "" || tok["refresh_token"] == "" {
			t.Fatalf("%s login answer = %v", name, tok)
		}
	}

	// Refresh rotates; reusing the rotated token revokes the whole family.
	old := jsonLogin["refresh_token"].(string)
	rotated := b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/auth/refresh",
		Body: map[string]string{"refresh_token": old}}).JSON(t)
	if rotated["refresh_token"] == old {
		t.Fatal("refresh returned the same refresh token")
	}
	b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/auth/me", Auth: rotated["access_token"].(string)})
	b.expect(http.StatusUnauthorized, req{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]string{"refresh_token": old}})
	b.expect(http.StatusUnauthorized, req{Method: "POST", Path: "/api/v1/auth/refresh",
		Body: map[string]string{"refresh_token": rotated["refresh_token"].(string)}})
	b.expect(http.StatusUnauthorized, req{Method: "GET", Path: "/api/v1/auth/me", Auth: rotated["access_token"].(string)})
	// The form login's session is a different family and still works.
	b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/auth/me", Auth: formLogin["access_token"].(string)})

	// Logout ends the session: its access and refresh tokens stop working.
	b.expect(http.StatusNoContent, req{Method: "POST", Path: "/api/v1/auth/logout", Auth: formLogin["access_token"].(string)})
	b.expect(http.StatusUnauthorized, req{Method: "GET", Path: "/api/v1/auth/me", Auth: formLogin["access_token"].(string)})
	b.expect(http.StatusUnauthorized, req{Method: "POST", Path: "/api/v1/auth/refresh",
		Body: map[string]string{"refresh_token": formLogin["refresh_token"].(string)}})
}

func TestWrongPasswordRevealsNothing(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	wrong := b.expect(http.StatusUnauthorized, req{Method: "POST", Path: "/api/v1/auth/login",
		Body: map[string]string{"email": acme.Email, "password": "not-the-password"}})
	unknown := b.expect(http.StatusUnauthorized, req{Method: "POST", Path: "/api/v1/auth/login",
		Body: map[string]string{"email": "nobody@example.com", "password": "not-the-password"}})
	if string(wrong.Body) != string(unknown.Body) {
		t.Fatalf("wrong password and unknown email answer differently:\n%s\n%s", wrong.Body, unknown.Body)
	}
	if wrong.ErrorCode(t) != "invalid_credentials" {
		t.Fatalf("code = %q, want invalid_credentials", wrong.ErrorCode(t))
	}
}

func TestSignupBadInput(t *testing.T) {
	b := setup(t)
	b.signup("Acme")
	tests := []struct {
		name       string
		body       any
		status     int
		code       string
		wantFields []string
	}{
		{"malformed json", `{"email": `, http.StatusBadRequest, "malformed_json", nil},
		{"not an object", `[1,2]`, http.StatusBadRequest, "malformed_json", nil},
		{"empty body", ``, http.StatusBadRequest, "malformed_json", nil},
		{"invalid fields", map[string]string{"email": "nope", "password": "short"}, http.StatusUnprocessableEntity, "validation_failed",
			[]string{"email", "password", "tenant_name"}},
		{"wrong type", `{"email": 42}`, http.StatusUnprocessableEntity, "validation_failed", []string{"email"}},
		{"unknown field", `{"emial": "a@b.c"}`, http.StatusUnprocessableEntity, "validation_failed", []string{"emial"}},
		{"email taken", map[string]string{"email": "acme@example.com", "password": "password-123", "tenant_name": "Other"},
			http.StatusConflict, "email_taken", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := b.expect(tt.status, req{Method: "POST", Path: "/api/v1/auth/signup", Body: tt.body})
			if got := res.ErrorCode(t); got != tt.code {
				t.Fatalf("code = %q, want %q", got, tt.code)
			}
			fields := res.Fields(t)
			for _, f := range tt.wantFields {
				if _, ok := fields[f]; !ok {
					t.Errorf("details.fields lacks %q: %v", f, fields)
				}
			}
		})
	}
	// Nothing was half-written: only Acme's tenant exists.
	var n int
	must(t, b.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM tenants`).Scan(&n))
	if n != 1 {
		t.Fatalf("%d tenants after failed signups, want 1", n)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSignupCanBeTurnedOff(t *testing.T) {
	b := setup(t, func(c *api.Config) { c.SignupEnabled = false })
	res := b.expect(http.StatusForbidden, req{Method: "POST", Path: "/api/v1/auth/signup",
		Body: map[string]string{"email": "a@example.com", "password": "password-123", "tenant_name": "A"}})
	if res.ErrorCode(t) != "signup_disabled" {
		t.Fatalf("code = %q, want signup_disabled", res.ErrorCode(t))
	}
}

// forge signs claims the way a forger would: with key and method of their
// choosing.
func forge(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	must(t, err)
	return s
}

func kidOf(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:8])
}

func TestBadTokensAre401(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	sid := sessionOf(t, acme.Token)
	valid := func(over map[string]any) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "kiln", "aud": []string{"kiln-api"}, "sub": acme.OwnerID, "tid": acme.ID, "sid": sid,
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()}
		for k, v := range over {
			c[k] = v
		}
		return c
	}
	// A correctly forged token is accepted: the cases below fail for the
	// one reason each names, not for a mistake in the forging.
	b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/auth/me",
		Auth: forge(t, jwt.SigningMethodHS256, []byte(testSecret), kidOf(testSecret), valid(nil))})

	parts := strings.Split(acme.Token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"tid":"`, `"tid":"x`, 1))) + "." + parts[2]
	none := forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kidOf(testSecret), valid(nil))
	tokens := map[string]string{
		"expired":          forge(t, jwt.SigningMethodHS256, []byte(testSecret), kidOf(testSecret), valid(map[string]any{"exp": time.Now().Add(-time.Minute).Unix()})),
		"no expiry":        forge(t, jwt.SigningMethodHS256, []byte(testSecret), kidOf(testSecret), valid(map[string]any{"exp": nil})),
		"tampered":         tampered,
		"alg none":         none,
		"wrong key":        forge(t, jwt.SigningMethodHS256, []byte("another-secret-of-at-least-32-bytes!!"), kidOf(testSecret), valid(nil)),
		"unknown kid":      forge(t, jwt.SigningMethodHS256, []byte(testSecret), "deadbeefdeadbeef", valid(nil)),
		"wrong issuer":     forge(t, jwt.SigningMethodHS256, []byte(testSecret), kidOf(testSecret), valid(map[string]any{"iss": "evil"})),
		"wrong audience":   forge(t, jwt.SigningMethodHS256, []byte(testSecret), kidOf(testSecret), valid(map[string]any{"aud": []string{"other"}})),
		"HS512 not listed": forge(t, jwt.SigningMethodHS512, []byte(testSecret), kidOf(testSecret), valid(nil)),
		"garbage":          "not.a.jwt",
		"unknown api key":  "kiln_doesnotexist",
	}
	for name, tok := range tokens {
		t.Run(name, func(t *testing.T) {
			res := b.expect(http.StatusUnauthorized, req{Method: "GET", Path: "/api/v1/auth/me", Auth: tok})
			if res.ErrorCode(t) != "unauthenticated" || res.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("code %q, WWW-Authenticate %q", res.ErrorCode(t), res.Header.Get("WWW-Authenticate"))
			}
		})
	}
	b.expect(http.StatusUnauthorized, req{Method: "GET", Path: "/api/v1/auth/me"})
}

// sessionOf reads the sid claim of an access token without verifying it.
func sessionOf(t *testing.T, token string) string {
	t.Helper()
	claims := jwt.MapClaims{}
	_, _, err := jwt.NewParser().ParseUnverified(token, claims)
	must(t, err)
	return claims["sid"].(string)
}

func TestFirstPlatformAdminSetup(t *testing.T) {
	b := setup(t)
	status := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/auth/setup-status"}).JSON(t)
	if status["setup_required"] != true {
		t.Fatalf("setup-status on a fresh deployment = %v", status)
	}
	body := map[string]string{"email": "root@example.com", "password": "password-123", "setup_token": "guess"}
	if res := b.expect(http.StatusForbidden, req{Method: "POST", Path: "/api/v1/auth/setup", Body: body}); res.ErrorCode(t) != "invalid_setup_token" {
		t.Fatalf("wrong token code = %q", res.ErrorCode(t))
	}
	b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/auth/setup",
		Body: map[string]string{"email": "root@example.com", "password": "password-123"}})
	body["setup_token"] = testSetupToken
	b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/auth/setup", Body: body})
	body["email"] = "second@example.com"
	if res := b.expect(http.StatusConflict, req{Method: "POST", Path: "/api/v1/auth/setup", Body: body}); res.ErrorCode(t) != "setup_completed" {
		t.Fatalf("second setup code = %q", res.ErrorCode(t))
	}
	status = b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/auth/setup-status"}).JSON(t)
	if status["platform_admin_exists"] != true {
		t.Fatalf("setup-status after setup = %v", status)
	}
}
