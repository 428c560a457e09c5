package api

import (
	"bytes"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/internal/idempotency"
)

// recorder keeps a copy of what a handler writes, so the answer can be
// stored against its Idempotency-Key.
type recorder struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// idempotent makes a creating POST safe to retry: with an Idempotency-Key,
// the same key and body replay the first answer, another body is a 422,
// and a retry while the first is still running is a 409.
func (s *Server) idempotent(c *gin.Context) { s.onceJSON(c, c.Next) }

// onceJSON runs handle once per Idempotency-Key and JSON body; handlers
// that take JSON or an upload (withUpload) call it for the JSON case.
func (s *Server) onceJSON(c *gin.Context, handle func()) {
	key, err := idempotencyKey(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	if key == "" {
		handle()
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	s.once(c, key, body, handle)
}

// idempotencyKey returns the request's Idempotency-Key, "" when it has none.
func idempotencyKey(c *gin.Context) (string, error) {
	key := c.GetHeader("Idempotency-Key")
	if len(key) > 255 {
		return "", fieldProblem("Idempotency-Key", "must be at most 255 characters")
	}
	return key, nil
}

// once runs next under key for a request whose content is body: a replay
// answers the stored response instead, and next's answer is stored.
// Handlers whose raw body is no fingerprint (a multipart upload, whose
// boundary changes on every retry) call it with a body of their own.
func (s *Server) once(c *gin.Context, key string, body []byte, next func()) {
	tenantID := caller(c).TenantID
	ctx := c.Request.Context()
	replay, err := s.idem.Begin(ctx, tenantID, key, idempotency.Fingerprint(c.Request.Method, c.Request.URL.Path, body))
	if err != nil {
		s.fail(c, err)
		return
	}
	if replay != nil {
		for k, vs := range replay.Header {
			for _, v := range vs {
				c.Writer.Header().Add(k, v)
			}
		}
		c.Header("Idempotent-Replayed", "true")
		c.Data(replay.Status, "application/json; charset=utf-8", replay.Body)
		c.Abort()
		return
	}
	rec := &recorder{ResponseWriter: c.Writer}
	c.Writer = rec
	next()
	s.rememberAnswer(c, tenantID, key, rec)
}

// rememberAnswer stores a handler's answer, or forgets the key after a
// failure of ours so that a retry does the work again.
func (s *Server) rememberAnswer(c *gin.Context, tenantID, key string, rec *recorder) {
	ctx := c.Request.Context()
	status := rec.Status()
	if status >= 500 {
		if err := s.idem.Abandon(ctx, tenantID, key); err != nil {
			logger(c, s.log).ErrorContext(ctx, "abandon idempotency key", "err", err)
		}
		return
	}
	header := http.Header{}
	for _, h := range []string{"Location", "Content-Type", "Cache-Control"} {
		if v := rec.Header().Get(h); v != "" {
			header.Set(h, v)
		}
	}
	if err := s.idem.Complete(ctx, tenantID, key, idempotency.Response{Status: status, Header: header, Body: rec.body.Bytes()}); err != nil {
		logger(c, s.log).ErrorContext(ctx, "store idempotent answer", "err", err)
	}
}
