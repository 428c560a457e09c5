// Package config reads Kiln's configuration from the environment, in one
// place, and validates it at start-up. Every error names the variable that is
// wrong, so an operator can fix it without reading code.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Mode says which subcommand is starting. Some variables are required in one
// mode and generated or unused in another.
type Mode string

// The modes the kiln binary runs in.
const (
	ModeAPI       Mode = "api"
	ModeWorker    Mode = "worker"
	ModeScheduler Mode = "scheduler"
	ModeMigrate   Mode = "migrate"
	ModeDev       Mode = "dev"
	ModeAdmin     Mode = "admin"
)

// Config is the whole of Kiln's configuration; Vars documents the
// environment variable behind each field.
type Config struct {
	// DatabaseURL is the Postgres connection string.
	DatabaseURL string
	// RedisURL is the Redis connection string (redis://host:port/db).
	RedisURL string
	// HTTPAddr is the address the API listens on.
	HTTPAddr string
	// PublicURL is the externally visible base URL, used in links.
	PublicURL string
	// JWTSecret signs access tokens (HS256). At least 32 bytes.
	JWTSecret string
	// JWTPreviousSecrets still verify tokens signed before a rotation.
	JWTPreviousSecrets []string
	// JWTIssuer and JWTAudience are written to and checked in every token.
	JWTIssuer   string
	JWTAudience string
	// AccessTokenTTL is how long an access token lives.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is how long a refresh token (and its session) lives.
	RefreshTokenTTL time.Duration
	// SignupEnabled turns POST /api/v1/auth/signup on or off.
	SignupEnabled bool
	// SetupToken, when set, is the token POST /api/v1/auth/setup requires;
	// otherwise one is generated at first start and logged.
	SetupToken string
	// MaxBodyBytes limits the size of a JSON request body.
	MaxBodyBytes int64
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// DevDir is where `kiln dev` keeps its generated JWT secret.
	DevDir string
	// ShutdownGrace is how long running work may take to finish on SIGTERM.
	ShutdownGrace time.Duration
	// WorkerConcurrency is how many tasks one worker process runs at once.
	WorkerConcurrency int
	// WorkerPollInterval is how often an idle worker looks at empty queues.
	WorkerPollInterval time.Duration
	// Namespace prefixes queue names and Redis channels.
	Namespace string
	// SignupCredits are granted to every new tenant.
	SignupCredits int64
	// TenantMaxActive caps one tenant's jobs in the queues at once.
	TenantMaxActive int
	// RelayInterval is how often the relay reconciles Postgres and Redis.
	RelayInterval time.Duration
	// DiagnosticKinds registers system.echo.
	DiagnosticKinds bool
	// APIKeyCacheTTL is how long an API process trusts a resolved API key.
	APIKeyCacheTTL time.Duration
	// EgressAllow are the address ranges outbound requests may reach even
	// though they are private (tests and development only).
	EgressAllow []netip.Prefix
	// MetricsBasicAuth is "user:pass" guarding /metrics; empty leaves it open.
	MetricsBasicAuth string
	// MetricsAddr is where a worker or scheduler process serves /metrics;
	// empty serves nothing. The API serves /metrics on its own address.
	MetricsAddr string
	// AsynqmonReadOnly makes the /admin/queues dashboard view-only.
	AsynqmonReadOnly bool
	// RateLimits are the default requests per minute of each scope.
	RateLimits map[string]int
	// WebhookSecretOverlap is how long a rotated endpoint secret still signs.
	WebhookSecretOverlap time.Duration
	// MediaDir is where the local media store keeps files.
	MediaDir string
	// MediaMaxBytes is the largest media file accepted.
	MediaMaxBytes int64
	// PDFMaxPages and PDFMaxBytes bound one PDF extraction.
	PDFMaxPages int
	PDFMaxBytes int64
	// VectorDatabaseURL is the Postgres with pgvector holding RAG chunks.
	VectorDatabaseURL string
	// HNSWM, HNSWEfConstruction and HNSWEfSearch tune the vector index.
	HNSWM, HNSWEfConstruction, HNSWEfSearch int
	// OpenAIBaseURL and OpenAIAPIKey are the deployment's OpenAI-compatible
	// provider; an empty key means none is configured.
	OpenAIBaseURL, OpenAIAPIKey string
	// ModelEmbedding is the embedding model of new knowledge bases when a
	// provider is configured.
	ModelEmbedding string
	// ModelChat, ModelVision, ModelImage and ModelSpeech are the
	// deployment's model per capability; they apply only with an API key.
	ModelChat, ModelVision, ModelImage, ModelSpeech string
	// ProviderConcurrency caps the requests in flight to one model
	// provider across every worker.
	ProviderConcurrency int
	// FalBaseURL, FalAPIKey and VideoModel are the deployment's video
	// provider (fal.ai's queue API); an empty key means none.
	FalBaseURL, FalAPIKey, VideoModel string
	// EncryptionKey (32 bytes, base64) encrypts tenants' provider keys at
	// rest; empty refuses to store them.
	EncryptionKey []byte
}

