package settings_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/ai/aitest"
	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/settings"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// bundle is one test's settings service over its own schema.
type bundle struct {
	t   *testing.T
	db  *testkit.DB
	svc *settings.Service
	ids *identity.Service
}

func setup(t *testing.T, cfg settings.Config) *bundle {
	t.Helper()
	db := testkit.NewDB(t)
	log := testkit.Logger(t)
	ids, err := identity.New(db.Pool, log, identity.Config{})
	testkit.Must(t, "identity", err)
	if cfg.Prompts == nil {
		cfg.Prompts = []settings.PromptDefault{{Type: "greeting", Description: "says hello",
			Variables: []string{"Name"}, Template: "Greet {{.Name}} politely."}}
	}
	svc, err := settings.New(db.Pool, log, cfg)
	testkit.Must(t, "settings", err)
	return &bundle{t: t, db: db, svc: svc, ids: ids}
}

func (b *bundle) tenant(name string) string {
	b.t.Helper()
	tn, err := b.ids.CreateTenant(context.Background(), name, "")
	testkit.Must(b.t, "create tenant", err)
	return tn.ID
}

func ptr[T any](v T) *T { return &v }

func code(err error) string {
	if p, ok := problem.As(err); ok {
		return p.Code
	}
	return ""
}

func TestKeysAreEncryptedAtRestAndBoundToTheirTenant(t *testing.T) {
	b := setup(t, settings.Config{EncryptionKey: testKey})
	ctx := context.Background()
	a, other := b.tenant("Acme"), b.tenant("Other")
	const secret = "sk-live-verysecretkey-1234"
	view, err := b.svc.Put(ctx, a, settings.OpenAI, settings.IntegrationInput{APIKey: ptr(secret),
		Models: map[string]string{"chat": "gpt-4o-mini"}})
	testkit.Must(t, "put", err)
	if view.APIKey != "…1234" || view.KeySource != "tenant" {
		t.Errorf("view shows key %q from %q, want the masked …1234 from tenant", view.APIKey, view.KeySource)
	}

	var sealed []byte
	var hint string
	testkit.Must(t, "read row", b.db.Pool.QueryRow(ctx,
		`SELECT api_key_sealed, api_key_hint FROM tenant_integrations WHERE tenant_id = $1 AND provider = 'openai'`, a).Scan(&sealed, &hint))
	if bytes.Contains(sealed, []byte(secret)) || bytes.Contains(sealed, []byte("verysecret")) || len(sealed) < len(secret)+12+16 {
		t.Fatalf("stored key is not AES-GCM ciphertext (nonce+ciphertext+tag): %q", sealed)
	}
	if hint != "…1234" {
		t.Errorf("stored hint %q, want …1234", hint)
	}

	in, err := b.svc.Integration(ctx, a, settings.OpenAI)
	testkit.Must(t, "integration", err)
	if in.APIKey != secret || in.Model(ai.CapChat) != "gpt-4o-mini" {
		t.Errorf("resolved key %q model %q, want the stored key and model", in.APIKey, in.Model(ai.CapChat))
	}

	// The same sealed bytes under another tenant do not open.
	_, err = b.db.Pool.Exec(ctx, `INSERT INTO tenant_integrations (tenant_id, provider, api_key_sealed, api_key_hint)
		VALUES ($1, 'openai', $2, 'x')`, other, sealed)
	testkit.Must(t, "copy row", err)
	if _, err := b.svc.Integration(ctx, other, settings.OpenAI); code(err) != "integration_key_unreadable" {
		t.Errorf("copied ciphertext under another tenant: %v, want integration_key_unreadable", err)
	}

	// Another installation key cannot read it either.
	wrong, err := settings.New(b.db.Pool, testkit.Logger(t), settings.Config{EncryptionKey: bytes.Repeat([]byte("k"), 32)})
	testkit.Must(t, "settings with another key", err)
	if _, err := wrong.Integration(ctx, a, settings.OpenAI); code(err) != "integration_key_unreadable" {
		t.Errorf("another KILN_ENCRYPTION_KEY: %v, want integration_key_unreadable", err)
	}
}

