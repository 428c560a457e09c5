package video

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of VerifierConfig.
const (
	// DefaultWebhookTolerance is how far a webhook's timestamp may be
	// from now, either way.
	DefaultWebhookTolerance = 5 * time.Minute
	// DefaultJWKSCacheTTL is how long fetched keys are used before they
	// are fetched again.
	DefaultJWKSCacheTTL = 24 * time.Hour
	// DefaultJWKSMinRefetch is the shortest time between two fetches
	// caused by signatures no cached key verifies.
	DefaultJWKSMinRefetch = time.Minute
	// DefaultJWKSTimeout bounds one fetch of the keys.
	DefaultJWKSTimeout = 10 * time.Second
)

// maxJWKS bounds the JWKS document read.
const maxJWKS = 1 << 20

// Errors of Verify; a handler answers them with 401 (or 400) and does not
// act on the delivery. A failure to fetch the keys is none of them: answer
// it with a 5xx so fal delivers again.
var (
	// ErrBadSignature: the signature is not one of fal's keys' over this
	// body and these headers (a forged or altered delivery).
	ErrBadSignature = errors.New("the webhook signature does not verify with fal's keys")
	// ErrStaleWebhook: the signed timestamp is too far from now (a
	// replayed delivery, or a clock far off).
	ErrStaleWebhook = errors.New("the webhook timestamp is too far from now")
	// ErrMalformedWebhook: fal's headers are missing or unreadable, or the
	// body is not fal's webhook JSON for the signed request id.
	ErrMalformedWebhook = errors.New("the webhook is not a well-formed fal delivery")
	// ErrWrongUser: the delivery is signed by fal for another fal account
	// than VerifierConfig.UserID.
	ErrWrongUser = errors.New("the webhook is for another fal user")
)

// Webhook statuses.
const (
	WebhookOK    = "OK"
	WebhookError = "ERROR"
)

// VerifierConfig configures a Verifier. Zero values take the defaults.
type VerifierConfig struct {
	// JWKSURL publishes fal's webhook keys (DefaultJWKSURL).
	JWKSURL string
	// HTTPClient fetches the keys; nil uses a plain client.
	HTTPClient *http.Client
	// Timeout bounds one fetch of the keys (DefaultJWKSTimeout).
	Timeout time.Duration
	// Tolerance is how far the timestamp may be from now
	// (DefaultWebhookTolerance).
	Tolerance time.Duration
	// CacheTTL is how long fetched keys are used (DefaultJWKSCacheTTL).
	CacheTTL time.Duration
	// MinRefetch is the shortest time between fetches caused by a
	// signature no cached key verifies, as after a key rotation
	// (DefaultJWKSMinRefetch); it stops forged deliveries from making the
	// verifier fetch on every request.
	MinRefetch time.Duration
	// UserID, when set, is the fal user (X-Fal-Webhook-User-Id) whose
	// deliveries are accepted; others fail with ErrWrongUser.
	UserID string
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// Log receives one line per fetch of the keys; nil discards.
	Log *slog.Logger
}

// Verifier checks fal's webhook deliveries against fal's published keys,
// which it caches. It is safe for concurrent use.
type Verifier struct {
	cfg VerifierConfig

	fetchMu sync.Mutex // held while fetching, so one fetch runs at a time

	mu      sync.Mutex
	keys    []ed25519.PublicKey
	fetched time.Time
}

// NewVerifier checks cfg, fills its defaults and returns a Verifier. It
// fetches nothing until the first delivery.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	cfg = cfg.withDefaults()
	if err := checkHTTPURL(cfg.JWKSURL); err != nil {
		return nil, fmt.Errorf("webhook verifier: JWKS URL: %w", err)
	}
	return &Verifier{cfg: cfg}, nil
}

