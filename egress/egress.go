// Package egress is Kiln's one HTTP client for outbound requests whose
// destination a user can choose: webhook deliveries, URL fetches and
// tenant-configured model endpoints.
//
// Every connection is checked on the IP address actually being dialed, after
// DNS resolution and again on every redirect hop, by a net.Dialer Control
// function built on code.dny.dev/ssrf. It refuses loopback, private (RFC 1918),
// shared (CGNAT), link-local (including the cloud metadata address
// 169.254.169.254), unique-local and link-local IPv6, IPv4-mapped IPv6,
// unspecified, multicast and every other special-purpose range, and any port
// other than 80 and 443. Ranges the operator allow-lists (KILN_EGRESS_ALLOW,
// parsed with ParseAllow) bypass the address and port rules. Environment
// proxies are never used.
//
// Refusals wrap ErrBlocked; callers report them with the code CodeBlocked.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxRedirects = 5
	DefaultMaxBodyBytes = 10 << 20 // 10 MiB
	DefaultUserAgent    = "Kiln/1 (+https://github.com/kilnhq/kiln)"
)

// Transport limits that are not configurable.
const (
	dialTimeout         = 10 * time.Second
	tlsHandshakeTimeout = 10 * time.Second
	idleConnTimeout     = 90 * time.Second
	maxHeaderBytes      = 1 << 20
)

// Error codes for the API and job error bodies (CONVENTIONS.md §3).
const (
	CodeBlocked          = "egress_blocked"
	CodeInvalidURL       = "invalid_url"
	CodeUnresolvable     = "host_unresolvable"
	CodeTooLarge         = "response_too_large"
	CodeTooManyRedirects = "too_many_redirects"
	CodeTimeout          = "egress_timeout"
)

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrBlocked: the destination address, port or network is not permitted.
	// The error in the chain is a *BlockedError naming the address and reason.
	ErrBlocked = errors.New("egress blocked")
	// ErrInvalidURL: the URL is not one the client will request (scheme other
	// than http or https, userinfo, missing host, ambiguous numeric host).
	ErrInvalidURL = errors.New("invalid URL")
	// ErrUnresolvable: CheckURL could not resolve the host to any address.
	ErrUnresolvable = errors.New("host cannot be resolved")
	// ErrTooLarge: a response body is longer than the permitted maximum.
	ErrTooLarge = errors.New("response body too large")
	// ErrTooManyRedirects: the redirect chain was longer than MaxRedirects
	// (this is also what a redirect loop ends in).
	ErrTooManyRedirects = errors.New("too many redirects")
)

// Config configures a Client. The zero value is usable: nothing allow-listed,
// defaults for the rest.
type Config struct {
	// Allow lists prefixes that bypass the address and port rules: any
	// address inside them may be dialed on any port. Default: none. The owner
	// parses KILN_EGRESS_ALLOW with ParseAllow.
	Allow []netip.Prefix
	// Timeout bounds a whole request, redirects and body read included.
	// Zero or negative means DefaultTimeout (30s).
	Timeout time.Duration
	// MaxRedirects is how many redirects Do follows before failing with
	// ErrTooManyRedirects. Zero or negative means DefaultMaxRedirects (5).
	// Ignored when NoRedirects is set.
	MaxRedirects int
	// NoRedirects makes Do return a 3xx response as is, without following it
	// (webhook deliveries treat a redirect as a failed delivery).
	NoRedirects bool
	// MaxBodyBytes caps every response body Do returns: reading past it
	// fails with ErrTooLarge. Zero or negative means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// UserAgent is sent when a request has no User-Agent header.
	// Empty means DefaultUserAgent.
	UserAgent string
	// Resolver resolves host names for dialing and for CheckURL.
	// Nil means net.DefaultResolver.
	Resolver *net.Resolver
}

// Client sends outbound HTTP requests that may only reach permitted
// destinations. It is safe for concurrent use.
type Client struct {
	http      *http.Client
	transport *http.Transport
	guard     *guard
	resolver  *net.Resolver
	maxBody   int64
}

