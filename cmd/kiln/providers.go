package main

import (
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/egress"
	"github.com/kilnhq/kiln/internal/config"
	"github.com/kilnhq/kiln/settings"
)

// providerEgress is the client for calls to model providers at URLs that
// tenants give: the egress guard, with room for slow generations and
// large images and videos.
func providerEgress(cfg config.Config) *egress.Client {
	return egress.New(egress.Config{Allow: cfg.EgressAllow, Timeout: 5 * time.Minute, MaxBodyBytes: max(cfg.MediaMaxBytes, 64<<20)})
}

// deploymentIntegrations are the providers configured by the environment.
func deploymentIntegrations(cfg config.Config) map[string]settings.Integration {
	return map[string]settings.Integration{
		settings.OpenAI: {BaseURL: cfg.OpenAIBaseURL, APIKey: cfg.OpenAIAPIKey, Models: map[ai.Capability]string{
			ai.CapChat: cfg.ModelChat, ai.CapVision: cfg.ModelVision, ai.CapImage: cfg.ModelImage,
			ai.CapSpeech: cfg.ModelSpeech, ai.CapEmbedding: cfg.ModelEmbedding}},
		settings.Fal: {BaseURL: cfg.FalBaseURL, APIKey: cfg.FalAPIKey, Models: map[ai.Capability]string{ai.CapVideo: cfg.VideoModel}},
	}
}

// providerLimiters hands out one Redis semaphore per provider host, so all
// workers together keep at most KILN_PROVIDER_CONCURRENCY requests in
// flight to one upstream.
type providerLimiters struct {
	rdb   *redis.Client
	ns    string
	limit int
	log   *slog.Logger
	mu    sync.Mutex
	byKey map[string]ai.Limiter
}

func newProviderLimiters(rdb *redis.Client, cfg config.Config, log *slog.Logger) *providerLimiters {
	return &providerLimiters{rdb: rdb, ns: cfg.Namespace, limit: cfg.ProviderConcurrency, log: log, byKey: map[string]ai.Limiter{}}
}

// For returns the limiter of the provider at baseURL (nil if it cannot be
// made, which leaves calls unlimited and is logged).
func (p *providerLimiters) For(baseURL string) ai.Limiter {
	host := baseURL
	if u, err := url.Parse(baseURL); err == nil && u.Host != "" {
		host = u.Host
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if l, ok := p.byKey[host]; ok {
		return l
	}
	l, err := ai.NewRedisLimiter(p.rdb, ai.RedisLimiterConfig{Key: fmt.Sprintf("%s:ai:limit:%s", p.ns, host), Limit: p.limit, Log: p.log})
	if err != nil {
		p.log.Error("provider concurrency limiter", "host", host, "err", err)
		return nil
	}
	p.byKey[host] = l
	return l
}
