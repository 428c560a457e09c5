package ai

import (
	"context"
	"errors"

	"github.com/kilnhq/kiln/internal/problem"
)

// Embedder turns texts into vectors of a fixed size.
type Embedder interface {
	// Embed returns one vector per text, in order, and what the provider
	// billed for them.
	Embed(ctx context.Context, texts []string) ([][]float32, Usage, error)
	// Dimensions is the length of every vector Embed returns.
	Dimensions() int
	// Model names the model, as stored with the vectors it made.
	Model() string
}

// Usage is what a provider call consumed, for credits and metrics.
type Usage struct {
	// Tokens is the number of input tokens the provider billed; zero for
	// local embedders.
	Tokens int `json:"tokens"`
	// Requests is the number of API requests made, retries included.
	Requests int `json:"requests"`
}

// Add returns the sum of u and v.
func (u Usage) Add(v Usage) Usage {
	return Usage{Tokens: u.Tokens + v.Tokens, Requests: u.Requests + v.Requests}
}

// Sentinel provider errors; errors.Is matches any problem with the same code.
var (
	// ErrProviderRateLimited: the provider kept answering 429.
	ErrProviderRateLimited = problem.New(problem.Unavailable, "provider_rate_limited",
		"the model provider is rate limiting requests; the work is retried later")
	// ErrProviderUnavailable: the provider failed (5xx or network) on every try.
	ErrProviderUnavailable = problem.New(problem.Unavailable, "provider_unavailable",
		"the model provider is not answering; try again later")
	// ErrProviderAuthFailed: the provider refused the API key (401 or 403).
	ErrProviderAuthFailed = problem.New(problem.Unavailable, "provider_auth_failed",
		"the model provider refused the API key; the operator must check the key and its permissions")
	// ErrProviderRequestRejected: the provider refused the request itself
	// (400, 404, 422), for example an unknown model or too long an input.
	ErrProviderRequestRejected = problem.New(problem.Invalid, "provider_request_rejected",
		"the model provider rejected the request; check the model name, its dimensions and the input size")
)

// IsTransient reports whether err is a provider failure that may pass if
// the work is tried again later (rate limiting, outage).
func IsTransient(err error) bool {
	return errors.Is(err, ErrProviderRateLimited) || errors.Is(err, ErrProviderUnavailable)
}
