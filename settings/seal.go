package settings

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/kilnhq/kiln/internal/problem"
)

// sealer encrypts API keys with AES-256-GCM. Each sealed value is a random
// 12-byte nonce followed by the ciphertext and tag; the additional data
// binds it to its tenant and provider, so a row copied to another tenant
// does not open.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("build the AES cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("build AES-GCM: %w", err)
	}
	return &sealer{aead: aead}, nil
}

// seal encrypts plaintext for tenant and provider.
func (s *sealer) seal(plaintext, tenantID, provider string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("draw a nonce: %w", err)
	}
	return s.aead.Seal(nonce, nonce, []byte(plaintext), aad(tenantID, provider)), nil
}

// errUnsealable: the stored key does not open with this installation's
// encryption key (it was changed, or the row was tampered with).
var errUnsealable = errors.New("the stored API key cannot be decrypted with KILN_ENCRYPTION_KEY (was the key changed?)")

// open decrypts a sealed value for tenant and provider.
func (s *sealer) open(sealed []byte, tenantID, provider string) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return "", errUnsealable
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], aad(tenantID, provider))
	if err != nil {
		return "", errUnsealable
	}
	return string(plain), nil
}

// Seal encrypts a secret of the tenant for scope (a name that binds it, such
// as "kb:" and a knowledge base id), for packages that keep their own
// secrets; it needs KILN_ENCRYPTION_KEY.
func (s *Service) Seal(tenantID, scope, secret string) ([]byte, error) {
	if s.sealer == nil {
		return nil, ErrEncryptionNotConfigured
	}
	return s.sealer.seal(secret, tenantID, scope)
}

// Open decrypts what Seal sealed for the same tenant and scope.
func (s *Service) Open(tenantID, scope string, sealed []byte) (string, error) {
	if s.sealer == nil {
		return "", ErrEncryptionNotConfigured
	}
	key, err := s.sealer.open(sealed, tenantID, scope)
	if err != nil {
		return "", problem.New(problem.Unavailable, "secret_unreadable", err.Error())
	}
	return key, nil
}

// Hint is what may be shown of a secret: "…" and its last four characters.
func Hint(secret string) string { return hint(secret) }

func aad(tenantID, provider string) []byte {
	return []byte("kiln-integration\x00" + tenantID + "\x00" + provider)
}

// hint is what may be shown of a key: its last four characters.
func hint(key string) string {
	if len(key) <= 8 {
		return "…"
	}
	return "…" + key[len(key)-4:]
}
