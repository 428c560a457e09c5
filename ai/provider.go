package ai

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sashabaranov/go-openai"

	"github.com/kilnhq/kiln/internal/problem"
)

// Sentinel errors of the generation provider, beside those in embed.go;
// errors.Is matches any problem with the same code.
var (
	// ErrContentRejected: the provider's safety system refused the prompt
	// or the answer (a content-policy 400 or a content_filter finish). It
	// is not retried: the same input fails the same way.
	ErrContentRejected = problem.New(problem.Invalid, "content_rejected",
		"the model provider's content policy rejected the request; change the prompt or the input")
	// ErrProviderNotConfigured: no model is configured for the capability
	// a call needs; the message names the setting to change.
	ErrProviderNotConfigured = problem.New(problem.Unavailable, "provider_not_configured",
		"no model provider is configured for this capability")
)

// Defaults of ProviderConfig.
const (
	// DefaultProviderTimeout bounds one request; image generation can take
	// well over a minute.
	DefaultProviderTimeout = 3 * time.Minute
	// DefaultAzureAPIVersion is the Azure OpenAI api-version sent when
	// ProviderConfig.APIVersion is empty.
	DefaultAzureAPIVersion = "2024-10-21"
)

// Models names the model (for Azure: the deployment) of each capability.
// An empty name means the capability is not configured.
type Models struct {
	Chat   string // KILN_MODEL_CHAT
	Vision string // KILN_MODEL_VISION
	Image  string // KILN_MODEL_IMAGE
	Speech string // KILN_MODEL_SPEECH
}

// ProviderConfig configures a Provider. Zero durations and counts take the
// defaults (DefaultProviderTimeout, and DefaultMaxRetries and the other
// retry defaults of OpenAIConfig).
//
// OpenAI: BaseURL empty (or https://api.openai.com/v1) and APIKey.
// Ollama, vLLM, LocalAI: BaseURL of their OpenAI-compatible root, e.g.
// http://localhost:11434/v1, and any APIKey (they ignore it).
// Azure OpenAI: Azure true, BaseURL https://{resource}.openai.azure.com,
// APIKey the resource key (sent as the api-key header), APIVersion (empty
// takes DefaultAzureAPIVersion), and Models naming deployments; requests
// go to {BaseURL}/openai/deployments/{deployment}/...?api-version=....
type ProviderConfig struct {
	// BaseURL is the API root, up to and including /v1 (the resource
	// endpoint for Azure).
	BaseURL string
	// APIKey authenticates; required for OpenAI and Azure.
	APIKey string
	// Azure selects Azure OpenAI's URL scheme and api-key header.
	Azure bool
	// APIVersion is Azure's api-version query parameter.
	APIVersion string
	// Models are the model per capability.
	Models Models
	// Timeout bounds each request (each try). A request that times out
	// fails with ErrProviderUnavailable and is retried like a 5xx.
	Timeout time.Duration
	// MaxRetries is how many times a 429, 5xx, timeout or network failure
	// is retried; MinBackoff and MaxBackoff bound the exponential backoff.
	MaxRetries int
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After waited for; a longer one
	// fails at once with ErrProviderRateLimited, so the job is rescheduled
	// instead of holding a worker.
	MaxRetryAfter time.Duration
	// HTTPClient sends the requests; pass Kiln's egress client when the
	// base URL comes from a tenant. Nil uses a plain client (Timeout still
	// applies through the context).
	HTTPClient *http.Client
	// Limiter caps the requests in flight to this provider across all
	// workers; nil does not limit.
	Limiter Limiter
	// Log receives one line per retry; nil discards.
	Log *slog.Logger
}

// CallUsage is what a generation call consumed, for credits and metrics.
type CallUsage struct {
	// Requests is the number of API requests made, retries included.
	Requests int
	// PromptTokens and CompletionTokens are the tokens the provider billed
	// (chat, and image models that report tokens).
	PromptTokens     int
	CompletionTokens int
	// Images is the number of images returned.
	Images int
	// Characters is the number of characters of speech input.
	Characters int
	// Seconds is the duration of the speech returned, when the format
	// tells it (wav, pcm, mp3); zero otherwise.
	Seconds float64
}

// Add returns the sum of u and v.
func (u CallUsage) Add(v CallUsage) CallUsage {
	return CallUsage{
		Requests: u.Requests + v.Requests, PromptTokens: u.PromptTokens + v.PromptTokens,
		CompletionTokens: u.CompletionTokens + v.CompletionTokens, Images: u.Images + v.Images,
		Characters: u.Characters + v.Characters, Seconds: u.Seconds + v.Seconds,
	}
}