// Var documents one environment variable: its name, default and meaning.
type Var struct {
	Name, Default, Help string
}

// Vars lists every variable Config reads, with its default, for the README
// and `kiln env`.
func Vars() []Var {
	return []Var{
		{"DATABASE_URL", "postgres://kiln:kiln@127.0.0.1:5432/kiln?sslmode=disable", "Postgres connection string."},
		{"REDIS_URL", "redis://127.0.0.1:6379/0", "Redis connection string."},
		{"KILN_HTTP_ADDR", ":8080", "Address the API listens on."},
		{"KILN_PUBLIC_URL", "http://localhost:8080", "Base URL used in links and Location headers."},
		{"KILN_JWT_SECRET", "(required; dev generates one)", "HS256 secret for access tokens, at least 32 bytes."},
		{"KILN_JWT_PREVIOUS_SECRETS", "", "Comma-separated former secrets that still verify tokens after a rotation."},
		{"KILN_JWT_ISSUER", "kiln", "Issuer written to and required in access tokens."},
		{"KILN_JWT_AUDIENCE", "kiln-api", "Audience written to and required in access tokens."},
		{"KILN_ACCESS_TOKEN_TTL", "15m", "Lifetime of an access token."},
		{"KILN_REFRESH_TOKEN_TTL", "720h", "Lifetime of a refresh token and its session."},
		{"KILN_SIGNUP_ENABLED", "true", "Whether POST /api/v1/auth/signup creates tenants."},
		{"KILN_SETUP_TOKEN", "(generated and logged)", "Token required by POST /api/v1/auth/setup to create the first platform admin."},
		{"KILN_MAX_BODY_BYTES", "1048576", "Largest accepted JSON request body, in bytes."},
		{"KILN_LOG_LEVEL", "info", "debug, info, warn or error."},
		{"KILN_DEV_DIR", ".kiln", "Where `kiln dev` keeps its generated JWT secret and encryption key."},
		{"KILN_SHUTDOWN_GRACE", "30s", "How long running requests and jobs may take to finish on SIGTERM."},
		{"KILN_WORKER_CONCURRENCY", "200", "Jobs one worker process runs at once: AI jobs mostly wait on providers (capped per host by KILN_PROVIDER_CONCURRENCY), and CPU-heavy steps such as PDF extraction take a slot per core."},
		{"KILN_WORKER_POLL_INTERVAL", "10ms", "How often an idle worker looks at empty queues; bounds how fast a new job starts."},
		{"KILN_NAMESPACE", "", "Prefix of queue names and Redis channels, to share one Redis between installations."},
		{"KILN_SIGNUP_CREDITS", "100", "Credits granted to every new tenant."},
		{"KILN_TENANT_MAX_ACTIVE", "100", "Most jobs of one tenant in the queues at once; the rest wait in Postgres (fairness)."},
		{"KILN_RELAY_INTERVAL", "1s", "How often the relay admits waiting jobs and re-enqueues jobs Redis lost."},
		{"KILN_API_KEY_CACHE_TTL", "2s", "How long an API process trusts a resolved API key before asking Postgres again (0 turns it off); revocation in another process takes effect within it."},
		{"KILN_DIAGNOSTIC_KINDS", "false", "Register the diagnostic kind system.echo (tests, benchmarks, smoke checks)."},
		{"KILN_EGRESS_ALLOW", "", "Comma-separated CIDRs that outbound requests (webhooks, URL fetches) may reach although private; for tests and development only. Empty allows none."},
		{"KILN_METRICS_BASIC_AUTH", "", "user:pass required by GET /metrics; empty leaves it open."},
		{"KILN_METRICS_ADDR", "", "Address on which `kiln worker` and `kiln scheduler` serve /metrics (e.g. :9090); empty serves nothing."},
		{"KILN_ASYNQMON_READONLY", "false", "Make the /admin/queues dashboard view-only."},
		{"KILN_RATE_LIMITS", "ai=60,content=100,auth=20,general=300", "Default requests per minute per tenant for each scope (auth: per client IP); tenants can be given their own."},
		{"KILN_WEBHOOK_SECRET_OVERLAP", "24h", "How long a rotated webhook secret keeps signing beside the new one."},
		{"KILN_MEDIA_DIR", ".kiln/media", "Directory of the local media store; API and worker processes must share it."},
		{"KILN_PDF_MAX_PAGES", "500", "Most pages a PDF may have for post.from_pdf (more: pdf_too_large)."},
		{"KILN_PDF_MAX_MB", "50", "Largest PDF post.from_pdf extracts, in MiB (larger: pdf_too_large)."},
		{"VECTOR_DATABASE_URL", "(DATABASE_URL)", "Postgres with pgvector 0.7+ for RAG chunks; `make run` and the tests point it at a local PGlite (deploy/dev/pglite)."},
		{"KILN_HNSW_M", "16", "pgvector HNSW m of new vector indexes."},
		{"KILN_HNSW_EF_CONSTRUCTION", "128", "pgvector HNSW ef_construction of new vector indexes."},
		{"KILN_HNSW_EF_SEARCH", "800", "hnsw.ef_search of searches that set none (raised to the candidates a query needs); 800 keeps recall@10 at 0.95 at 100,000 hash-embedded chunks."},
		{"KILN_OPENAI_BASE_URL", "https://api.openai.com/v1", "Base URL of the deployment's OpenAI-compatible provider (OpenAI, Azure OpenAI, Ollama, vLLM, LocalAI)."},
		{"KILN_OPENAI_API_KEY", "(OPENAI_API_KEY)", "API key of that provider; empty: none configured, and knowledge bases use the local hash embedder."},
		{"KILN_MODEL_EMBEDDING", "text-embedding-3-small", "Embedding model of new knowledge bases when a provider key is set."},
		{"KILN_MODEL_CHAT", "gpt-4o-mini", "Chat model (post.transform, translate.*, seo.generate_text, SEO suggestions) when a provider key is set."},
		{"KILN_MODEL_VISION", "gpt-4o-mini", "Vision model (media.metadata.generate) when a provider key is set."},
		{"KILN_MODEL_IMAGE", "gpt-image-1", "Image model (media.image.generate, media.image.edit) when a provider key is set."},
		{"KILN_MODEL_SPEECH", "gpt-4o-mini-tts", "Speech model (media.speech.generate) when a provider key is set; without a key, speech uses the local espeak-ng."},
		{"KILN_PROVIDER_CONCURRENCY", "16", "Most requests in flight to one model provider across all workers."},
		{"KILN_FAL_BASE_URL", "https://queue.fal.run", "Queue API of the video provider (fal.ai or a compatible one)."},
		{"KILN_FAL_API_KEY", "(FAL_KEY)", "API key of the video provider; empty: media.video.generate answers 503 provider_not_configured unless the tenant sets one."},
		{"KILN_VIDEO_MODEL", "fal-ai/veo3", "Default video model (a fal endpoint id) when a request names none."},
		{"KILN_ENCRYPTION_KEY", "(dev generates one)", "32 bytes, base64: AES-256-GCM key that encrypts tenants' provider keys at rest. Without it tenants cannot store keys."},
		{"KILN_MEDIA_MAX_MB", "50", "Largest media file accepted, in MiB (uploads get this limit instead of KILN_MAX_BODY_BYTES)."},
	}
}

