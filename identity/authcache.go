package identity

import (
	"sync"
	"time"
)

// authCache remembers resolved API keys for a short time, so a busy client
// does not cost a database query per request. Revoking a key or changing a
// tenant's status clears it in this process at once; other processes notice
// within the TTL. A TTL of zero turns it off.
type authCache struct {
	ttl time.Duration

	mu sync.Mutex
	m  map[string]cachedKey
}

type cachedKey struct {
	p        Principal
	lastUsed *time.Time
	until    time.Time
}

// authCacheMax bounds the cache; when full it starts over.
const authCacheMax = 10_000

func newAuthCache(ttl time.Duration) *authCache {
	return &authCache{ttl: ttl, m: map[string]cachedKey{}}
}

func (c *authCache) get(hash string) (cachedKey, bool) {
	if c.ttl <= 0 {
		return cachedKey{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if !ok || time.Now().After(e.until) {
		return cachedKey{}, false
	}
	return e, true
}

// put caches p until the TTL passes or the key expires, whichever is first.
func (c *authCache) put(hash string, p Principal, lastUsed, expires *time.Time) {
	if c.ttl <= 0 {
		return
	}
	until := time.Now().Add(c.ttl)
	if expires != nil && expires.Before(until) {
		until = *expires
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= authCacheMax {
		c.m = map[string]cachedKey{}
	}
	c.m[hash] = cachedKey{p: p, lastUsed: lastUsed, until: until}
}

// forget drops the entries of one API key, or every entry when keyID is "".
func (c *authCache) forget(keyID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if keyID == "" {
		c.m = map[string]cachedKey{}
		return
	}
	for h, e := range c.m {
		if e.p.ID == keyID {
			delete(c.m, h)
		}
	}
}
