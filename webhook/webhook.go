// Package webhook signs and verifies webhooks as the Standard Webhooks
// specification (https://www.standardwebhooks.com) defines them. Kiln signs
// its deliveries with it; receivers written in Go can verify them with it.
//
// A delivery carries three headers: webhook-id (the event's id, the same on
// every retry), webhook-timestamp (unix seconds) and webhook-signature, a
// space-separated list of "v1,<base64 HMAC-SHA256 of id.timestamp.body>",
// one per signing secret (several while a secret is being rotated). Secrets
// are "whsec_" followed by the base64 of 24 to 64 random bytes.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names, as the specification spells them.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every serialized signing secret.
const SecretPrefix = "whsec_"

// DefaultTolerance is how far a timestamp may be from the receiver's clock,
// in either direction, before Verify refuses it as a possible replay.
const DefaultTolerance = 5 * time.Minute

// Key sizes in bytes, per the specification.
const (
	secretBytes = 32
	minKeyBytes = 24
	maxKeyBytes = 64
)

// signatureVersion marks HMAC-SHA256 signatures.
const signatureVersion = "v1"

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrMissingHeaders: webhook-id, webhook-timestamp or webhook-signature
	// is absent or empty.
	ErrMissingHeaders = errors.New("missing webhook headers")
	// ErrInvalidTimestamp: webhook-timestamp is not an integer.
	ErrInvalidTimestamp = errors.New("invalid webhook timestamp")
	// ErrTimestampTooOld: the timestamp is older than the tolerance.
	ErrTimestampTooOld = errors.New("webhook timestamp too old")
	// ErrTimestampTooNew: the timestamp is further in the future than the
	// tolerance.
	ErrTimestampTooNew = errors.New("webhook timestamp too new")
	// ErrInvalidSignature: no v1 signature matches any of the secrets.
	ErrInvalidSignature = errors.New("no matching webhook signature")
	// ErrInvalidSecret: a secret is not base64 of 24 to 64 bytes (with or
	// without the whsec_ prefix).
	ErrInvalidSecret = errors.New("invalid webhook secret")
	// ErrInvalidMessageID: Sign was given an empty id or one containing "."
	// or white space, which would make the signed content ambiguous.
	ErrInvalidMessageID = errors.New("invalid webhook message id")
)

// NewSecret returns a new signing secret: "whsec_" and the base64 of 32
// random bytes.
func NewSecret() (string, error) {
	key := make([]byte, secretBytes)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("generate webhook secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// parseSecret returns the key bytes of secret. The whsec_ prefix is
// optional, as in the reference libraries.
func parseSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, fmt.Errorf("%w: not base64 after the %s prefix", ErrInvalidSecret, SecretPrefix)
	}
	if len(key) < minKeyBytes || len(key) > maxKeyBytes {
		return nil, fmt.Errorf("%w: %d bytes, want %d to %d", ErrInvalidSecret, len(key), minKeyBytes, maxKeyBytes)
	}
	return key, nil
}

// mac returns the HMAC-SHA256 of "id.timestamp.body" under key.
func mac(key []byte, msgID string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msgID))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, unix, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Sign returns the signature "v1,<base64>" of body sent as message msgID at
// ts, under secret.
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	if msgID == "" || strings.ContainsAny(msgID, ". \t\r\n") {
		return "", fmt.Errorf("sign webhook %q: %w", msgID, ErrInvalidMessageID)
	}
	key, err := parseSecret(secret)
	if err != nil {
		return "", fmt.Errorf("sign webhook %s: %w", msgID, err)
	}
	sum := mac(key, msgID, ts.Unix(), body)
	return signatureVersion + "," + base64.StdEncoding.EncodeToString(sum), nil
}

// Headers returns the three webhook headers for body sent as message msgID
// at ts, signed with every secret (during a rotation, the new and the old
// one), signatures separated by spaces.
func Headers(secrets []string, msgID string, ts time.Time, body []byte) (http.Header, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("sign webhook %s: %w: no secret given", msgID, ErrInvalidSecret)
	}
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Sign(s, msgID, ts, body)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, sig)
	}
	h := http.Header{}
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, strings.Join(sigs, " "))
	return h, nil
}
