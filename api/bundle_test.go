package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/ai/aitest"
	"github.com/kilnhq/kiln/api"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/content/ingest"
	"github.com/kilnhq/kiln/egress"
	"github.com/kilnhq/kiln/extract/pdftext"
	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/idempotency"
	"github.com/kilnhq/kiln/internal/metrics"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/jobs/webhooks"
	"github.com/kilnhq/kiln/rag"
	"github.com/kilnhq/kiln/rag/indexing"
	"github.com/kilnhq/kiln/rag/ragtest"
	"github.com/kilnhq/kiln/settings"
	"github.com/kilnhq/kiln/storage"
	"github.com/kilnhq/kiln/worker"
)

const (
	testSecret     = "api-test-secret-that-is-at-least-32-bytes"
	testSetupToken = "setup-token-for-tests-0123456789"
	// testMediaMaxBytes is the media limit; larger than MaxBodyBytes, so
	// uploads show that they get their own body limit.
	testMediaMaxBytes = 256 << 10
)

// bundle is one test's running API over its own schema and Redis prefix,
// with the job engine (system.echo registered) in its own queue namespace.
type bundle struct {
	t        *testing.T
	srv      *httptest.Server
	server   *api.Server
	db       *testkit.DB
	redis    *testkit.Redis
	identity *identity.Service
	jobs     *jobs.Service
	webhooks *webhooks.Service
	ns       string
	// mediaDir holds the stored media files.
	mediaDir string
	// ai is the OpenAI-wire test server the deployment's provider points
	// at (unless the bundle was set up with noProvider); video is the
	// fal-style queue test server.
	ai       *aitest.Server
	video    *aitest.VideoQueue
	settings *settings.Service
	contents *content.Service
	// videoHooks says whether video jobs ask the provider for a webhook.
	videoHooks *atomic.Bool
}

// bundleOptions change what setupWith builds.
type bundleOptions struct {
	// noProvider leaves the deployment without any model provider key, as
	// a fresh `make run` is.
	noProvider bool
	// videoPoll is how often video jobs poll their provider (200 ms when
	// zero); a long one leaves completion to the provider's webhook.
	videoPoll time.Duration
	// videoMaxWait and videoRequestTimeout shorten the video provider's
	// limits (videogen's defaults when zero).
	videoMaxWait, videoRequestTimeout time.Duration
}

// setup starts an API server for t; edit adjusts its configuration.
func setup(t *testing.T, edit ...func(*api.Config)) *bundle {
	t.Helper()
	return setupWith(t, bundleOptions{}, edit...)
}

// setupWith is setup with options.
func setupWith(t *testing.T, opts bundleOptions, edit ...func(*api.Config)) *bundle {
	t.Helper()
	db := testkit.NewDB(t)
	rd := testkit.NewRedis(t)
	log := testkit.Logger(t)
	ids, err := identity.New(db.Pool, log, identity.Config{
		JWTSecret: testSecret, Issuer: "kiln", Audience: "kiln-api",
		AccessTTL: 15 * time.Minute, RefreshTTL: time.Hour, APIKeyCacheTTL: 2 * time.Second,
	})
	testkit.Must(t, "identity", err)
	ns := testkit.Namespace(t, rd)
	m := metrics.New()
	m.WatchQueues(asynq.NewInspectorFromRedisClient(rd.Client))
	mediaDir := t.TempDir()
	store, err := storage.NewLocal(mediaDir)
	testkit.Must(t, "media store", err)
	t.Cleanup(func() { store.Close() })
	media := content.Options{Store: store, Media: content.MediaConfig{MaxBytes: testMediaMaxBytes}}
	contents := content.New(db.Pool, log, media)
	loopback := egress.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	out := egress.New(loopback)
	kinds := jobs.NewRegistry()
	kinds.Register(jobs.EchoKind())
	kinds.Register(sleeperKind())
	ingester := ingest.New(contents, log, ingest.Config{Egress: egress.Config{Allow: loopback.Allow, Timeout: 2 * time.Second},
		PDF: pdftext.Limits{Timeout: 20 * time.Second}})
	gen := newGenDeps(t, opts, db, contents, out, log)
	ragSvc := newRAG(t, db, log, gen)
	for _, k := range append(ingester.Kinds(), indexing.New(ragSvc, contents, ingester, store, log).Kinds()...) {
		kinds.Register(k)
	}
	for _, k := range generationKinds(gen) {
		kinds.Register(k)
	}
	engine := jobs.New(db.Pool, rd.Client, log, jobs.Config{Namespace: ns, PublicURL: "http://kiln.test",
		SignupCredits: 100, TenantMaxActive: 100, RelayInterval: 100 * time.Millisecond, Metrics: m,
		CheckWebhook: func(ctx context.Context, u string) error { return webhooks.CheckURL(ctx, out, u) }}, kinds)
	ids.OnTenantCreated(func(ctx context.Context, tx pgx.Tx, t identity.Tenant) error {
		return engine.OpenAccount(ctx, tx, t.ID)
	})
	hooks := webhooks.New(db.Pool, rd.Client, engine, log, webhooks.Config{Namespace: ns, Metrics: m,
		Schedule:         []time.Duration{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond},
		DispatchInterval: 20 * time.Millisecond, AttemptTimeout: 2 * time.Second,
		Egress: loopback})
	cfg := api.Config{Version: "test", PublicURL: "http://kiln.test", SignupEnabled: true,
		SetupToken: testSetupToken, MaxBodyBytes: 64 << 10, Namespace: ns, RateLimits: generousLimits()}
	for _, e := range edit {
		e(&cfg)
	}
	s := api.New(cfg, log, api.Deps{DB: db.Pool, Redis: rd.Client, Identity: ids, Content: contents,
		Jobs: engine, Idempotency: idempotency.New(db.Pool), Metrics: m, Webhooks: hooks, Egress: out, RAG: ragSvc, Files: store,
		Settings: gen.settings, Video: gen.set.Video})
	gen.set.Video.SetEngine(engine)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	gen.webhookBase.Store(srv.URL)
	return &bundle{t: t, srv: srv, server: s, db: db, redis: rd, identity: ids, jobs: engine, webhooks: hooks, ns: ns,
		mediaDir: mediaDir, ai: gen.ai, video: gen.video, settings: gen.settings, contents: contents,
		videoHooks: gen.videoHooks}
}

