package api

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kilnhq/kiln/internal/problem"
)

// observe records an answered request in the HTTP metrics, by route
// template (never the raw path, which would explode the label set).
func (s *Server) observe(c *gin.Context, route string, status int, took time.Duration) {
	code := strconv.Itoa(status)
	s.metrics.HTTPRequests.WithLabelValues(c.Request.Method, route, code).Inc()
	s.metrics.HTTPDuration.WithLabelValues(c.Request.Method, route, code).Observe(took.Seconds())
}

// serveMetrics answers GET /metrics in the Prometheus text format, behind
// basic auth when KILN_METRICS_BASIC_AUTH is set.
func (s *Server) serveMetrics() gin.HandlerFunc {
	h := promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{ErrorLog: nil})
	return func(c *gin.Context) {
		if s.cfg.MetricsBasicAuth != "" && !basicAuthIs(c.Request, s.cfg.MetricsBasicAuth) {
			c.Header("WWW-Authenticate", `Basic realm="kiln metrics"`)
			s.fail(c, problem.New(problem.Unauthenticated, "unauthenticated", "GET /metrics needs the basic-auth credentials set in KILN_METRICS_BASIC_AUTH"))
			return
		}
		h.ServeHTTP(c.Writer, c.Request)
	}
}

// basicAuthIs reports whether r carries exactly the user:pass credentials.
func basicAuthIs(r *http.Request, userPass string) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(user+":"+pass), []byte(userPass)) == 1
}
