package webhook

import (
	"crypto/hmac"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Verifier checks webhook signatures against one or more secrets. Build it
// with NewVerifier; it is safe for concurrent use once its fields are set.
type Verifier struct {
	// Tolerance is how far webhook-timestamp may be from Now in either
	// direction. Zero or negative means DefaultTolerance.
	Tolerance time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	keys [][]byte
}

// NewVerifier returns a Verifier accepting a signature made with any of
// secrets (a receiver keeps the old and the new secret while rotating).
// Secrets may omit the whsec_ prefix.
func NewVerifier(secrets ...string) (*Verifier, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("new webhook verifier: %w: no secret given", ErrInvalidSecret)
	}
	keys := make([][]byte, 0, len(secrets))
	for i, s := range secrets {
		key, err := parseSecret(s)
		if err != nil {
			return nil, fmt.Errorf("new webhook verifier: secret %d: %w", i+1, err)
		}
		keys = append(keys, key)
	}
	return &Verifier{keys: keys}, nil
}

// Verify checks header and body with one secret and the default tolerance.
// See Verifier.Verify.
func Verify(secret string, header http.Header, body []byte) error {
	v, err := NewVerifier(secret)
	if err != nil {
		return err
	}
	return v.Verify(header, body)
}

// Verify checks that header carries a fresh timestamp and at least one v1
// signature of body that matches one of the secrets. Signatures of other
// versions are ignored. body must be the raw request body, exactly as
// received. Errors wrap ErrMissingHeaders, ErrInvalidTimestamp,
// ErrTimestampTooOld, ErrTimestampTooNew or ErrInvalidSignature.
func (v *Verifier) Verify(header http.Header, body []byte) error {
	msgID := header.Get(HeaderID)
	rawTS := header.Get(HeaderTimestamp)
	sigs := strings.Fields(strings.Join(header.Values(HeaderSignature), " "))
	if err := requireHeaders(msgID, rawTS, sigs); err != nil {
		return err
	}
	unix, err := v.checkTimestamp(rawTS)
	if err != nil {
		return fmt.Errorf("verify webhook %s: %w", msgID, err)
	}
	for _, key := range v.keys {
		if matchAny(sigs, mac(key, msgID, unix, body)) {
			return nil
		}
	}
	return fmt.Errorf("verify webhook %s: %w", msgID, ErrInvalidSignature)
}

// requireHeaders names the missing headers, if any.
func requireHeaders(msgID, rawTS string, sigs []string) error {
	var missing []string
	if msgID == "" {
		missing = append(missing, HeaderID)
	}
	if rawTS == "" {
		missing = append(missing, HeaderTimestamp)
	}
	if len(sigs) == 0 {
		missing = append(missing, HeaderSignature)
	}
	if len(missing) > 0 {
		return fmt.Errorf("verify webhook: %w: %s", ErrMissingHeaders, strings.Join(missing, ", "))
	}
	return nil
}

// checkTimestamp parses rawTS and checks it is within the tolerance.
func (v *Verifier) checkTimestamp(rawTS string) (int64, error) {
	unix, err := strconv.ParseInt(rawTS, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrInvalidTimestamp, rawTS)
	}
	now, tol := v.clock(), v.tolerance()
	ts := time.Unix(unix, 0)
	switch {
	case now.Sub(ts) > tol:
		return 0, fmt.Errorf("%w: %s is more than %s before now", ErrTimestampTooOld, ts.UTC().Format(time.RFC3339), tol)
	case ts.Sub(now) > tol:
		return 0, fmt.Errorf("%w: %s is more than %s after now", ErrTimestampTooNew, ts.UTC().Format(time.RFC3339), tol)
	}
	return unix, nil
}

// matchAny reports whether one of the "version,base64" entries in sigs is a
// v1 signature equal to want, compared in constant time.
func matchAny(sigs []string, want []byte) bool {
	for _, s := range sigs {
		version, encoded, ok := strings.Cut(s, ",")
		if !ok || version != signatureVersion {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// clock returns the current time.
func (v *Verifier) clock() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// tolerance returns the effective timestamp tolerance.
func (v *Verifier) tolerance() time.Duration {
	if v.Tolerance > 0 {
		return v.Tolerance
	}
	return DefaultTolerance
}