// newRAG is the RAG service over the test's schema and the shared vector
// database (PGlite, started if need be); the chunks of the test's tenants
// are deleted when it ends.
func newRAG(t *testing.T, db *testkit.DB, log *slog.Logger, gen genDeps) *rag.Service {
	vstore := ragtest.Store(t, rag.StoreOptions{})
	t.Cleanup(func() {
		rows, err := db.Pool.Query(context.Background(), `SELECT id FROM tenants`)
		testkit.Must(t, "list tenants", err)
		tenants, err := pgx.CollectRows(rows, pgx.RowTo[string])
		testkit.Must(t, "list tenants", err)
		for _, id := range tenants {
			_, err := vstore.DeleteTenant(context.Background(), id)
			testkit.Must(t, "delete chunks of "+id, err)
		}
	})
	tok, err := ai.CL100K()
	testkit.Must(t, "tokenizer", err)
	chunker, err := rag.NewChunker(tok)
	testkit.Must(t, "chunker", err)
	catalog := rag.NewCatalog(db.Pool, log, rag.DefaultEmbedding(false)).WithSecrets(gen.settings)
	embedders := rag.NewEmbedderSet(ai.OpenAIConfig{Tokenizer: tok}).WithTenants(rag.SettingsEndpoint(gen.settings), gen.egress.HTTPClient())
	return rag.NewService(catalog, vstore, chunker, embedders, log)
}

// generousLimits are rate limits no ordinary test reaches; the rate-limit
// tests set their own.
func generousLimits() map[string]int {
	return map[string]int{"ai": 100000, "content": 100000, "auth": 100000, "general": 100000}
}

// startWorker runs a worker (with the cancel listener and the relay) for
// the bundle's namespace until the test ends.
func (b *bundle) startWorker() {
	testkit.StartWorker(b.t, b.jobs, b.ns, 8, testkit.Extra{Queue: webhooks.Queue(b.ns), Weight: 3,
		Register: func(mux *worker.Mux) { mux.HandleFunc(webhooks.TaskType, b.webhooks.ProcessTask) },
		Run:      b.webhooks.Run})
}