func TestPutValidatesAndNeedsTheEncryptionKey(t *testing.T) {
	b := setup(t, settings.Config{})
	ctx := context.Background()
	a := b.tenant("Acme")
	cases := []struct {
		name string
		in   settings.IntegrationInput
		want string
	}{
		{"key without KILN_ENCRYPTION_KEY", settings.IntegrationInput{APIKey: ptr("sk-abcdefghijkl")}, "encryption_not_configured"},
		{"base url not http", settings.IntegrationInput{BaseURL: ptr("ftp://example.com")}, "validation_failed"},
		{"model of another provider", settings.IntegrationInput{Models: map[string]string{"video": "x"}}, "validation_failed"},
	}
	for _, c := range cases {
		if _, err := b.svc.Put(ctx, a, settings.OpenAI, c.in); code(err) != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
	if _, err := b.svc.Put(ctx, a, "nope", settings.IntegrationInput{}); !errors.Is(err, settings.ErrUnknownProvider) {
		t.Errorf("unknown provider: %v", err)
	}
	var n int
	testkit.Must(t, "count rows", b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM tenant_integrations`).Scan(&n))
	if n != 0 {
		t.Errorf("%d rows written by refused puts, want 0", n)
	}
}

func TestRequireNamesTheSettingUntilAKeyIsSet(t *testing.T) {
	defaults := map[string]settings.Integration{settings.OpenAI: {BaseURL: "http://127.0.0.1:1/v1",
		Models: map[ai.Capability]string{ai.CapChat: "gpt-4o-mini"}}}
	b := setup(t, settings.Config{EncryptionKey: testKey, Defaults: defaults})
	ctx := context.Background()
	a := b.tenant("Acme")
	err := b.svc.Require(ctx, a, ai.CapChat)
	p, ok := problem.As(err)
	if !ok || p.Code != "provider_not_configured" || p.Kind != problem.Unavailable || p.Details["setting"] != "KILN_OPENAI_API_KEY" {
		t.Fatalf("Require without a key: %v, want a 503 provider_not_configured naming KILN_OPENAI_API_KEY", err)
	}
	if err := b.svc.Require(ctx, a, ai.CapVideo); code(err) != "provider_not_configured" {
		t.Errorf("video without a fal key: %v", err)
	}
	_, err = b.svc.Put(ctx, a, settings.OpenAI, settings.IntegrationInput{APIKey: ptr("sk-tenant-key-5678")})
	testkit.Must(t, "put key", err)
	if err := b.svc.Require(ctx, a, ai.CapChat); err != nil {
		t.Errorf("with the tenant's key and the deployment's chat model: %v", err)
	}
	if err := b.svc.Require(ctx, a, ai.CapImage); code(err) != "provider_not_configured" {
		t.Errorf("image with a key but no image model: %v, want provider_not_configured", err)
	}
	if err := b.svc.Require(ctx, b.tenant("Other"), ai.CapChat); code(err) != "provider_not_configured" {
		t.Errorf("another tenant must not see the key: %v", err)
	}
}

func TestSystemPromptsOverrideRenderAndReset(t *testing.T) {
	b := setup(t, settings.Config{})
	ctx := context.Background()
	a := b.tenant("Acme")
	render := func() string {
		t.Helper()
		out, err := b.svc.Render(ctx, a, "greeting", map[string]string{"Name": "Ada"})
		testkit.Must(t, "render", err)
		return out
	}
	if got := render(); got != "Greet Ada politely." {
		t.Fatalf("default renders %q", got)
	}
	_, err := b.svc.PutPrompt(ctx, a, "greeting", "Say hi to {{.Name}} like a pirate.")
	testkit.Must(t, "put prompt", err)
	if got := render(); got != "Say hi to Ada like a pirate." {
		t.Errorf("override renders %q", got)
	}
	for _, bad := range []string{"", "{{.Name", "{{.Nope}}"} {
		if _, err := b.svc.PutPrompt(ctx, a, "greeting", bad); code(err) != "validation_failed" {
			t.Errorf("template %q: %v, want validation_failed", bad, err)
		}
	}
	if _, err := b.svc.PutPrompt(ctx, a, "unknown", "x"); !errors.Is(err, settings.ErrUnknownPromptType) {
		t.Errorf("unknown type: %v", err)
	}
	p, err := b.svc.DeletePrompt(ctx, a, "greeting")
	testkit.Must(t, "delete prompt", err)
	if p.Customized || render() != "Greet Ada politely." {
		t.Errorf("after delete: customized %v, renders %q; want the default back", p.Customized, render())
	}
}

func TestCheckTriesAKeyWithoutStoringIt(t *testing.T) {
	srv := aitest.New(t)
	defaults := map[string]settings.Integration{settings.OpenAI: {BaseURL: srv.URL(),
		Models: map[ai.Capability]string{ai.CapChat: "gpt-4o-mini", ai.CapImage: "no-such-model"}}}
	b := setup(t, settings.Config{EncryptionKey: testKey, Defaults: defaults})
	ctx := context.Background()
	a := b.tenant("Acme")

	good, err := b.svc.Check(ctx, a, settings.OpenAI, settings.IntegrationInput{APIKey: ptr(srv.APIKey())}, nil)
	testkit.Must(t, "check good key", err)
	if !good.OK || !good.Models[ai.CapChat].Available || good.Models[ai.CapImage].Available {
		t.Errorf("good key: %+v; want ok, chat model listed, the unknown image model not", good)
	}
	bad, err := b.svc.Check(ctx, a, settings.OpenAI, settings.IntegrationInput{APIKey: ptr("sk-wrong-key-0000")}, nil)
	testkit.Must(t, "check bad key", err)
	if bad.OK || bad.Code != "provider_auth_failed" {
		t.Errorf("bad key: %+v, want ok false with provider_auth_failed", bad)
	}
	if _, err := b.svc.Check(ctx, a, settings.OpenAI, settings.IntegrationInput{}, nil); code(err) != "provider_not_configured" {
		t.Errorf("no key at all: %v, want provider_not_configured", err)
	}
	var n int
	testkit.Must(t, "count rows", b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM tenant_integrations`).Scan(&n))
	if n != 0 {
		t.Errorf("check stored %d rows, want none", n)
	}
}

