// Package ratelimit limits how often a tenant (or, on the auth routes, a
// client IP) may call the API, per scope: ai, content, auth and general.
// It uses GCRA in Redis (go-redis/redis_rate), so every API process shares
// one budget. Limits default to KILN_RATE_LIMITS and can be set per tenant;
// it owns the tenant_rate_limits table. While Redis is unreachable it fails
// open: requests pass, unlimited, and the failure is logged and counted.
package ratelimit

import (
	"cmp"
	"context"
	"embed"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/kilnhq/kiln/internal/metrics"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the package's migration files for pg.NewMigrator.
func Migrations() pg.Source {
	return pg.Source{Owner: "ratelimit", FS: migrations, Dir: "migrations"}
}

// The scopes a route belongs to.
const (
	ScopeAI      = "ai"
	ScopeContent = "content"
	ScopeAuth    = "auth"
	ScopeGeneral = "general"
)

// Scopes lists every scope, in the order answers show them.
var Scopes = []string{ScopeAI, ScopeContent, ScopeAuth, ScopeGeneral}

// Config tunes the limiter.
type Config struct {
	// Defaults are requests per minute per scope.
	Defaults map[string]int
	// Namespace prefixes the Redis keys.
	Namespace string
	// RedisTimeout bounds one decision; past it the request passes.
	// Default 100ms.
	RedisTimeout time.Duration
	// CacheTTL is how long a process trusts a tenant's overrides. Default 10s.
	CacheTTL time.Duration
}

// Limiter decides whether a request may proceed.
type Limiter struct {
	cfg     Config
	db      *pgxpool.Pool
	redis   *redis.Client
	limiter *redis_rate.Limiter
	log     *slog.Logger
	metrics *metrics.Metrics

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	limits  map[string]int
	expires time.Time
}

// New returns a limiter over Redis with tenant overrides in db.
func New(db *pgxpool.Pool, rdb *redis.Client, log *slog.Logger, m *metrics.Metrics, cfg Config) *Limiter {
	if cfg.RedisTimeout <= 0 {
		cfg.RedisTimeout = 100 * time.Millisecond
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 10 * time.Second
	}
	return &Limiter{cfg: cfg, db: db, redis: rdb, limiter: redis_rate.NewLimiter(rdb), log: log, metrics: m,
		cache: map[string]cached{}}
}

// Decision is the outcome of one check, with what the response headers say.
type Decision struct {
	Scope string
	// Allowed is false when the request must be refused with 429.
	Allowed bool
	// Limit is the scope's requests per minute; 0 when no decision could
	// be made (Redis unreachable) and no headers should be sent.
	Limit      int
	Remaining  int
	ResetAfter time.Duration
	RetryAfter time.Duration
}

// Allow counts one request of scope for subject (a tenant id, or "ip:" and
// an address on the auth routes) against tenantID's limit.
func (l *Limiter) Allow(ctx context.Context, scope, tenantID, subject string) Decision {
	perMinute, err := l.limitFor(ctx, tenantID, scope)
	if err != nil {
		l.log.WarnContext(ctx, "rate limit: read tenant limits; using the default", "tenant_id", tenantID, "err", err)
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RedisTimeout)
	defer cancel()
	res, err := l.limiter.Allow(ctx, l.key(scope, subject), redis_rate.PerMinute(perMinute))
	if err != nil {
		l.metrics.RateLimited.WithLabelValues(scope, "error").Inc()
		l.log.WarnContext(ctx, "rate limit: Redis unreachable; letting the request through", "scope", scope, "err", err)
		return Decision{Scope: scope, Allowed: true}
	}
	d := Decision{Scope: scope, Allowed: res.Allowed > 0, Limit: perMinute, Remaining: res.Remaining,
		ResetAfter: res.ResetAfter, RetryAfter: res.RetryAfter}
	if d.Allowed {
		l.metrics.RateLimited.WithLabelValues(scope, "allowed").Inc()
	} else {
		l.metrics.RateLimited.WithLabelValues(scope, "limited").Inc()
		l.recordLimited(ctx, scope, tenantID, subject)
	}
	return d
}

func (l *Limiter) key(scope, subject string) string {
	return l.cfg.Namespace + ":" + scope + ":" + subject
}

// limitFor is the tenant's requests per minute for scope.
func (l *Limiter) limitFor(ctx context.Context, tenantID, scope string) (int, error) {
	limits, err := l.overrides(ctx, tenantID)
	if n, ok := limits[scope]; ok {
		return n, err
	}
	if n := l.cfg.Defaults[scope]; n > 0 {
		return n, err
	}
	return l.cfg.Defaults[ScopeGeneral], err
}

// overrides returns a tenant's own limits, cached for CacheTTL.
func (l *Limiter) overrides(ctx context.Context, tenantID string) (map[string]int, error) {
	if tenantID == "" {
		return nil, nil
	}
	l.mu.Lock()
	c, ok := l.cache[tenantID]
	l.mu.Unlock()
	if ok && time.Now().Before(c.expires) {
		return c.limits, nil
	}
	limits, err := l.TenantLimits(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.cache[tenantID] = cached{limits: limits, expires: time.Now().Add(l.cfg.CacheTTL)}
	l.mu.Unlock()
	return limits, nil
}

// TenantLimits returns the scopes a tenant has its own limit for.
func (l *Limiter) TenantLimits(ctx context.Context, tenantID string) (map[string]int, error) {
	rows, err := l.db.Query(ctx, `SELECT scope, per_minute FROM tenant_rate_limits WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("read rate limits of %s: %w", tenantID, err)
	}
	out := map[string]int{}
	var scope string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&scope, &n}, func() error { out[scope] = n; return nil })
	if err != nil {
		return nil, fmt.Errorf("read rate limits of %s: %w", tenantID, err)
	}
	return out, nil
}

// Effective returns every scope's limit for a tenant: its own where set,
// else the default.
func (l *Limiter) Effective(ctx context.Context, tenantID string) (map[string]int, error) {
	own, err := l.TenantLimits(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(Scopes))
	for _, s := range Scopes {
		out[s] = l.cfg.Defaults[s]
		if n, ok := own[s]; ok {
			out[s] = n
		}
	}
	return out, nil
}

// SetTenantLimits replaces some of a tenant's limits: a positive number
// sets the scope's limit, nil returns it to the default.
func (l *Limiter) SetTenantLimits(ctx context.Context, tenantID string, limits map[string]*int) error {
	var f problem.FieldErrors
	for scope, n := range limits {
		if !validScope(scope) {
			f.Add(scope, "is not a rate-limit scope; use ai, content, auth or general")
		} else if n != nil && (*n <= 0 || *n > 1_000_000) {
			f.Add(scope, "must be between 1 and 1000000 requests per minute, or null for the default")
		}
	}
	if err := f.Err(); err != nil {
		return err
	}
	err := pg.InTx(ctx, l.db, func(tx pgx.Tx) error {
		for scope, n := range limits {
			if err := setOne(ctx, tx, tenantID, scope, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if pg.IsForeignKeyViolation(err) {
			return problem.NotFoundf("tenant")
		}
		return fmt.Errorf("set rate limits of %s: %w", tenantID, err)
	}
	l.mu.Lock()
	delete(l.cache, tenantID)
	l.mu.Unlock()
	// A new limit takes effect at once: GCRA state kept under the old rate
	// would otherwise hold the tenant back for up to a minute.
	for scope := range limits {
		if err := l.limiter.Reset(ctx, l.key(scope, tenantID)); err != nil {
			l.log.WarnContext(ctx, "rate limit: reset after a change", "tenant_id", tenantID, "scope", scope, "err", err)
		}
	}
	return nil
}

func setOne(ctx context.Context, tx pgx.Tx, tenantID, scope string, n *int) error {
	if n == nil {
		_, err := tx.Exec(ctx, `DELETE FROM tenant_rate_limits WHERE tenant_id = $1 AND scope = $2`, tenantID, scope)
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO tenant_rate_limits (tenant_id, scope, per_minute) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id, scope) DO UPDATE SET per_minute = EXCLUDED.per_minute, updated_at = now()`, tenantID, scope, *n)
	return err
}

func validScope(s string) bool {
	for _, v := range Scopes {
		if v == s {
			return true
		}
	}
	return false
}

// statsKey is the Redis hash of refusals in the minute starting at t.
func (l *Limiter) statsKey(t time.Time) string {
	return l.cfg.Namespace + ":ratelimit:stats:" + strconv.FormatInt(t.Unix()/60, 10)
}

// recordLimited counts a refusal for the monitoring endpoint; a failure
// only loses a statistic.
func (l *Limiter) recordLimited(ctx context.Context, scope, tenantID, subject string) {
	who := tenantID
	if who == "" {
		who = subject
	}
	key := l.statsKey(time.Now())
	_, err := l.redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HIncrBy(ctx, key, scope+"|"+who, 1)
		p.Expire(ctx, key, 2*time.Hour)
		return nil
	})
	if err != nil {
		l.log.WarnContext(ctx, "rate limit: record refusal", "err", err)
	}
}

