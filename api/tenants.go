package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/internal/slug"
)

// These routes are for platform admins, who see every tenant.

type tenantRequest struct {
	Name *string `json:"name"`
	Slug *string `json:"slug"`
}

func (r tenantRequest) check(create bool) error {
	var f problem.FieldErrors
	f.Check(create && r.Name == nil, "name", "is required")
	f.Check(r.Name != nil && (strings.TrimSpace(*r.Name) == "" || len(*r.Name) > 200), "name", "must be 1 to 200 characters")
	f.Check(!create && r.Slug != nil, "slug", "cannot be changed")
	f.Check(create && r.Slug != nil && !slug.Valid(*r.Slug), "slug", "must be lowercase letters, digits and inner hyphens, at most 63 characters")
	return f.Err()
}

func (s *Server) listTenants(c *gin.Context) {
	listed(s, func(c *gin.Context, page pg.Page) ([]identity.Tenant, string, error) {
		return s.identity.ListTenants(c.Request.Context(), page)
	})(c)
}

func (s *Server) createTenant(c *gin.Context) {
	var req tenantRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if err := req.check(true); err != nil {
		s.fail(c, err)
		return
	}
	wanted := ""
	if req.Slug != nil {
		wanted = *req.Slug
	}
	t, err := s.identity.CreateTenant(c.Request.Context(), strings.TrimSpace(*req.Name), wanted)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, t)
}

func (s *Server) getTenant(c *gin.Context) {
	t, err := s.identity.GetTenant(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, t)
}

func (s *Server) updateTenant(c *gin.Context) {
	var req tenantRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if err := req.check(false); err != nil {
		s.fail(c, err)
		return
	}
	s.changeTenant(c, req.Name, "")
}

func (s *Server) suspendTenant(c *gin.Context) { s.changeTenant(c, nil, identity.TenantSuspended) }
func (s *Server) resumeTenant(c *gin.Context)  { s.changeTenant(c, nil, identity.TenantActive) }

func (s *Server) changeTenant(c *gin.Context, name *string, status string) {
	t, err := s.identity.UpdateTenant(c.Request.Context(), c.Param("id"), name, status)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, t)
}