// response is a finished HTTP exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as an object.
func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// ErrorCode returns error.code of an error body.
func (r response) ErrorCode(t *testing.T) string {
	t.Helper()
	e, _ := r.JSON(t)["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// Fields returns error.details.fields of a 422 body.
func (r response) Fields(t *testing.T) map[string]any {
	t.Helper()
	e, _ := r.JSON(t)["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	f, _ := d["fields"].(map[string]any)
	return f
}

// req describes a request; Body may be a string (sent as is) or any value
// (sent as JSON).
type req struct {
	Method, Path string
	Body         any
	Auth         string // bearer credential
	Header       map[string]string
}

func (b *bundle) do(r req) response {
	b.t.Helper()
	var body io.Reader
	ctype := ""
	switch v := r.Body.(type) {
	case nil:
	case string:
		body, ctype = strings.NewReader(v), "application/json"
	case url.Values:
		body, ctype = strings.NewReader(v.Encode()), "application/x-www-form-urlencoded"
	default:
		raw, err := json.Marshal(v)
		testkit.Must(b.t, "marshal body", err)
		body, ctype = bytes.NewReader(raw), "application/json"
	}
	hr, err := http.NewRequestWithContext(context.Background(), r.Method, b.srv.URL+r.Path, body)
	testkit.Must(b.t, "new request", err)
	if ctype != "" {
		hr.Header.Set("Content-Type", ctype)
	}
	if r.Auth != "" {
		hr.Header.Set("Authorization", "Bearer "+r.Auth)
	}
	for k, v := range r.Header {
		hr.Header.Set(k, v)
	}
	res, err := b.srv.Client().Do(hr)
	testkit.Must(b.t, fmt.Sprintf("%s %s", r.Method, r.Path), err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	testkit.Must(b.t, "read body", err)
	return response{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// expect does r and fails unless the answer has status want.
func (b *bundle) expect(want int, r req) response {
	b.t.Helper()
	res := b.do(r)
	if res.Status != want {
		b.t.Fatalf("%s %s: status %d, want %d\n%s", r.Method, r.Path, res.Status, want, res.Body)
	}
	return res
}

// tenant is a signed-up tenant with its owner's access token.
type tenant struct {
	ID, OwnerID, Token, Refresh, Email string
}

// signup creates a tenant through the API.
func (b *bundle) signup(name string) tenant {
	b.t.Helper()
	email := strings.ToLower(strings.ReplaceAll(name, " ", "")) + "@example.com"
	res := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/auth/signup",
		Body: map[string]string{"email": email, "password": "password-123", "name": name + " Owner", "tenant_name": name}})
	m := res.JSON(b.t)
	return tenant{
		ID:      m["tenant"].(map[string]any)["id"].(string),
		OwnerID: m["user"].(map[string]any)["id"].(string),
		Token:   m["access_token"].(string), Refresh: m["refresh_token"].(string), Email: email,
	}
}

// member creates a user with role in t and returns their access token and id.
func (b *bundle) member(t tenant, role string) (token, id string) {
	b.t.Helper()
	email := role + "-" + strings.ToLower(t.ID[len(t.ID)-8:]) + "@example.com"
	res := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/users", Auth: t.Token,
		Body: map[string]string{"email": email, "password": "password-123", "role": role}})
	id = res.JSON(b.t)["id"].(string)
	login := b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/auth/login",
		Body: map[string]string{"email": email, "password": "password-123"}})
	return login.JSON(b.t)["access_token"].(string), id
}

// apiKey creates an API key in t with scopes and returns its id and secret.
func (b *bundle) apiKey(t tenant, scopes ...string) (id, key string) {
	b.t.Helper()
	res := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/api-keys", Auth: t.Token,
		Body: map[string]any{"name": "test key", "scopes": scopes}})
	m := res.JSON(b.t)
	return m["id"].(string), m["key"].(string)
}

// site creates a site in t and returns its id.
func (b *bundle) site(t tenant, slug string) string {
	b.t.Helper()
	res := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/sites", Auth: t.Token,
		Body: map[string]string{"name": "Site " + slug, "slug": slug}})
	return res.JSON(b.t)["id"].(string)
}

// sleeperKind is a test kind with a short timeout whose handler waits until
// its context ends, to exercise timeouts.
func sleeperKind() jobs.Kind {
	return jobs.Kind{
		Name: "test.sleeper", Timeout: 300 * time.Millisecond, MaxAttempts: 2, Price: 1,
		Validate: func(in json.RawMessage) (json.RawMessage, error) { return in, nil },
		Handler: func(ctx context.Context, _ *jobs.Run) (any, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
	}
}

// platformAdmin creates the first platform admin through setup and returns
// their access token.
func (b *bundle) platformAdmin() string {
	b.t.Helper()
	b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/auth/setup",
		Body: map[string]string{"email": "root@example.com", "password": "password-123", "setup_token": testSetupToken}})
	return b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/auth/login",
		Body: map[string]string{"email": "root@example.com", "password": "password-123"}}).JSON(b.t)["access_token"].(string)
}
