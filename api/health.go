package api

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

//go:embed openapi.yaml
var openAPISpec []byte

// root answers GET / with the service's name, version and links.
func (s *Server) root(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{
		"name":    "kiln",
		"version": s.cfg.Version,
		"links": gin.H{
			"api":     s.cfg.PublicURL + "/api/v1",
			"openapi": s.cfg.PublicURL + "/api/v1/openapi.yaml",
			"live":    s.cfg.PublicURL + "/health/live",
			"ready":   s.cfg.PublicURL + "/health/ready",
		},
	})
}

// live answers 200 while the process can serve at all.
func (s *Server) live(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// ready checks Postgres and Redis and answers 503 naming any that is down.
func (s *Server) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"postgres": "ok", "redis": "ok"}
	var down []string
	if err := s.db.Ping(ctx); err != nil {
		logger(c, s.log).WarnContext(ctx, "readiness: postgres unreachable", "err", err)
		checks["postgres"] = "unreachable"
		down = append(down, "postgres")
	}
	if err := s.redis.Ping(ctx).Err(); err != nil {
		logger(c, s.log).WarnContext(ctx, "readiness: redis unreachable", "err", err)
		checks["redis"] = "unreachable"
		down = append(down, "redis")
	}
	if len(down) > 0 {
		c.JSON(http.StatusServiceUnavailable, errorBody{Error: errorDetail{
			Code:    "dependency_unavailable",
			Message: "not ready: " + joinNames(down) + " unreachable",
			Details: map[string]any{"checks": checks, "down": down},
		}})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok", "checks": checks})
}

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += " and "
		}
		out += n
	}
	return out
}

// openAPI serves the OpenAPI 3 description of this API.
func (s *Server) openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/yaml", openAPISpec)
}
