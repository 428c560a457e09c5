package api

import (
	"fmt"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/problem"
)

// credential finds the caller's credential: Authorization: Bearer, then
// X-API-Key, then the api_key query parameter.
func credential(c *gin.Context) string {
	if scheme, value, _ := strings.Cut(c.GetHeader("Authorization"), " "); strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(value)
	}
	if k := c.GetHeader("X-API-Key"); k != "" {
		return strings.TrimSpace(k)
	}
	return c.Query("api_key")
}

// authenticate resolves the caller's credential to a principal, or answers
// 401 (403 for a suspended tenant).
func (s *Server) authenticate(c *gin.Context) {
	cred := credential(c)
	if cred == "" {
		s.fail(c, problem.New(problem.Unauthenticated, "unauthenticated",
			"send a credential: Authorization: Bearer <token or API key>, X-API-Key, or ?api_key="))
		return
	}
	p, err := s.identity.Authenticate(c.Request.Context(), cred)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Set(keyPrincipal, p)
	c.Next()
}

func principalOf(c *gin.Context) (identity.Principal, bool) {
	v, ok := c.Get(keyPrincipal)
	if !ok {
		return identity.Principal{}, false
	}
	p, ok := v.(identity.Principal)
	return p, ok
}

// caller returns the authenticated principal; only valid behind authenticate.
func caller(c *gin.Context) identity.Principal {
	p, _ := principalOf(c)
	return p
}

// requireRole lets through principals of a tenant whose role is at least min.
func (s *Server) requireRole(min identity.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := caller(c)
		if p.TenantID == "" {
			s.fail(c, problem.New(problem.Forbidden, "no_tenant", "this account belongs to no tenant; log in to a tenant to use this route"))
			return
		}
		if !p.Role.AtLeast(min) {
			s.fail(c, forbiddenRole(p.Role, min))
			return
		}
		c.Next()
	}
}

func forbiddenRole(have, need identity.Role) error {
	return &problem.Problem{Kind: problem.Forbidden, Code: "forbidden",
		Message: fmt.Sprintf("your role (%s) cannot do this; it needs %s or above", have, need),
		Details: map[string]any{"role": have, "required_role": need}}
}

// requirePlatformAdmin lets through platform admins only.
func (s *Server) requirePlatformAdmin(c *gin.Context) {
	if !caller(c).PlatformAdmin {
		s.fail(c, problem.New(problem.Forbidden, "forbidden", "only platform admins can do this"))
		return
	}
	c.Next()
}