// Load reads the configuration for mode from the environment.
func Load(mode Mode) (Config, error) {
	return load(mode, os.Getenv)
}

func load(mode Mode, getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		DatabaseURL:          r.str("DATABASE_URL"),
		RedisURL:             r.str("REDIS_URL"),
		HTTPAddr:             r.str("KILN_HTTP_ADDR"),
		PublicURL:            strings.TrimRight(r.str("KILN_PUBLIC_URL"), "/"),
		JWTSecret:            getenv("KILN_JWT_SECRET"),
		JWTPreviousSecrets:   r.list("KILN_JWT_PREVIOUS_SECRETS"),
		JWTIssuer:            r.str("KILN_JWT_ISSUER"),
		JWTAudience:          r.str("KILN_JWT_AUDIENCE"),
		AccessTokenTTL:       r.duration("KILN_ACCESS_TOKEN_TTL"),
		RefreshTokenTTL:      r.duration("KILN_REFRESH_TOKEN_TTL"),
		SignupEnabled:        r.boolean("KILN_SIGNUP_ENABLED"),
		SetupToken:           getenv("KILN_SETUP_TOKEN"),
		MaxBodyBytes:         int64(r.positiveInt("KILN_MAX_BODY_BYTES")),
		LogLevel:             r.oneOf("KILN_LOG_LEVEL", "debug", "info", "warn", "error"),
		DevDir:               r.str("KILN_DEV_DIR"),
		ShutdownGrace:        r.duration("KILN_SHUTDOWN_GRACE"),
		WorkerConcurrency:    r.positiveInt("KILN_WORKER_CONCURRENCY"),
		WorkerPollInterval:   r.duration("KILN_WORKER_POLL_INTERVAL"),
		Namespace:            r.str("KILN_NAMESPACE"),
		SignupCredits:        int64(r.nonNegativeInt("KILN_SIGNUP_CREDITS")),
		TenantMaxActive:      r.positiveInt("KILN_TENANT_MAX_ACTIVE"),
		RelayInterval:        r.duration("KILN_RELAY_INTERVAL"),
		DiagnosticKinds:      r.boolean("KILN_DIAGNOSTIC_KINDS"),
		APIKeyCacheTTL:       r.nonNegativeDuration("KILN_API_KEY_CACHE_TTL"),
		EgressAllow:          r.prefixes("KILN_EGRESS_ALLOW"),
		MetricsBasicAuth:     getenv("KILN_METRICS_BASIC_AUTH"),
		MetricsAddr:          getenv("KILN_METRICS_ADDR"),
		AsynqmonReadOnly:     r.boolean("KILN_ASYNQMON_READONLY"),
		RateLimits:           r.rates("KILN_RATE_LIMITS"),
		WebhookSecretOverlap: r.duration("KILN_WEBHOOK_SECRET_OVERLAP"),
		MediaDir:             r.str("KILN_MEDIA_DIR"),
		MediaMaxBytes:        int64(r.positiveInt("KILN_MEDIA_MAX_MB")) << 20,
		PDFMaxPages:          r.positiveInt("KILN_PDF_MAX_PAGES"),
		PDFMaxBytes:          int64(r.positiveInt("KILN_PDF_MAX_MB")) << 20,
		VectorDatabaseURL:    strings.TrimSpace(getenv("VECTOR_DATABASE_URL")),
		HNSWM:                r.positiveInt("KILN_HNSW_M"),
		HNSWEfConstruction:   r.positiveInt("KILN_HNSW_EF_CONSTRUCTION"),
		HNSWEfSearch:         r.positiveInt("KILN_HNSW_EF_SEARCH"),
		OpenAIBaseURL:        r.str("KILN_OPENAI_BASE_URL"),
		OpenAIAPIKey:         strings.TrimSpace(getenv("KILN_OPENAI_API_KEY")),
		ModelEmbedding:       r.str("KILN_MODEL_EMBEDDING"),
		ModelChat:            r.str("KILN_MODEL_CHAT"),
		ModelVision:          r.str("KILN_MODEL_VISION"),
		ModelImage:           r.str("KILN_MODEL_IMAGE"),
		ModelSpeech:          r.str("KILN_MODEL_SPEECH"),
		ProviderConcurrency:  r.positiveInt("KILN_PROVIDER_CONCURRENCY"),
		FalBaseURL:           r.str("KILN_FAL_BASE_URL"),
		FalAPIKey:            strings.TrimSpace(getenv("KILN_FAL_API_KEY")),
		VideoModel:           r.str("KILN_VIDEO_MODEL"),
	}
	if c.FalAPIKey == "" {
		c.FalAPIKey = strings.TrimSpace(getenv("FAL_KEY"))
	}
	if raw := strings.TrimSpace(getenv("KILN_ENCRYPTION_KEY")); raw != "" {
		key, err := ParseEncryptionKey(raw)
		r.check("KILN_ENCRYPTION_KEY", err)
		c.EncryptionKey = key
	}
	r.check("KILN_FAL_BASE_URL", validURL(c.FalBaseURL, "https", "http"))
	if c.VectorDatabaseURL == "" {
		c.VectorDatabaseURL = c.DatabaseURL
	}
	if c.OpenAIAPIKey == "" {
		c.OpenAIAPIKey = strings.TrimSpace(getenv("OPENAI_API_KEY"))
	}
	r.check("VECTOR_DATABASE_URL", validURL(c.VectorDatabaseURL, "postgres", "postgresql"))
	r.check("KILN_OPENAI_BASE_URL", validURL(c.OpenAIBaseURL, "https", "http"))
	if c.MetricsBasicAuth != "" && !strings.Contains(c.MetricsBasicAuth, ":") {
		r.fail("KILN_METRICS_BASIC_AUTH", errors.New("must be user:pass"))
	}
	if c.MetricsAddr != "" {
		r.check("KILN_METRICS_ADDR", validAddr(c.MetricsAddr))
	}
	r.check("DATABASE_URL", validURL(c.DatabaseURL, "postgres", "postgresql"))
	r.check("REDIS_URL", validURL(c.RedisURL, "redis", "rediss"))
	r.check("KILN_HTTP_ADDR", validAddr(c.HTTPAddr))
	r.check("KILN_PUBLIC_URL", validURL(c.PublicURL, "http", "https"))
	if mode == ModeAPI {
		r.check("KILN_JWT_SECRET", validSecret(c.JWTSecret))
	}
	if c.SetupToken != "" && len(c.SetupToken) < 16 {
		r.fail("KILN_SETUP_TOKEN", errors.New("must be at least 16 characters"))
	}
	return c, errors.Join(r.errs...)
}

