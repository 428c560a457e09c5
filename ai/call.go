package ai

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sashabaranov/go-openai"

	"github.com/kilnhq/kiln/internal/problem"
)

// This file holds what every provider call shares: the retry loop with
// backoff that honours Retry-After, and the classification of go-openai
// and transport errors into the provider problems.

// retryPolicy bounds the retries of one provider call.
type retryPolicy struct {
	// MaxRetries is how many times a transient failure is retried.
	MaxRetries int
	// MinBackoff and MaxBackoff bound the exponential backoff.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After waited for; a longer one
	// fails at once with ErrProviderRateLimited.
	MaxRetryAfter time.Duration
	// Log receives one line per retry; never nil.
	Log *slog.Logger
}

// attemptFunc makes one request. It returns the wait the provider asked
// for (zero when it did not) with its error.
type attemptFunc func(ctx context.Context) (retryAfter time.Duration, err error)

// retry runs fn until it succeeds, fails permanently, or the retries run
// out, sleeping between tries. It returns the number of requests made and
// the classified error, wrapped with op (what was being done).
func retry(ctx context.Context, p retryPolicy, op string, fn attemptFunc) (int, error) {
	for attempt := 0; ; attempt++ {
		retryAfter, err := fn(ctx)
		if err == nil {
			return attempt + 1, nil
		}
		perr := classify(err)
		if !IsTransient(perr) || attempt >= p.MaxRetries || retryAfter > p.MaxRetryAfter {
			return attempt + 1, fmt.Errorf("%s after %d requests: %w", op, attempt+1, perr)
		}
		wait := p.backoff(attempt, retryAfter)
		p.Log.Warn("provider request failed; retrying", "op", op, "attempt", attempt+1, "wait", wait, "err", err)
		if err := Sleep(ctx, wait); err != nil {
			return attempt + 1, fmt.Errorf("%s: %w", op, err)
		}
	}
}

// backoff is the wait before retry attempt+1: the provider's Retry-After
// when it gave one, else exponential with full jitter in [d/2, d].
func (p retryPolicy) backoff(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return retryAfter
	}
	d := p.MinBackoff << min(attempt, 20)
	if d > p.MaxBackoff || d <= 0 {
		d = p.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// classify turns a go-openai or transport error into a provider problem.
// Context errors and problems pass through unchanged.
func classify(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var p *problem.Problem
	if errors.As(err, &p) {
		return err
	}
	status, msg := statusOf(err)
	base := ErrProviderUnavailable
	switch {
	case status == http.StatusTooManyRequests:
		base = ErrProviderRateLimited
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		base = ErrProviderAuthFailed
	case isContentPolicy(err):
		base = ErrContentRejected
	case status >= 400 && status < 500:
		base = ErrProviderRequestRejected
	}
	return &problem.Problem{Kind: base.Kind, Code: base.Code, Message: base.Message + describe(status, msg)}
}

// isContentPolicy reports whether err is a 400 from the provider's safety
// system: OpenAI's content_policy_violation, or Azure's content filter.
func isContentPolicy(err error) bool {
	var api *openai.APIError
	if !errors.As(err, &api) || api.HTTPStatusCode != http.StatusBadRequest {
		return false
	}
	code, _ := api.Code.(string)
	switch {
	case code == "content_policy_violation" || code == "content_filter":
		return true
	case api.InnerError != nil && api.InnerError.Code == "ResponsibleAIPolicyViolation":
		return true
	}
	return strings.Contains(api.Message, "safety system")
}

func describe(status int, msg string) string {
	if status == 0 {
		return " (" + msg + ")"
	}
	return fmt.Sprintf(" (HTTP %d: %s)", status, msg)
}

// statusOf digs the HTTP status and the provider's message out of err.
func statusOf(err error) (int, string) {
	var api *openai.APIError
	if errors.As(err, &api) {
		return api.HTTPStatusCode, api.Message
	}
	var re *openai.RequestError
	if errors.As(err, &re) {
		return re.HTTPStatusCode, strings.TrimSpace(string(re.Body))
	}
	return 0, err.Error()
}

// headerRecorder keeps the Retry-After of the last response, which
// go-openai's errors do not carry.
type headerRecorder struct {
	doer *http.Client
	mu   sync.Mutex
	hdr  http.Header
}

// Do sends req and keeps the response headers.
func (r *headerRecorder) Do(req *http.Request) (*http.Response, error) {
	res, err := r.doer.Do(req)
	if res != nil {
		r.mu.Lock()
		r.hdr = res.Header.Clone()
		r.mu.Unlock()
	}
	return res, err
}

// retryAfter is the last response's RetryAfter.
func (r *headerRecorder) retryAfter() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return RetryAfter(r.hdr)
}

// RetryAfter reads how long a provider asks to wait: retry-after-ms
// (OpenAI's) or Retry-After in seconds or as an HTTP date; zero when absent
// or unreadable.
func RetryAfter(h http.Header) time.Duration {
	if h == nil {
		return 0
	}
	if ms, err := strconv.ParseFloat(h.Get("retry-after-ms"), 64); err == nil && ms > 0 {
		return time.Duration(ms * float64(time.Millisecond))
	}
	v := h.Get("Retry-After")
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// Sleep waits d, or less if ctx ends first (returning its error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orInt(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

func orDur(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
