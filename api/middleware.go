package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
)

const (
	keyRequestID = "kiln.request_id"
	keyPrincipal = "kiln.principal"
)

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// withRequestID gives every request an id: the caller's X-Request-ID when it
// is sensible, otherwise a fresh one. The answer carries it back.
func withRequestID(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if !requestIDPattern.MatchString(id) {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		id = "req_" + hex.EncodeToString(b)
	}
	c.Set(keyRequestID, id)
	c.Header("X-Request-ID", id)
	c.Next()
}

func requestID(c *gin.Context) string { return c.GetString(keyRequestID) }

// logger returns log with the request id, tenant and principal of c.
func logger(c *gin.Context, log *slog.Logger) *slog.Logger {
	log = log.With("request_id", requestID(c))
	if id := jobs.TraceID(c.GetHeader("traceparent")); id != "" {
		log = log.With("trace_id", id)
	}
	if p, ok := principalOf(c); ok {
		log = log.With("tenant_id", p.TenantID, "principal_id", p.ID, "user_id", p.UserID)
	}
	return log
}

// logRequests writes one structured line per request once it is answered.
func (s *Server) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	status := c.Writer.Status()
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	took := time.Since(start)
	s.observe(c, route, status, took)
	logger(c, s.log).Log(c.Request.Context(), level, "http request",
		"method", c.Request.Method, "route", route, "path", c.Request.URL.Path,
		"status", status, "duration_ms", float64(took.Microseconds())/1000,
		"bytes", c.Writer.Size(), "client_ip", c.ClientIP())
}

// recoverPanics turns a panic in a handler into a logged 500, so one bad
// request never takes the process down.
func (s *Server) recoverPanics(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			logger(c, s.log).ErrorContext(c.Request.Context(), "handler panicked", "panic", r, "stack", string(debug.Stack()))
			s.fail(c, problem.New(problem.Unknown, "internal_error", "something went wrong on our side; retry later and quote request id "+requestID(c)))
		}
	}()
	c.Next()
}

// limitBody caps the request body; reading past the cap fails with a
// *http.MaxBytesError, which fail answers with 413. Media uploads are
// capped by the media limit instead (see isUpload).
func (s *Server) limitBody(c *gin.Context) {
	limit := s.cfg.MaxBodyBytes
	if isUpload(c) {
		limit = s.uploadLimit()
	}
	if c.Request.ContentLength > limit {
		if isUpload(c) {
			s.fail(c, content.MediaTooLarge(s.content.MediaMaxBytes()))
			return
		}
		s.fail(c, problem.New(problem.TooLarge, "body_too_large", fmt.Sprintf("the request body is larger than %d bytes (KILN_MAX_BODY_BYTES)", s.cfg.MaxBodyBytes)))
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	c.Next()
}
