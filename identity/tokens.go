package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/kilnhq/kiln/internal/config"
	"github.com/kilnhq/kiln/internal/ids"
)

// AccessClaims are the claims of a Kiln access token. The subject is a user
// id (usr_…) or a service account id (sa_…).
type AccessClaims struct {
	jwt.RegisteredClaims
	TenantID  string `json:"tid,omitempty"`
	SessionID string `json:"sid,omitempty"`
}

// tokenKeys signs with the current secret and verifies with the current and
// previous ones, chosen by the token's kid header.
type tokenKeys struct {
	currentKID string
	keys       map[string][]byte
}

// newTokenKeys accepts an empty current secret for commands that sign
// nothing (migrate, admin); signing then fails with a clear error.
func newTokenKeys(current string, previous []string) (*tokenKeys, error) {
	k := &tokenKeys{keys: map[string][]byte{}}
	if current == "" {
		return k, nil
	}
	if err := config.ValidateSecret(current); err != nil {
		return nil, fmt.Errorf("KILN_JWT_SECRET %w", err)
	}
	k.currentKID = k.add(current)
	for _, p := range previous {
		k.add(p)
	}
	return k, nil
}

func (k *tokenKeys) add(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	kid := hex.EncodeToString(sum[:8])
	k.keys[kid] = []byte(secret)
	return kid
}

// signAccess issues an access token for subject in tenant and session.
func (s *Service) signAccess(subject, tenantID, sessionID string, now time.Time) (string, error) {
	if s.tokens.currentKID == "" {
		return "", errors.New("sign access token: KILN_JWT_SECRET is not set")
	}
	claims := AccessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.cfg.Issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{s.cfg.Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.AccessTTL)),
			ID:        ids.New("jti"),
		},
		TenantID:  tenantID,
		SessionID: sessionID,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = s.tokens.currentKID
	signed, err := tok.SignedString(s.tokens.keys[s.tokens.currentKID])
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return signed, nil
}

// parseAccess verifies an access token: HS256 only, a known kid, the
// configured issuer and audience, and an expiry in the future.
func (s *Service) parseAccess(raw string) (*AccessClaims, error) {
	claims := &AccessClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		key, ok := s.tokens.keys[kid]
		if !ok {
			return nil, errors.New("unknown key id")
		}
		return key, nil
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(s.cfg.Issuer),
		jwt.WithAudience(s.cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		return nil, ErrUnauthenticated
	}
	return claims, nil
}

// LooksLikeJWT reports whether a bearer credential has the shape of a JWT
// rather than of an opaque API key.
func LooksLikeJWT(raw string) bool {
	dots := 0
	for _, c := range raw {
		if c == '.' {
			dots++
		}
	}
	return dots == 2
}

// randomSecret returns prefix followed by n random bytes in URL-safe base64.
func randomSecret(prefix string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// hashSecret hashes a high-entropy secret (API key, refresh token, client
// secret) for storage and lookup. These are random, not chosen by people, so
// a fast hash is safe; passwords use argon2id instead.
func hashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}