// New returns a Client for cfg, with defaults applied to zero fields.
func New(cfg Config) *Client {
	cfg = withDefaults(cfg)
	g := newGuard(cfg.Allow)
	tr := newTransport(cfg, g)
	c := &Client{
		transport: tr,
		guard:     g,
		resolver:  cfg.Resolver,
		maxBody:   cfg.MaxBodyBytes,
	}
	c.http = &http.Client{
		Transport:     &guardedTransport{base: tr, guard: g, userAgent: cfg.UserAgent},
		CheckRedirect: redirectPolicy(cfg),
		Timeout:       cfg.Timeout,
	}
	return c
}

// withDefaults fills the zero fields of cfg.
func withDefaults(cfg Config) Config {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxRedirects <= 0 {
		cfg.MaxRedirects = DefaultMaxRedirects
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	return cfg
}

// newTransport builds the underlying transport: no proxy, the guard as the
// dialer's Control function, bounded handshakes and header waits.
func newTransport(cfg Config, g *guard) *http.Transport {
	dialer := &net.Dialer{
		Timeout:   min(dialTimeout, cfg.Timeout),
		KeepAlive: 30 * time.Second,
		Resolver:  cfg.Resolver,
		Control:   g.control,
	}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		IdleConnTimeout:        idleConnTimeout,
		TLSHandshakeTimeout:    min(tlsHandshakeTimeout, cfg.Timeout),
		ResponseHeaderTimeout:  cfg.Timeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxHeaderBytes,
	}
}

// redirectPolicy returns the CheckRedirect function for cfg. Each hop is
// checked again by the guarded transport and the dialer.
func redirectPolicy(cfg Config) func(*http.Request, []*http.Request) error {
	if cfg.NoRedirects {
		return func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	limit := cfg.MaxRedirects
	return func(req *http.Request, via []*http.Request) error {
		if len(via) > limit {
			return fmt.Errorf("%w: stopped after %d redirects, next was %s", ErrTooManyRedirects, limit, redact(req.URL))
		}
		return nil
	}
}

// Do sends req, following redirects as configured. The returned body is
// capped at MaxBodyBytes: reading past it fails with ErrTooLarge. On error
// the response is always nil. Refused destinations give an error for which
// errors.Is(err, ErrBlocked) holds.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, err
	}
	resp.Body = newCappedBody(resp.Body, c.maxBody)
	return resp, nil
}

// Get sends a GET request for rawURL with ctx.
func (c *Client) Get(ctx context.Context, rawURL string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("build GET request: %w: %w", ErrInvalidURL, err)
	}
	return c.Do(req)
}

// ReadBody reads resp's whole body with the client's MaxBodyBytes cap and
// closes it. A longer body gives ErrTooLarge.
func (c *Client) ReadBody(resp *http.Response) ([]byte, error) {
	return ReadAll(resp, c.maxBody)
}

// CloseIdleConnections closes the client's idle keep-alive connections.
func (c *Client) CloseIdleConnections() {
	c.http.CloseIdleConnections()
}

// Code maps an error from this package to its API/job error code, or ""
// when err is none of this package's errors.
func Code(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrBlocked):
		return CodeBlocked
	case errors.Is(err, ErrInvalidURL):
		return CodeInvalidURL
	case errors.Is(err, ErrUnresolvable):
		return CodeUnresolvable
	case errors.Is(err, ErrTooLarge):
		return CodeTooLarge
	case errors.Is(err, ErrTooManyRedirects):
		return CodeTooManyRedirects
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return CodeTimeout
	}
	return ""
}

// HTTPClient returns a standard *http.Client that sends through the same
// guarded transport, redirect policy and body cap, for libraries that take
// an *http.Client (go-openai, the video client) and call user-given hosts.
func (c *Client) HTTPClient() *http.Client {
	return &http.Client{Transport: cappedTransport{rt: c.http.Transport, max: c.maxBody},
		CheckRedirect: c.http.CheckRedirect, Timeout: c.http.Timeout}
}

// cappedTransport caps every response body at max bytes.
type cappedTransport struct {
	rt  http.RoundTripper
	max int64
}

func (t cappedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = newCappedBody(resp.Body, t.max)
	return resp, nil
}