func TestTheDeploymentKeyNeverGoesToATenantURL(t *testing.T) {
	defaults := map[string]settings.Integration{settings.OpenAI: {BaseURL: "https://api.openai.com/v1", APIKey: "sk-operator-secret-0000",
		Models: map[ai.Capability]string{ai.CapChat: "gpt-4o-mini"}}}
	b := setup(t, settings.Config{EncryptionKey: testKey, Defaults: defaults})
	ctx := context.Background()
	a := b.tenant("Acme")
	if in, _ := b.svc.Integration(ctx, a, settings.OpenAI); in.APIKey != "sk-operator-secret-0000" {
		t.Fatalf("without tenant settings the deployment's key applies: %q", in.APIKey)
	}
	_, err := b.svc.Put(ctx, a, settings.OpenAI, settings.IntegrationInput{BaseURL: ptr("https://attacker.example/v1")})
	testkit.Must(t, "put base url", err)
	in, err := b.svc.Integration(ctx, a, settings.OpenAI)
	testkit.Must(t, "integration", err)
	if in.APIKey != "" || in.Source != "none" {
		t.Errorf("a tenant URL got key %q from %q, want none", in.APIKey, in.Source)
	}
	if err := b.svc.Require(ctx, a, ai.CapChat); code(err) != "provider_not_configured" {
		t.Errorf("a tenant URL without a tenant key: %v, want provider_not_configured", err)
	}
	view, err := b.svc.View(ctx, a, settings.OpenAI)
	testkit.Must(t, "view", err)
	if view.KeySource != "none" || view.APIKey != "" {
		t.Errorf("view: key %q from %q, want none shown", view.APIKey, view.KeySource)
	}
	// The key check with only a URL does not send the operator's key either.
	if _, err := b.svc.Check(ctx, b.tenant("Other"), settings.OpenAI,
		settings.IntegrationInput{BaseURL: ptr("https://attacker.example/v1")}, nil); code(err) != "provider_not_configured" {
		t.Errorf("checking a foreign URL with the deployment's key: %v, want provider_not_configured", err)
	}
	// Nor does a tenant see the operator's key's last characters.
	if v, _ := b.svc.View(ctx, b.tenant("Third"), settings.OpenAI); v.APIKey != "" || v.KeySource != "deployment" {
		t.Errorf("the deployment's key shows as %q (%s), want hidden", v.APIKey, v.KeySource)
	}
}

func TestPromptTemplatesCannotExplode(t *testing.T) {
	b := setup(t, settings.Config{})
	a := b.tenant("Acme")
	var bomb strings.Builder
	bomb.WriteString(`{{define "t0"}}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{{end}}`)
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&bomb, `{{define "t%d"}}{{template "t%d"}}{{template "t%d"}}{{end}}`, i, i-1, i-1)
	}
	bomb.WriteString(`{{template "t40"}} {{.Name}}`)
	cases := map[string]string{
		"nested templates": bomb.String(),
		"a template call":  `{{if .Name}}{{template "x"}}{{end}}`,
		"a block":          `{{block "b" .}}{{.Name}}{{end}}`,
		"a long range":     `{{range $i, $c := printf "%0500000d" 0}}{{$c}}{{end}}{{.Name}}`,
	}
	for name, tmpl := range cases {
		if _, err := b.svc.PutPrompt(context.Background(), a, "greeting", tmpl); code(err) != "validation_failed" {
			t.Errorf("%s: %v, want validation_failed", name, err)
		}
	}
}
