package ai_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/ai/aitest"
	"github.com/kilnhq/kiln/internal/testkit"
)

func newLimiter(t *testing.T, rdb redis.UniversalClient, cfg ai.RedisLimiterConfig) *ai.RedisLimiter {
	t.Helper()
	cfg.Log = testkit.Logger(t)
	l, err := ai.NewRedisLimiter(rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestRedisLimiterNeverExceedsLimit(t *testing.T) {
	r := testkit.NewRedis(t)
	key := r.Prefix + "ai:limit"
	// Two limiters on one key stand for two workers.
	workers := []*ai.RedisLimiter{
		newLimiter(t, r.Client, ai.RedisLimiterConfig{Key: key, Limit: 3, MinWait: 5 * time.Millisecond, MaxWait: 20 * time.Millisecond}),
		newLimiter(t, r.Client, ai.RedisLimiterConfig{Key: key, Limit: 3, MinWait: 5 * time.Millisecond, MaxWait: 20 * time.Millisecond}),
	}
	var inFlight, peak atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := range 12 {
		wg.Go(func() {
			release, err := workers[i%2].Acquire(context.Background())
			if err != nil {
				errs <- err
				return
			}
			n := inFlight.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(30 * time.Millisecond)
			inFlight.Add(-1)
			release()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := peak.Load(); got != 3 {
		t.Errorf("peak of %d calls in flight, want exactly the limit of 3", got)
	}
	if n := r.Client.ZCard(context.Background(), key).Val(); n != 0 {
		t.Errorf("%d holders left after every release, want 0", n)
	}
}

func TestRedisLimiterExpiredLeaseFreesSlot(t *testing.T) {
	r := testkit.NewRedis(t)
	ctx := context.Background()
	key := r.Prefix + "ai:limit"
	// A worker that crashed holding the only slot: its lease ends in 300 ms
	// and nobody refreshes it.
	now, err := r.Client.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	r.Client.ZAdd(ctx, key, redis.Z{Score: float64(now.Add(300 * time.Millisecond).UnixMilli()), Member: "crashed-worker"})
	l := newLimiter(t, r.Client, ai.RedisLimiterConfig{Key: key, Limit: 1, MinWait: 10 * time.Millisecond, MaxWait: 50 * time.Millisecond})
	start := time.Now()
	release, err := l.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if elapsed := time.Since(start); elapsed < 200*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("acquired after %v, want once the crashed lease expired (~300ms)", elapsed)
	}
	if members := r.Client.ZRange(ctx, key, 0, -1).Val(); len(members) != 1 || members[0] == "crashed-worker" {
		t.Errorf("holders %v, want only the new one", members)
	}
}

func TestRedisLimiterRefreshesHeldLease(t *testing.T) {
	r := testkit.NewRedis(t)
	key := r.Prefix + "ai:limit"
	cfg := ai.RedisLimiterConfig{Key: key, Limit: 1, Lease: 150 * time.Millisecond, MinWait: 10 * time.Millisecond}
	holder, waiter := newLimiter(t, r.Client, cfg), newLimiter(t, r.Client, cfg)
	release, err := holder.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Held for 4 leases: the refresh must keep the slot taken.
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	if _, err := waiter.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second acquire while the slot is held: err = %v, want the deadline", err)
	}
	release()
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	release2, err := waiter.Acquire(ctx2)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	release2()
}

func TestRedisLimiterStopsWaitingOnCancel(t *testing.T) {
	r := testkit.NewRedis(t)
	l := newLimiter(t, r.Client, ai.RedisLimiterConfig{Key: r.Prefix + "ai:limit", Limit: 1})
	release, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err = l.Acquire(ctx)
	if !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Fatalf("err = %v after %v, want context.Canceled soon after the cancel", err, time.Since(start))
	}
}

func TestProviderUsesLimiter(t *testing.T) {
	r := testkit.NewRedis(t)
	srv := aitest.New(t)
	srv.Delay(aitest.PathChat, 150*time.Millisecond)
	l := newLimiter(t, r.Client, ai.RedisLimiterConfig{Key: r.Prefix + "ai:limit", Limit: 1, MinWait: 5 * time.Millisecond, MaxWait: 20 * time.Millisecond})
	p := newProvider(t, srv, func(c *ai.ProviderConfig) { c.Limiter = l })
	start := time.Now()
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if _, err := p.Chat(context.Background(), ai.ChatRequest{Messages: []ai.Message{{Text: "hi"}}}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// One slot: the three 150 ms calls run one after another.
	if elapsed := time.Since(start); elapsed < 450*time.Millisecond {
		t.Errorf("3 calls through a limit of 1 took %v, want at least 450ms", elapsed)
	}
}

func TestNewRedisLimiterChecksConfig(t *testing.T) {
	r := testkit.NewRedis(t)
	for _, cfg := range []ai.RedisLimiterConfig{{Limit: 1}, {Key: "k"}, {Key: "k", Limit: 1, Lease: time.Millisecond}} {
		if _, err := ai.NewRedisLimiter(r.Client, cfg); err == nil {
			t.Errorf("config %+v accepted, want an error", cfg)
		}
	}
}