func (c VerifierConfig) withDefaults() VerifierConfig {
	c.JWKSURL = or(c.JWKSURL, DefaultJWKSURL)
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	c.Timeout = orDur(c.Timeout, DefaultJWKSTimeout)
	c.Tolerance = orDur(c.Tolerance, DefaultWebhookTolerance)
	c.CacheTTL = orDur(c.CacheTTL, DefaultJWKSCacheTTL)
	c.MinRefetch = orDur(c.MinRefetch, DefaultJWKSMinRefetch)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// WebhookPayload is a verified webhook delivery.
type WebhookPayload struct {
	// RequestID is the request's id, as Submit returned it.
	RequestID string
	// GatewayRequestID is the id of the last try when fal retried it.
	GatewayRequestID string
	// UserID is the fal user the delivery is for.
	UserID string
	// Status is WebhookOK or WebhookError.
	Status string
	// Payload is the model's output (OK), or its error detail (ERROR);
	// null when fal could not serialize it (see PayloadError).
	Payload json.RawMessage
	// Error is fal's error message, e.g. "Invalid status code: 422".
	Error string
	// PayloadError is why the payload is null, when it is.
	PayloadError string
}

// webhookJSON is the body of a fal webhook.
type webhookJSON struct {
	RequestID        string          `json:"request_id"`
	GatewayRequestID string          `json:"gateway_request_id"`
	Status           string          `json:"status"`
	Payload          json.RawMessage `json:"payload"`
	Error            string          `json:"error"`
	PayloadError     string          `json:"payload_error"`
}

// Verify checks a delivery's headers and exact body bytes: fal's four
// headers are present, the timestamp is within the tolerance, and the
// signature verifies with one of fal's keys (fetched again, at most every
// MinRefetch, when none of the cached keys verifies it). It returns the
// decoded delivery, or ErrMalformedWebhook, ErrWrongUser, ErrStaleWebhook
// or ErrBadSignature, or an error fetching the keys.
func (v *Verifier) Verify(ctx context.Context, header http.Header, body []byte) (WebhookPayload, error) {
	h, err := v.readHeaders(header)
	if err != nil {
		return WebhookPayload{}, fmt.Errorf("verify a fal webhook: %w", err)
	}
	op := "verify the fal webhook of request " + h.requestID
	sum := sha256.Sum256(body)
	msg := strings.Join([]string{h.requestID, h.userID, h.timestamp, hex.EncodeToString(sum[:])}, "\n")
	if err := v.check(ctx, []byte(msg), h.signature); err != nil {
		return WebhookPayload{}, fmt.Errorf("%s: %w", op, err)
	}
	var w webhookJSON
	if err := json.Unmarshal(body, &w); err != nil {
		return WebhookPayload{}, fmt.Errorf("%s: %w (the body is not JSON: %v)", op, ErrMalformedWebhook, err)
	}
	if w.RequestID != h.requestID || (w.Status != WebhookOK && w.Status != WebhookError) {
		return WebhookPayload{}, fmt.Errorf("%s: %w (body request %q, status %q)", op, ErrMalformedWebhook,
			w.RequestID, w.Status)
	}
	return WebhookPayload{RequestID: w.RequestID, GatewayRequestID: or(w.GatewayRequestID, w.RequestID),
		UserID: h.userID, Status: w.Status, Payload: w.Payload, Error: w.Error, PayloadError: w.PayloadError}, nil
}

// webhookHeaders are fal's signature headers of a delivery.
type webhookHeaders struct {
	requestID, userID, timestamp string
	signature                    []byte
}

// readHeaders reads and checks the headers: present, for the configured
// user, within the tolerance, with a signature of the right length.
func (v *Verifier) readHeaders(header http.Header) (webhookHeaders, error) {
	h := webhookHeaders{requestID: header.Get("X-Fal-Webhook-Request-Id"), userID: header.Get("X-Fal-Webhook-User-Id"),
		timestamp: header.Get("X-Fal-Webhook-Timestamp")}
	sigHex := header.Get("X-Fal-Webhook-Signature")
	if h.requestID == "" || h.userID == "" || h.timestamp == "" || sigHex == "" {
		return h, fmt.Errorf("%w (an X-Fal-Webhook-Request-Id, -User-Id, -Timestamp or -Signature header is missing)",
			ErrMalformedWebhook)
	}
	if v.cfg.UserID != "" && h.userID != v.cfg.UserID {
		return h, fmt.Errorf("%w (%q)", ErrWrongUser, h.userID)
	}
	secs, err := strconv.ParseInt(h.timestamp, 10, 64)
	if err != nil {
		return h, fmt.Errorf("%w (timestamp %q is not Unix seconds)", ErrMalformedWebhook, h.timestamp)
	}
	if skew := v.cfg.Now().Sub(time.Unix(secs, 0)).Abs(); skew > v.cfg.Tolerance {
		return h, fmt.Errorf("%w (%s off, more than %s)", ErrStaleWebhook, skew.Round(time.Second), v.cfg.Tolerance)
	}
	h.signature, err = hex.DecodeString(sigHex)
	if err != nil || len(h.signature) != ed25519.SignatureSize {
		return h, fmt.Errorf("%w (the signature is not %d hex-encoded bytes)", ErrBadSignature, ed25519.SignatureSize)
	}
	return h, nil
}

// check verifies sig over msg with the cached keys, fetching them when
// there are none or they are old, and again (at most every MinRefetch)
// when none verifies.
func (v *Verifier) check(ctx context.Context, msg, sig []byte) error {
	keys, fetched, err := v.currentKeys(ctx)
	if err != nil {
		return err
	}
	if verifyAny(keys, msg, sig) {
		return nil
	}
	if v.cfg.Now().Sub(fetched) < v.cfg.MinRefetch {
		return ErrBadSignature
	}
	keys, err = v.refresh(ctx, fetched)
	if err != nil {
		return err
	}
	if verifyAny(keys, msg, sig) {
		return nil
	}
	return ErrBadSignature
}

func verifyAny(keys []ed25519.PublicKey, msg, sig []byte) bool {
	for _, k := range keys {
		if ed25519.Verify(k, msg, sig) {
			return true
		}
	}
	return false
}

// currentKeys returns the cached keys and when they were fetched,
// fetching them first when there are none or they are past CacheTTL.
func (v *Verifier) currentKeys(ctx context.Context) ([]ed25519.PublicKey, time.Time, error) {
	v.mu.Lock()
	keys, fetched := v.keys, v.fetched
	v.mu.Unlock()
	if len(keys) > 0 && v.cfg.Now().Sub(fetched) < v.cfg.CacheTTL {
		return keys, fetched, nil
	}
	keys, err := v.refresh(ctx, fetched)
	if err != nil {
		return nil, time.Time{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return keys, v.fetched, nil
}

// refresh fetches the keys unless another caller did since seen.
func (v *Verifier) refresh(ctx context.Context, seen time.Time) ([]ed25519.PublicKey, error) {
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	v.mu.Lock()
	keys, fetched := v.keys, v.fetched
	v.mu.Unlock()
	if fetched.After(seen) && len(keys) > 0 {
		return keys, nil
	}
	keys, err := v.fetch(ctx)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	v.keys, v.fetched = keys, v.cfg.Now()
	v.mu.Unlock()
	v.cfg.Log.Info("fetched fal's webhook keys", "url", v.cfg.JWKSURL, "keys", len(keys))
	return keys, nil
}

// jwks is a JSON Web Key Set of Ed25519 keys.
type jwks struct {
	Keys []struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
	} `json:"keys"`
}

// fetch downloads the JWKS and returns its Ed25519 keys.
func (v *Verifier) fetch(ctx context.Context) ([]ed25519.PublicKey, error) {
	op := "fetch fal's webhook keys from " + v.cfg.JWKSURL
	body, err := v.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var set jwks
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("%s: the answer is not a JWKS: %w", op, err)
	}
	var keys []ed25519.PublicKey
	for _, k := range set.Keys {
		x, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.X, "="))
		if k.Kty == "OKP" && k.Crv == "Ed25519" && err == nil && len(x) == ed25519.PublicKeySize {
			keys = append(keys, ed25519.PublicKey(x))
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: the set has no Ed25519 key", op)
	}
	return keys, nil
}

