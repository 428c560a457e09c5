package ai

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kilnhq/kiln/internal/ids"
)

// Limiter caps the requests in flight to one provider. Acquire waits for a
// slot until ctx ends and returns a function that gives it back; calling
// that function more than once is harmless.
type Limiter interface {
	Acquire(ctx context.Context) (release func(), err error)
}

// Defaults of RedisLimiterConfig.
const (
	DefaultLimiterLease   = 30 * time.Second
	DefaultLimiterMinWait = 25 * time.Millisecond
	DefaultLimiterMaxWait = time.Second
)

// RedisLimiterConfig configures a RedisLimiter.
type RedisLimiterConfig struct {
	// Key is the Redis key of the semaphore, one per provider, e.g.
	// "kiln:ai:limit:openai"; every worker that shares the provider must
	// use the same key and limit.
	Key string
	// Limit is the number of slots; required.
	Limit int
	// Lease is how long a slot stays taken without a refresh. A holder
	// refreshes it every Lease/3, so only a crashed worker's slot expires.
	Lease time.Duration
	// MinWait and MaxWait bound the backoff between tries to acquire.
	MinWait time.Duration
	MaxWait time.Duration
	// Log receives lost leases and failed refreshes; nil discards.
	Log *slog.Logger
}

// RedisLimiter is a counting semaphore in Redis shared by all workers: a
// sorted set of holders scored by the expiry of their lease, in Redis
// server time. Acquiring first drops expired holders, then joins when
// fewer than Limit remain.
type RedisLimiter struct {
	rdb redis.UniversalClient
	cfg RedisLimiterConfig
}

// acquireScript: KEYS[1] the set; ARGV lease ms, limit, holder. Returns 1
// when the holder got a slot.
var acquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], lease)
  return 1
end
return 0`)

// refreshScript: KEYS[1] the set; ARGV lease ms, holder. Returns 0 when
// the holder had lost its slot.
var refreshScript = redis.NewScript(`
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[2])
if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
return 1`)

// NewRedisLimiter checks cfg, fills its defaults and returns a limiter
// over rdb.
func NewRedisLimiter(rdb redis.UniversalClient, cfg RedisLimiterConfig) (*RedisLimiter, error) {
	if cfg.Key == "" || cfg.Limit <= 0 {
		return nil, fmt.Errorf("redis limiter: a key and a positive limit are required (key %q, limit %d)", cfg.Key, cfg.Limit)
	}
	cfg.Lease = orDur(cfg.Lease, DefaultLimiterLease)
	cfg.MinWait = orDur(cfg.MinWait, DefaultLimiterMinWait)
	cfg.MaxWait = orDur(cfg.MaxWait, DefaultLimiterMaxWait)
	if cfg.Lease < 30*time.Millisecond {
		return nil, fmt.Errorf("redis limiter: lease %s is too short to refresh", cfg.Lease)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &RedisLimiter{rdb: rdb, cfg: cfg}, nil
}

// Acquire waits, with backoff, for a slot until ctx ends. The slot's lease
// is refreshed until release is called.
func (l *RedisLimiter) Acquire(ctx context.Context) (func(), error) {
	holder := ids.New("slot")
	wait := l.cfg.MinWait
	for {
		ok, err := acquireScript.Run(ctx, l.rdb, []string{l.cfg.Key}, l.cfg.Lease.Milliseconds(), l.cfg.Limit, holder).Int()
		if err != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("acquire a slot of %s: %w", l.cfg.Key, err)
		}
		if ok == 1 {
			return l.hold(ctx, holder), nil
		}
		if err := Sleep(ctx, wait/2+rand.N(wait/2+1)); err != nil {
			return nil, fmt.Errorf("wait for a slot of %s: %w", l.cfg.Key, err)
		}
		wait = min(wait*2, l.cfg.MaxWait)
	}
}

// hold refreshes the holder's lease until the returned release is called,
// which removes the holder.
func (l *RedisLimiter) hold(ctx context.Context, holder string) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go l.refresh(context.WithoutCancel(ctx), holder, stop, done)
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-done
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := l.rdb.ZRem(rctx, l.cfg.Key, holder).Err(); err != nil {
				l.cfg.Log.Warn("release provider slot failed; it expires with its lease", "key", l.cfg.Key, "err", err)
			}
		})
	}
}

// refresh extends the lease every Lease/3 until stop closes.
func (l *RedisLimiter) refresh(ctx context.Context, holder string, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(l.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ok, err := refreshScript.Run(ctx, l.rdb, []string{l.cfg.Key}, l.cfg.Lease.Milliseconds(), holder).Int()
		switch {
		case err != nil && !errors.Is(err, redis.Nil):
			l.cfg.Log.Warn("refresh provider slot failed", "key", l.cfg.Key, "err", err)
		case ok == 0:
			l.cfg.Log.Warn("provider slot lease was lost; the limit may be exceeded until this call ends", "key", l.cfg.Key)
			return
		}
	}
}