// ParseEncryptionKey decodes a base64 (standard or URL alphabet) key of
// exactly 32 bytes, the AES-256 key of KILN_ENCRYPTION_KEY.
func ParseEncryptionKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(s); err == nil {
			if len(key) != 32 {
				return nil, fmt.Errorf("must decode to 32 bytes, got %d (generate one with: openssl rand -base64 32)", len(key))
			}
			return key, nil
		}
	}
	return nil, errors.New("must be base64 (generate one with: openssl rand -base64 32)")
}

// ValidateSecret reports whether s is strong enough to sign tokens.
func ValidateSecret(s string) error { return validSecret(s) }

func validSecret(s string) error {
	if s == "" {
		return errors.New("is required (generate one with: openssl rand -base64 48)")
	}
	if len(s) < 32 {
		return fmt.Errorf("must be at least 32 bytes, got %d", len(s))
	}
	return nil
}

func validURL(raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("is not a URL: %w", err)
	}
	for _, s := range schemes {
		if u.Scheme == s && u.Host != "" {
			return nil
		}
	}
	return fmt.Errorf("must be a %s:// URL with a host, got %q", schemes[0], raw)
}

func validAddr(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("must be host:port or :port: %w", err)
	}
	return nil
}

// reader reads variables, falling back to the defaults in Vars, and collects
// every error so start-up reports all bad variables at once.
type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) fail(name string, err error) {
	r.errs = append(r.errs, fmt.Errorf("%s %w", name, err))
}

