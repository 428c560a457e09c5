// Package settings owns what a tenant configures about its AI work: its
// integration settings per provider (base URL, API key encrypted at rest
// with AES-256-GCM, and a model per capability) and its system prompt
// templates. It resolves what one tenant's job uses: the tenant's own
// settings over the deployment's defaults from the environment, and the
// tenant's prompt over the platform default. It owns the tables in its
// migrations folder.
package settings

import (
	"context"
	"embed"

	"fmt"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the package's migration files for pg.NewMigrator.
func Migrations() pg.Source {
	return pg.Source{Owner: "settings", FS: migrations, Dir: "migrations"}
}

// The providers a tenant can configure.
const (
	// OpenAI is any OpenAI-compatible API (OpenAI, Azure OpenAI, Ollama,
	// vLLM, LocalAI): chat, vision, image, speech and embedding models.
	OpenAI = "openai"
	// Fal is fal.ai's queue API (or a compatible one): video models.
	Fal = "fal"
)

// Providers lists the providers a tenant can configure.
func Providers() []string { return []string{OpenAI, Fal} }

// capabilitiesOf lists the capabilities each provider serves.
var capabilitiesOf = map[string][]ai.Capability{
	OpenAI: {ai.CapChat, ai.CapVision, ai.CapImage, ai.CapSpeech, ai.CapEmbedding},
	Fal:    {ai.CapVideo},
}

// providerOf returns the provider that serves a capability.
func providerOf(c ai.Capability) string {
	if c == ai.CapVideo {
		return Fal
	}
	return OpenAI
}

// Integration is one provider's settings as a job uses them.
type Integration struct {
	Provider string `json:"provider"`
	// BaseURL is the API root (OpenAI: up to /v1; Azure: the resource
	// endpoint; fal: the queue host).
	BaseURL string `json:"base_url"`
	// APIKey authenticates; empty means the provider is not configured.
	APIKey string `json:"-"`
	// Azure selects Azure OpenAI's URL scheme, with APIVersion.
	Azure      bool   `json:"azure,omitempty"`
	APIVersion string `json:"api_version,omitempty"`
	// Models names the model per capability; an empty one falls back to
	// the deployment's.
	Models map[ai.Capability]string `json:"models"`
	// Source says where the key came from: "tenant", "deployment" or
	// "none".
	Source string `json:"source"`
	// TenantURL reports that BaseURL is the tenant's own, so requests to it
	// must go through the egress guard.
	TenantURL bool `json:"-"`
}

// Configured reports whether the integration has a key.
func (i Integration) Configured() bool { return i.APIKey != "" }

// Model returns the model of capability c, or "".
func (i Integration) Model(c ai.Capability) string { return i.Models[c] }

// PromptDefault is a platform default system prompt: its type (the path
// segment of /system-prompts/{type}), what it is for, the variables its
// Go text/template sees, and the template.
type PromptDefault struct {
	Type        string   `json:"type"`
	Description string   `json:"description"`
	Variables   []string `json:"variables"`
	Template    string   `json:"template"`
}

// Config configures the Service.
type Config struct {
	// Defaults are the deployment's integrations, from the environment,
	// keyed by provider; a tenant's settings override them field by field.
	Defaults map[string]Integration
	// EncryptionKey is the 32-byte AES key of stored API keys; nil refuses
	// to store keys (PUT answers 503 encryption_not_configured).
	EncryptionKey []byte
	// Prompts are the platform default system prompts, one per type.
	Prompts []PromptDefault
	// HTTPClient sends provider requests to tenant-given base URLs (Kiln's
	// egress client); nil uses a plain client. The deployment's own base
	// URLs (an Ollama on localhost, say) are called with a plain client.
	HTTPClient *http.Client
	// Limiter returns the concurrency limiter shared by every worker for
	// one provider base URL; nil does not limit.
	Limiter func(baseURL string) ai.Limiter
}

// Errors callers branch on.
var (
	// ErrEncryptionNotConfigured: KILN_ENCRYPTION_KEY is not set, so keys
	// cannot be stored.
	ErrEncryptionNotConfigured = problem.New(problem.Unavailable, "encryption_not_configured",
		"this installation cannot store provider keys: the operator must set KILN_ENCRYPTION_KEY")
	// ErrUnknownProvider: the provider is not one of Providers().
	ErrUnknownProvider = problem.New(problem.NotFound, "unknown_provider",
		"no such provider; the providers are openai and fal")
	// ErrUnknownPromptType: no system prompt has this type.
	ErrUnknownPromptType = problem.New(problem.NotFound, "unknown_prompt_type",
		"no system prompt has this type; GET /api/v1/system-prompts lists them")
)

// Service stores and resolves tenants' settings.
type Service struct {
	db      *pgxpool.Pool
	log     *slog.Logger
	cfg     Config
	prompts map[string]PromptDefault
	sealer  *sealer
	plain   *http.Client
}

// New builds the Service; it checks the key's length and the prompt
// templates.
func New(db *pgxpool.Pool, log *slog.Logger, cfg Config) (*Service, error) {
	s := &Service{db: db, log: log, cfg: cfg, prompts: map[string]PromptDefault{}, plain: &http.Client{}}
	if cfg.EncryptionKey != nil {
		sl, err := newSealer(cfg.EncryptionKey)
		if err != nil {
			return nil, fmt.Errorf("KILN_ENCRYPTION_KEY: %w", err)
		}
		s.sealer = sl
	}
	for _, p := range cfg.Prompts {
		if _, dup := s.prompts[p.Type]; dup {
			return nil, fmt.Errorf("system prompt %q defined twice", p.Type)
		}
		if _, err := parseTemplate(p.Type, p.Template); err != nil {
			return nil, fmt.Errorf("default system prompt %q: %w", p.Type, err)
		}
		s.prompts[p.Type] = p
	}
	if s.cfg.HTTPClient == nil {
		s.cfg.HTTPClient = &http.Client{}
	}
	return s, nil
}

// notConfigured is the 503 of a capability with no provider, naming the
// settings to change.
func notConfigured(c ai.Capability) error {
	provider := providerOf(c)
	env := map[string]string{OpenAI: "KILN_OPENAI_API_KEY", Fal: "KILN_FAL_API_KEY"}[provider]
	return &problem.Problem{Kind: ai.ErrProviderNotConfigured.Kind, Code: ai.ErrProviderNotConfigured.Code,
		Message: fmt.Sprintf("no %s provider is configured for this tenant: set %s on the deployment, or PUT /api/v1/settings/integrations/%s with an api_key",
			c, env, provider),
		Details: map[string]any{"capability": string(c), "setting": env, "tenant_setting": "/api/v1/settings/integrations/" + provider}}
}

// Require returns a 503 provider_not_configured naming the setting for the
// first capability the tenant has no provider (key and model) for.
func (s *Service) Require(ctx context.Context, tenantID string, caps ...ai.Capability) error {
	for _, c := range caps {
		in, err := s.Integration(ctx, tenantID, providerOf(c))
		if err != nil {
			return err
		}
		if !in.Configured() || in.Model(c) == "" {
			return notConfigured(c)
		}
	}
	return nil
}

// Provider returns the tenant's OpenAI-compatible provider, or a 503
// provider_not_configured naming the setting when it has no key.
func (s *Service) Provider(ctx context.Context, tenantID string) (*ai.Provider, error) {
	in, err := s.Integration(ctx, tenantID, OpenAI)
	if err != nil {
		return nil, err
	}
	if !in.Configured() {
		return nil, notConfigured(ai.CapChat)
	}
	return s.providerFor(in)
}

// providerFor builds an ai.Provider from an integration.
func (s *Service) providerFor(in Integration) (*ai.Provider, error) {
	cfg := ai.ProviderConfig{BaseURL: in.BaseURL, APIKey: in.APIKey, Azure: in.Azure, APIVersion: in.APIVersion,
		Models: ai.Models{Chat: in.Model(ai.CapChat), Vision: in.Model(ai.CapVision),
			Image: in.Model(ai.CapImage), Speech: in.Model(ai.CapSpeech)},
		HTTPClient: s.HTTPClientFor(in), Log: s.log}
	if s.cfg.Limiter != nil {
		cfg.Limiter = s.cfg.Limiter(in.BaseURL)
	}
	p, err := ai.NewProvider(cfg)
	if err != nil {
		return nil, fmt.Errorf("build the %s provider: %w", in.Provider, err)
	}
	return p, nil
}

// HTTPClientFor returns the client requests to in's base URL go through: the
// egress client for a tenant's URL, a plain one for the deployment's.
func (s *Service) HTTPClientFor(in Integration) *http.Client {
	if in.TenantURL {
		return s.cfg.HTTPClient
	}
	return s.plain
}

// checkProvider returns ErrUnknownProvider for a provider not served.
func checkProvider(provider string) error {
	if _, ok := capabilitiesOf[provider]; !ok {
		return ErrUnknownProvider
	}
	return nil
}
