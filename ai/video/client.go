package video

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kilnhq/kiln/ai"
)

// Defaults of Config.
const (
	// DefaultBaseURL is fal's queue API.
	DefaultBaseURL = "https://queue.fal.run"
	// DefaultJWKSURL publishes the keys fal signs webhooks with.
	DefaultJWKSURL = "https://rest.alpha.fal.ai/.well-known/jwks.json"
	// DefaultTimeout bounds one queue API request; the queue answers at
	// once, the generation itself runs apart.
	DefaultTimeout = 30 * time.Second
	// DefaultDownloadTimeout bounds one download of a result file.
	DefaultDownloadTimeout = 5 * time.Minute
	// DefaultMaxRetries is how many times a transient failure is retried.
	DefaultMaxRetries = 3
	// DefaultMinBackoff and DefaultMaxBackoff bound the exponential backoff.
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	// DefaultMaxRetryAfter is the longest Retry-After waited for.
	DefaultMaxRetryAfter = 60 * time.Second
)

// maxAnswer bounds the body of a queue API answer that is read.
const maxAnswer = 16 << 20

// Config configures a Client. Zero values take the defaults.
type Config struct {
	// BaseURL is the queue API root (DefaultBaseURL).
	BaseURL string
	// APIKey is the fal key (KILN_FAL_API_KEY or FAL_KEY), sent as
	// "Authorization: Key <key>" to BaseURL only, never to downloads.
	APIKey string
	// HTTPClient sends the requests; pass Kiln's egress client when the
	// base URL comes from a tenant. Nil uses a plain client.
	HTTPClient *http.Client
	// DownloadClient fetches result files, whose URLs come from the
	// provider's answers; pass Kiln's egress client. Nil uses HTTPClient.
	DownloadClient *http.Client
	// Timeout bounds each queue API request (each try); a request that
	// times out is retried like a 5xx.
	Timeout time.Duration
	// DownloadTimeout bounds each try of Download.
	DownloadTimeout time.Duration
	// MaxRetries is how many times a 408, 429, 5xx, timeout or network
	// failure is retried; negative retries nothing. MinBackoff and
	// MaxBackoff bound the exponential backoff between tries.
	MaxRetries int
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After waited for; a longer one
	// fails at once with ai.ErrProviderRateLimited, so the job is
	// rescheduled instead of holding a worker.
	MaxRetryAfter time.Duration
	// JWKSURL is where Client.Verify fetches fal's webhook keys
	// (DefaultJWKSURL).
	JWKSURL string
	// Log receives one line per retry; nil discards.
	Log *slog.Logger
}

// Client calls fal's queue API. It is safe for concurrent use.
type Client struct {
	cfg      Config
	verifier *Verifier
}

// New checks cfg, fills its defaults and returns a Client.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if cfg.APIKey == "" {
		return nil, errors.New("video client: a fal API key is required; set KILN_FAL_API_KEY (or FAL_KEY)")
	}
	if err := checkHTTPURL(cfg.BaseURL); err != nil {
		return nil, fmt.Errorf("video client: base URL: %w", err)
	}
	v, err := NewVerifier(VerifierConfig{JWKSURL: cfg.JWKSURL, HTTPClient: cfg.HTTPClient, Log: cfg.Log})
	if err != nil {
		return nil, fmt.Errorf("video client: %w", err)
	}
	return &Client{cfg: cfg, verifier: v}, nil
}

func (c Config) withDefaults() Config {
	c.BaseURL = strings.TrimRight(or(c.BaseURL, DefaultBaseURL), "/")
	c.JWKSURL = or(c.JWKSURL, DefaultJWKSURL)
	c.APIKey = strings.TrimSpace(c.APIKey)
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.DownloadClient == nil {
		c.DownloadClient = c.HTTPClient
	}
	c.Timeout = orDur(c.Timeout, DefaultTimeout)
	c.DownloadTimeout = orDur(c.DownloadTimeout, DefaultDownloadTimeout)
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	c.MinBackoff = orDur(c.MinBackoff, DefaultMinBackoff)
	c.MaxBackoff = orDur(c.MaxBackoff, DefaultMaxBackoff)
	c.MaxRetryAfter = orDur(c.MaxRetryAfter, DefaultMaxRetryAfter)
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// checkHTTPURL reports whether s is an absolute http or https URL.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q must be an absolute http or https URL", s)
	}
	return nil
}