// Provider calls an OpenAI-compatible API for chat, vision, images and
// speech, with a timeout per request, retries with backoff honouring
// Retry-After, a shared concurrency limit, and classified errors. It is
// safe for concurrent use.
type Provider struct {
	cfg    ProviderConfig
	policy retryPolicy
}

// NewProvider checks cfg and fills its defaults.
func NewProvider(cfg ProviderConfig) (*Provider, error) {
	cfg = cfg.withDefaults()
	if cfg.APIKey == "" && (cfg.Azure || cfg.BaseURL == DefaultOpenAIBaseURL) {
		return nil, errors.New("ai provider: an API key is required for OpenAI and Azure OpenAI")
	}
	if cfg.Azure && !strings.HasPrefix(cfg.BaseURL, "https://") && !strings.HasPrefix(cfg.BaseURL, "http://") {
		return nil, fmt.Errorf("ai provider: Azure base URL %q must be the resource endpoint, e.g. https://name.openai.azure.com", cfg.BaseURL)
	}
	policy := retryPolicy{MaxRetries: cfg.MaxRetries, MinBackoff: cfg.MinBackoff, MaxBackoff: cfg.MaxBackoff,
		MaxRetryAfter: cfg.MaxRetryAfter, Log: cfg.Log}
	return &Provider{cfg: cfg, policy: policy}, nil
}

func (c ProviderConfig) withDefaults() ProviderConfig {
	c.BaseURL = strings.TrimRight(or(c.BaseURL, DefaultOpenAIBaseURL), "/")
	if c.Azure {
		c.APIVersion = or(c.APIVersion, DefaultAzureAPIVersion)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	c.Timeout = orDur(c.Timeout, DefaultProviderTimeout)
	c.MaxRetries = orInt(c.MaxRetries, DefaultMaxRetries)
	c.MinBackoff = orDur(c.MinBackoff, DefaultMinBackoff)
	c.MaxBackoff = orDur(c.MaxBackoff, DefaultMaxBackoff)
	c.MaxRetryAfter = orDur(c.MaxRetryAfter, DefaultMaxRetryAfter)
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Models returns the configured model per capability.
func (p *Provider) Models() Models { return p.cfg.Models }

// clientConfig is the go-openai configuration of one request.
func (p *Provider) clientConfig(doer openai.HTTPDoer) openai.ClientConfig {
	var cc openai.ClientConfig
	if p.cfg.Azure {
		cc = openai.DefaultAzureConfig(p.cfg.APIKey, p.cfg.BaseURL)
		cc.APIVersion = p.cfg.APIVersion
		cc.AzureModelMapperFunc = func(model string) string { return model } // Models name deployments
	} else {
		cc = openai.DefaultConfig(p.cfg.APIKey)
		cc.BaseURL = p.cfg.BaseURL
	}
	cc.HTTPClient = doer
	return cc
}

// model returns the model of a capability, or ErrProviderNotConfigured
// naming the setting.
func model(name, capability, setting string) (string, error) {
	if name == "" {
		return "", &problem.Problem{Kind: ErrProviderNotConfigured.Kind, Code: ErrProviderNotConfigured.Code,
			Message: fmt.Sprintf("no %s model is configured; set %s (or the tenant's integration settings)", capability, setting)}
	}
	return name, nil
}

// requestFunc makes one API request with the client.
type requestFunc func(ctx context.Context, c *openai.Client) error

// call runs fn with retries and returns the number of requests made.
func (p *Provider) call(ctx context.Context, op string, fn requestFunc) (int, error) {
	return retry(ctx, p.policy, op, func(ctx context.Context) (time.Duration, error) {
		return p.attempt(ctx, fn)
	})
}

// attempt makes one request: it takes a slot of the limiter, bounds the
// request by the timeout, and reports the provider's Retry-After.
func (p *Provider) attempt(ctx context.Context, fn requestFunc) (time.Duration, error) {
	release, err := p.acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	actx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	rec := &headerRecorder{doer: p.cfg.HTTPClient}
	err = fn(actx, openai.NewClientWithConfig(p.clientConfig(rec)))
	if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		err = &problem.Problem{Kind: ErrProviderUnavailable.Kind, Code: ErrProviderUnavailable.Code,
			Message: fmt.Sprintf("the model provider did not answer within %s; try again later", p.cfg.Timeout)}
	}
	return rec.retryAfter(), err
}

// acquire takes a slot of the limiter, if any.
func (p *Provider) acquire(ctx context.Context) (func(), error) {
	if p.cfg.Limiter == nil {
		return func() {}, nil
	}
	release, err := p.cfg.Limiter.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("wait for a provider slot: %w", err)
	}
	return release, nil
}
