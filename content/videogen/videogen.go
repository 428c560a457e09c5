// Package videogen runs media.video.generate: it places the request in an
// external video model's asynchronous queue (fal.ai's queue API, through
// ai/video), parks the job while the provider works so no worker waits on
// it, completes it when the provider's signed webhook arrives or a
// scheduled poll finds the result, and downloads the video into the site's
// media. It owns the video_requests table.
package videogen

import (
	"context"
	"embed"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/ai/video"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/settings"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the package's migration files for pg.NewMigrator.
func Migrations() pg.Source {
	return pg.Source{Owner: "videogen", FS: migrations, Dir: "migrations"}
}

// Kind is the job kind this package runs.
const Kind = "media.video.generate"

// Defaults of Config.
const (
	DefaultPollInterval = 15 * time.Second
	DefaultMaxWait      = 30 * time.Minute
)

// Config tunes the video jobs.
type Config struct {
	// PollInterval is how long a job waits between status polls; a webhook
	// wakes it sooner.
	PollInterval time.Duration
	// MaxWait bounds the provider's time on one request; past it the job
	// fails provider_timeout and the request is canceled upstream.
	MaxWait time.Duration
	// RequestTimeout bounds each call to the provider's queue API
	// (video.DefaultTimeout when zero).
	RequestTimeout time.Duration
	// WebhookURL returns the URL the provider calls back for provider
	// (KILN_PUBLIC_URL/api/v1/providers/{provider}/webhook); "" polls only.
	WebhookURL func(provider string) string
	// JWKSURL is where the provider's webhook keys are fetched
	// (video.DefaultJWKSURL when empty).
	JWKSURL string
	// HTTPClient fetches the provider's webhook keys and the result files
	// (the egress client); nil uses a plain client. Queue calls use the
	// settings' client for the integration's base URL.
	HTTPClient *http.Client
}

// Waker wakes a parked job (jobs.Service.Wake).
type Waker interface {
	Wake(ctx context.Context, jobID string) (bool, error)
}

// Service runs the video jobs and receives the provider's webhooks.
type Service struct {
	db       *pgxpool.Pool
	content  *content.Service
	settings *settings.Service
	log      *slog.Logger
	cfg      Config
	verifier *video.Verifier
	engine   Waker
}

// New builds the Service.
func New(db *pgxpool.Pool, c *content.Service, st *settings.Service, log *slog.Logger, cfg Config) (*Service, error) {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.WebhookURL == nil {
		cfg.WebhookURL = func(string) string { return "" }
	}
	v, err := video.NewVerifier(video.VerifierConfig{JWKSURL: cfg.JWKSURL, HTTPClient: cfg.HTTPClient, Log: log})
	if err != nil {
		return nil, fmt.Errorf("video webhook verifier: %w", err)
	}
	return &Service{db: db, content: c, settings: st, log: log, cfg: cfg, verifier: v}, nil
}

// SetEngine gives the Service the engine that wakes parked jobs.
func (s *Service) SetEngine(w Waker) { s.engine = w }

// client returns the video client of a tenant's fal integration, and its
// default model; a 503 provider_not_configured when it has no key.
func (s *Service) client(ctx context.Context, tenantID string) (*video.Client, string, error) {
	in, err := s.settings.Integration(ctx, tenantID, settings.Fal)
	if err != nil {
		return nil, "", err
	}
	if !in.Configured() {
		return nil, "", s.settings.Require(ctx, tenantID, ai.CapVideo)
	}
	c, err := video.New(video.Config{BaseURL: in.BaseURL, APIKey: in.APIKey, HTTPClient: s.settings.HTTPClientFor(in), DownloadClient: s.cfg.HTTPClient,
		Timeout: s.cfg.RequestTimeout,
		JWKSURL: s.cfg.JWKSURL, Log: s.log})
	if err != nil {
		return nil, "", fmt.Errorf("build the video client: %w", err)
	}
	return c, in.Model(ai.CapVideo), nil
}