func (v *Verifier) get(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return nil, err
	}
	res, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", res.StatusCode)
	}
	return io.ReadAll(io.LimitReader(res.Body, maxJWKS))
}

// Result returns the video of an OK delivery, or the failure of an ERROR
// one as a provider problem: ai.ErrContentRejected for a content-policy
// refusal, ai.ErrProviderRequestRejected for another 4xx from the model,
// ai.ErrProviderUnavailable otherwise.
func (p WebhookPayload) Result() (Result, error) {
	if p.Status == WebhookOK {
		res, err := ParseResult(p.Payload)
		if err != nil {
			return Result{}, fmt.Errorf("read the fal webhook of request %s: %w", p.RequestID, err)
		}
		return res, nil
	}
	return Result{}, fmt.Errorf("fal request %s failed: %w", p.RequestID, p.failure())
}

// failure maps an ERROR delivery to its provider problem, reading the
// model's status code from the error message and its detail from the
// payload.
func (p WebhookPayload) failure() error {
	se := newStatusError(webhookStatusCode(p.Error), http.Header{}, p.Payload)
	if len(p.Payload) == 0 || string(p.Payload) == "null" {
		se.detail = or(p.PayloadError, p.Error)
	}
	return statusProblem(se)
}

// webhookStatusCode reads the model's HTTP status from fal's webhook
// error, e.g. 422 from "Invalid status code: 422"; 500 when it has none.
func webhookStatusCode(msg string) int {
	_, after, ok := strings.Cut(strings.ToLower(msg), "status code")
	after = strings.TrimLeft(after, ": ")
	if !ok || len(after) < 3 {
		return http.StatusInternalServerError
	}
	code, err := strconv.Atoi(after[:3])
	if err != nil || code < 400 || code > 599 {
		return http.StatusInternalServerError
	}
	return code
}

// Verify checks a webhook delivery with the client's Verifier, built from
// Config.JWKSURL and Config.HTTPClient (see Verifier.Verify).
func (c *Client) Verify(ctx context.Context, header http.Header, body []byte) (WebhookPayload, error) {
	return c.verifier.Verify(ctx, header, body)
}