func (r *reader) check(name string, err error) {
	if err != nil {
		r.fail(name, err)
	}
}

func (r *reader) str(name string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	for _, v := range Vars() {
		if v.Name == name {
			return v.Default
		}
	}
	return ""
}

func (r *reader) list(name string) []string {
	var out []string
	for _, p := range strings.Split(r.getenv(name), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (r *reader) duration(name string) time.Duration {
	d, err := time.ParseDuration(r.str(name))
	if err != nil || d <= 0 {
		r.fail(name, fmt.Errorf("must be a positive duration such as 15m or 30s, got %q", r.str(name)))
	}
	return d
}

func (r *reader) nonNegativeDuration(name string) time.Duration {
	raw := r.str(name)
	if raw == "0" {
		return 0
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d < 0 {
		r.fail(name, fmt.Errorf("must be a duration such as 2s, or 0, got %q", raw))
	}
	return d
}

// prefixes reads a comma-separated list of CIDRs (a bare address is one
// host).
func (r *reader) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, item := range r.list(name) {
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil {
				r.fail(name, fmt.Errorf("must list CIDRs such as 127.0.0.1/32 or 10.0.0.0/8, got %q", item))
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out
}

// rates reads scope=perMinute pairs, starting from the defaults in Vars so
// that naming one scope leaves the others at their defaults.
func (r *reader) rates(name string) map[string]int {
	out := map[string]int{}
	parse := func(raw string) {
		for _, item := range strings.Split(raw, ",") {
			scope, n, ok := strings.Cut(strings.TrimSpace(item), "=")
			v, err := strconv.Atoi(strings.TrimSpace(n))
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			if !ok || scope == "" || err != nil || v <= 0 {
				r.fail(name, fmt.Errorf("must list scope=requests-per-minute pairs such as ai=60,general=300, got %q", item))
				continue
			}
			out[strings.TrimSpace(scope)] = v
		}
	}
	for _, v := range Vars() {
		if v.Name == name {
			parse(v.Default)
		}
	}
	parse(r.getenv(name))
	return out
}

func (r *reader) boolean(name string) bool {
	b, err := strconv.ParseBool(r.str(name))
	if err != nil {
		r.fail(name, fmt.Errorf("must be true or false, got %q", r.str(name)))
	}
	return b
}

func (r *reader) positiveInt(name string) int {
	n, err := strconv.Atoi(r.str(name))
	if err != nil || n <= 0 {
		r.fail(name, fmt.Errorf("must be a positive whole number, got %q", r.str(name)))
	}
	return n
}

func (r *reader) nonNegativeInt(name string) int {
	n, err := strconv.Atoi(r.str(name))
	if err != nil || n < 0 {
		r.fail(name, fmt.Errorf("must be a whole number of zero or more, got %q", r.str(name)))
	}
	return n
}

func (r *reader) oneOf(name string, allowed ...string) string {
	v := strings.ToLower(r.str(name))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(name, fmt.Errorf("must be one of %s, got %q", strings.Join(allowed, ", "), v))
	return v
}