// call is one HTTP exchange the client makes, tried until it succeeds.
type call struct {
	method string
	url    string
	body   []byte
	// auth sends the API key; only queue API calls do.
	auth bool
	// resend allows sending the request again when its answer was lost
	// (a timeout or network failure): true for reads, cancels and
	// downloads, false for a submit, which fal may already have queued.
	resend bool
	// outcome marks an answer that is a request's stored outcome: an
	// error carrying fal's error_type is the request's own failure, and
	// asking again returns it again.
	outcome bool
	// timeout bounds each try; limit bounds the answer's body.
	timeout time.Duration
	limit   int64
	// download sends through DownloadClient.
	download bool
}

// answer is a successful (2xx) response.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do makes the call, retrying transient failures with backoff. It
// returns the number of requests made, and the last failure unclassified.
func (c *Client) do(ctx context.Context, op string, cl call) (answer, int, error) {
	for attempt := 0; ; attempt++ {
		ans, retryAfter, err := c.attempt(ctx, cl)
		if err == nil {
			return ans, attempt + 1, nil
		}
		if !retryable(cl, err) || attempt >= c.cfg.MaxRetries || retryAfter > c.cfg.MaxRetryAfter {
			return answer{}, attempt + 1, err
		}
		wait := c.backoff(attempt, retryAfter)
		c.cfg.Log.Warn("fal request failed; retrying", "op", op, "attempt", attempt+1, "wait", wait, "err", err)
		if err := ai.Sleep(ctx, wait); err != nil {
			return answer{}, attempt + 1, err
		}
	}
}

// attempt makes one request. It returns the wait the server asked for
// (zero when it did not) with its error.
func (c *Client) attempt(ctx context.Context, cl call) (answer, time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, cl.timeout)
	defer cancel()
	req, err := c.newRequest(actx, cl)
	if err != nil {
		return answer{}, 0, err
	}
	hc := c.cfg.HTTPClient
	if cl.download {
		hc = c.cfg.DownloadClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return answer{}, 0, lostOrCanceled(ctx, actx, cl.timeout, err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		body, _ := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
		return answer{}, ai.RetryAfter(res.Header), newStatusError(res.StatusCode, res.Header, body)
	}
	body, err := readLimited(res, cl.limit)
	if err != nil {
		return answer{}, 0, lostOrCanceled(ctx, actx, cl.timeout, err)
	}
	return answer{status: res.StatusCode, header: res.Header, body: body}, 0, nil
}

func (c *Client) newRequest(ctx context.Context, cl call) (*http.Request, error) {
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, cl.url, body)
	if err != nil {
		return nil, fmt.Errorf("build the request to %s: %w", cl.url, err)
	}
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.auth {
		req.Header.Set("Authorization", "Key "+c.cfg.APIKey)
		req.Header.Set("Accept", "application/json")
	}
	return req, nil
}

// readLimited reads the body of res, failing with errTooLarge past limit.
func readLimited(res *http.Response, limit int64) ([]byte, error) {
	if res.ContentLength > limit {
		return nil, &tooLargeError{size: res.ContentLength, limit: limit}
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, &tooLargeError{size: -1, limit: limit}
	}
	return body, nil
}

// lostOrCanceled returns the caller's context error when ctx ended, and a
// lostError otherwise (a network failure, or the try's own timeout).
func lostOrCanceled(ctx, actx context.Context, timeout time.Duration, err error) error {
	var tl *tooLargeError
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &tl):
		return err
	case errors.Is(actx.Err(), context.DeadlineExceeded):
		return &lostError{msg: fmt.Sprintf("no answer within %s", timeout)}
	}
	return &lostError{msg: "no answer: " + err.Error()}
}

// retryable reports whether a failed call may pass when tried again.
func retryable(cl call, err error) bool {
	var lost *lostError
	if errors.As(err, &lost) {
		return cl.resend
	}
	var se *statusError
	if !errors.As(err, &se) || se.header.Get("X-Fal-Retryable") == "false" || (cl.outcome && se.errorType != "") {
		return false
	}
	return se.status == http.StatusRequestTimeout || se.status == http.StatusTooManyRequests || se.status >= 500
}

// backoff is the wait before retry attempt+1: the server's Retry-After
// when it gave one, else exponential with jitter in [d/2, d].
func (c *Client) backoff(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return retryAfter
	}
	d := c.cfg.MinBackoff << min(attempt, 20)
	if d > c.cfg.MaxBackoff || d <= 0 {
		d = c.cfg.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orDur(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