// Stats are the refusals of the last hour, summed across every API process.
type Stats struct {
	Since time.Time `json:"since"`
	// Limited counts refusals per scope.
	Limited map[string]int64 `json:"limited"`
	// TopLimited are the tenants (or client IPs) refused most, per scope.
	TopLimited []Refused `json:"top_limited"`
	// Defaults are the deployment's requests per minute per scope.
	Defaults map[string]int `json:"defaults"`
}

// Refused is how often one tenant or client was refused in a scope.
type Refused struct {
	Scope   string `json:"scope"`
	Subject string `json:"subject"`
	Count   int64  `json:"count"`
}

// Stats sums the last hour's refusals from Redis.
func (l *Limiter) Stats(ctx context.Context) (Stats, error) {
	now := time.Now()
	out := Stats{Since: now.Add(-time.Hour).Truncate(time.Minute), Limited: map[string]int64{}, Defaults: l.cfg.Defaults}
	cmds := make([]*redis.MapStringStringCmd, 60)
	_, err := l.redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range cmds {
			cmds[i] = p.HGetAll(ctx, l.statsKey(now.Add(-time.Duration(i)*time.Minute)))
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("read rate-limit statistics: %w", err)
	}
	counts := map[Refused]int64{}
	for _, c := range cmds {
		for field, v := range c.Val() {
			scope, who, _ := strings.Cut(field, "|")
			n, _ := strconv.ParseInt(v, 10, 64)
			out.Limited[scope] += n
			counts[Refused{Scope: scope, Subject: who}] += n
		}
	}
	for r, n := range counts {
		r.Count = n
		out.TopLimited = append(out.TopLimited, r)
	}
	slices.SortFunc(out.TopLimited, func(a, b Refused) int { return cmp.Compare(b.Count, a.Count) })
	out.TopLimited = out.TopLimited[:min(len(out.TopLimited), 20)]
	return out, nil
}
