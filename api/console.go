package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"

	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/problem"
)

// consolePath is where the asynqmon dashboard is mounted.
const consolePath = "/admin/queues"

// consoleCookie carries a platform admin's access token to the dashboard.
// It is set by a platform admin's password login (and by a basic-auth
// visit to the dashboard), is HttpOnly and SameSite=Strict, and is read
// only under /admin.
const consoleCookie = "kiln_admin_session"

// redisClientOpt hands asynqmon the API's own Redis client instead of a
// second connection pool.
type redisClientOpt struct{ c *redis.Client }

// MakeRedisClient implements asynq.RedisConnOpt.
func (o redisClientOpt) MakeRedisClient() any { return o.c }

// newConsole builds the asynqmon handler with payloads redacted.
func (s *Server) newConsole() http.Handler {
	return asynqmon.New(asynqmon.Options{
		RootPath:         consolePath,
		RedisConnOpt:     redisClientOpt{s.redis},
		PayloadFormatter: asynqmon.PayloadFormatterFunc(func(_ string, p []byte) string { return Redact(p) }),
		ResultFormatter:  asynqmon.ResultFormatterFunc(func(_ string, p []byte) string { return Redact(p) }),
		ReadOnly:         s.cfg.ConsoleReadOnly,
	})
}

// consoleRoutes mounts the dashboard for platform admins only.
func (s *Server) consoleRoutes(r *gin.Engine) {
	h := gin.WrapH(s.newConsole())
	r.GET(consolePath, s.requireConsole, h)
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		r.Handle(m, consolePath+"/*path", s.requireConsole, h)
	}
}

// requireConsole admits a platform admin by bearer credential, by the
// session cookie, or by basic auth with their email and password (which
// then sets the cookie, so the password is checked once per token life).
// Anyone else gets 401 (with a basic-auth challenge) or 403.
func (s *Server) requireConsole(c *gin.Context) {
	ctx := c.Request.Context()
	p, err := s.consolePrincipal(c)
	if err != nil {
		c.Header("WWW-Authenticate", `Basic realm="kiln admin", charset="UTF-8"`)
		s.fail(c, err)
		return
	}
	if !p.PlatformAdmin {
		s.fail(c, problem.New(problem.Forbidden, "platform_admin_required", "the queue dashboard is for platform admins only"))
		return
	}
	logger(c, s.log).DebugContext(ctx, "queue dashboard", "user_id", p.UserID)
	c.Next()
}

func (s *Server) consolePrincipal(c *gin.Context) (identity.Principal, error) {
	ctx := c.Request.Context()
	if cred := credential(c); cred != "" {
		return s.identity.Authenticate(ctx, cred)
	}
	if cookie, err := c.Cookie(consoleCookie); err == nil && cookie != "" {
		if p, err := s.identity.Authenticate(ctx, cookie); err == nil {
			return p, nil
		}
	}
	email, password, ok := c.Request.BasicAuth()
	if !ok {
		return identity.Principal{}, problem.New(problem.Unauthenticated, "unauthenticated",
			"log in as a platform admin (POST /api/v1/auth/login sets the dashboard cookie) or use basic auth with your email and password")
	}
	tokens, err := s.identity.Login(ctx, email, password, "")
	if err != nil {
		return identity.Principal{}, err
	}
	p, err := s.identity.Authenticate(ctx, tokens.AccessToken)
	if err == nil && p.PlatformAdmin {
		s.setConsoleCookie(c, tokens)
	}
	return p, err
}

// setConsoleCookie gives a platform admin's browser the dashboard cookie.
func (s *Server) setConsoleCookie(c *gin.Context, t identity.Tokens) {
	secure := strings.HasPrefix(s.cfg.PublicURL, "https://")
	c.SetSameSite(http.SameSiteStrictMode)
	c.SetCookie(consoleCookie, t.AccessToken, t.ExpiresIn, "/admin", "", secure, true)
}

// plainID matches payloads that are only an id (a job's task carries its
// job id).
var plainID = regexp.MustCompile(`^[\w:.-]*$`)

// sensitiveKey matches JSON keys whose values the dashboard never shows.
var sensitiveKey = regexp.MustCompile(`(?i)secret|token|password|passwd|api_?key|authorization|cookie|credential|input|prompt|text|body|payload|email`)

// Redact renders a task payload or result for the dashboard: JSON with the
// values of sensitive keys (secrets, and user content such as inputs and
// prompts) replaced, or the raw text when it is short and not JSON (a job
// id), or only its size.
func Redact(p []byte) string {
	var v any
	if err := json.Unmarshal(p, &v); err == nil {
		out, _ := json.Marshal(redactValue(v))
		return string(out)
	}
	if len(p) <= 64 && plainID.Match(p) {
		return string(p)
	}
	return "(" + strconv.Itoa(len(p)) + " bytes, not shown)"
}

func redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if sensitiveKey.MatchString(k) {
				t[k] = "[redacted]"
			} else {
				t[k] = redactValue(val)
			}
		}
	case []any:
		for i := range t {
			t[i] = redactValue(t[i])
		}
	}
	return v
}

// redisClientOpt must satisfy asynq.RedisConnOpt.
var _ asynq.RedisConnOpt = redisClientOpt{}
