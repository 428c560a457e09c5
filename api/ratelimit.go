package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/internal/ratelimit"
)

// aiRoutes start paid model work; they count against the ai scope. Any
// other POST under /sites, and every read there, is content.
var aiRoutes = map[string]bool{
	"POST /api/v1/jobs":                          true,
	"POST /api/v1/jobs/:id/retry":                true,
	"POST /api/v1/jobs/estimate":                 false,
	"POST /api/v1/sites/:site/posts/from-url":    true,
	"POST /api/v1/sites/:site/posts/from-pdf":    true,
	"POST /api/v1/sites/:site/posts/:id/recrawl": true,
	// RAG: indexing jobs embed (a paid provider call, unless hash), and a
	// search embeds its query.
	"POST /api/v1/knowledge-bases/:id/documents":                   true,
	"POST /api/v1/knowledge-bases/:id/reindex":                     true,
	"POST /api/v1/knowledge-bases/:id/search":                      true,
	"POST /api/v1/agents/:id/search":                               true,
	"POST /api/v1/agents/:id/knowledge-base/from-post/:post_id":    true,
	"POST /api/v1/agents/knowledge-base/:doc_id/compute-rag-index": true,
	// Generation: every route that submits a model job.
	"POST /api/v1/sites/:site/media/generate":                           true,
	"POST /api/v1/sites/:site/media/generatevideo":                      true,
	"POST /api/v1/sites/:site/media/tts":                                true,
	"POST /api/v1/sites/:site/media/:id/edit-with-ai":                   true,
	"POST /api/v1/sites/:site/media/:id/generate-metadata":              true,
	"POST /api/v1/sites/:site/posts/:id/transform":                      true,
	"POST /api/v1/sites/:site/seo/generatetext":                         true,
	"POST /api/v1/sites/:site/seo/analyze":                              true,
	"POST /api/v1/sites/:site/translations/posts/:id/translate":         true,
	"POST /api/v1/sites/:site/translations/posts/:id/sync-translations": true,
	"POST /api/v1/sites/:site/translations/media/:id/translate":         true,
	"POST /api/v1/sites/:site/translations/media/:id/sync-translations": true,
	"POST /api/v1/settings/integrations/test":                           true,
}

// scopeOf is the rate-limit scope of a route.
func scopeOf(method, route string) string {
	switch {
	case strings.HasPrefix(route, "/api/v1/auth/"):
		return ratelimit.ScopeAuth
	case aiRoutes[method+" "+route]:
		return ratelimit.ScopeAI
	case strings.HasPrefix(route, "/api/v1/sites"):
		return ratelimit.ScopeContent
	}
	return ratelimit.ScopeGeneral
}

// rateLimit counts an authenticated request against its tenant's limit
// for the route's scope.
func (s *Server) rateLimit(c *gin.Context) {
	p := caller(c)
	s.limitBy(c, scopeOf(c.Request.Method, c.FullPath()), p.TenantID, p.TenantID)
}

// rateLimitByIP counts a request to the auth routes against its client IP.
func (s *Server) rateLimitByIP(c *gin.Context) {
	s.limitBy(c, ratelimit.ScopeAuth, "", "ip:"+c.ClientIP())
}

// rateLimitCallbacks limits provider callbacks per client IP in the general
// scope: a provider sends one per finished request from a few addresses,
// more than the auth scope's budget allows.
func (s *Server) rateLimitCallbacks(c *gin.Context) {
	s.limitBy(c, ratelimit.ScopeGeneral, "", "callback-ip:"+c.ClientIP())
}

// limitBy decides, writes the rate-limit headers, and answers 429 when the
// budget is spent.
func (s *Server) limitBy(c *gin.Context, scope, tenantID, subject string) {
	if s.limits == nil {
		c.Next()
		return
	}
	d := s.limits.Allow(c.Request.Context(), scope, tenantID, subject)
	writeRateHeaders(c.Writer.Header(), d)
	if d.Allowed {
		c.Next()
		return
	}
	retry := seconds(d.RetryAfter)
	c.Header("Retry-After", strconv.Itoa(retry))
	s.fail(c, &problem.Problem{Kind: problem.RateLimited, Code: "rate_limited",
		Message: fmt.Sprintf("too many %s requests: the limit is %d per minute; retry in %d s", scope, d.Limit, retry),
		Details: map[string]any{"scope": scope, "limit": d.Limit, "retry_after_seconds": retry}})
}

// writeRateHeaders sets the classic X-RateLimit-* headers and the IETF
// RateLimit-Policy / RateLimit structured fields. X-RateLimit-Reset is the
// number of seconds until the budget is full again.
func writeRateHeaders(h http.Header, d ratelimit.Decision) {
	if d.Limit == 0 {
		return // no decision (Redis unreachable): promise nothing
	}
	reset := seconds(d.ResetAfter)
	h.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("X-RateLimit-Reset", strconv.Itoa(reset))
	h.Set("RateLimit-Policy", fmt.Sprintf(`"%s";q=%d;w=60`, d.Scope, d.Limit))
	h.Set("RateLimit", fmt.Sprintf(`"%s";r=%d;t=%d`, d.Scope, d.Remaining, reset))
}

// seconds rounds a duration up to whole seconds, never below zero.
func seconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}

// rateLimits answers GET /rate-limits: the caller's tenant's limits.
func (s *Server) rateLimits(c *gin.Context) {
	if s.limits == nil {
		c.JSON(http.StatusOK, gin.H{"tenant_id": caller(c).TenantID, "per_minute": nil})
		return
	}
	s.writeLimits(c, caller(c).TenantID)
}

// tenantRateLimits answers GET /admin/tenants/:id/rate-limits.
func (s *Server) tenantRateLimits(c *gin.Context) {
	if _, err := s.identity.GetTenant(c.Request.Context(), c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	s.writeLimits(c, c.Param("id"))
}

// setTenantRateLimits answers PUT /admin/tenants/:id/rate-limits with a
// body such as {"ai": 120, "content": null}: a number sets the scope's
// requests per minute, null returns it to the default.
func (s *Server) setTenantRateLimits(c *gin.Context) {
	var in map[string]*int
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	if _, err := s.identity.GetTenant(ctx, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	if s.limits == nil {
		s.fail(c, problem.New(problem.Conflict, "rate_limits_off", "rate limiting is turned off in this deployment"))
		return
	}
	if err := s.limits.SetTenantLimits(ctx, c.Param("id"), in); err != nil {
		s.fail(c, err)
		return
	}
	s.writeLimits(c, c.Param("id"))
}

func (s *Server) writeLimits(c *gin.Context, tenantID string) {
	if s.limits == nil {
		c.JSON(http.StatusOK, gin.H{"tenant_id": tenantID, "per_minute": nil})
		return
	}
	limits, err := s.limits.Effective(c.Request.Context(), tenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"tenant_id": tenantID, "per_minute": limits})
}
