package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/pg"
)

type serviceAccountRequest struct {
	Name *string        `json:"name"`
	Role *identity.Role `json:"role"`
}

// serviceAccountWithSecret answers creation and rotation: the only times the
// client secret is shown.
type serviceAccountWithSecret struct {
	identity.ServiceAccount
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

func (s *Server) createServiceAccount(c *gin.Context) {
	var req serviceAccountRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	p := caller(c)
	name, role := "", identity.RoleEditor
	if req.Name != nil {
		name = *req.Name
	}
	if req.Role != nil {
		role = *req.Role
	}
	if role.Valid() && !p.Role.AtLeast(role) {
		s.fail(c, forbiddenRole(p.Role, role))
		return
	}
	a, secret, err := s.identity.CreateServiceAccount(c.Request.Context(), p.TenantID, name, role)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, serviceAccountWithSecret{ServiceAccount: a, ClientID: a.ID, ClientSecret: secret})
}

func (s *Server) listServiceAccounts(c *gin.Context) {
	listed(s, func(c *gin.Context, page pg.Page) ([]identity.ServiceAccount, string, error) {
		return s.identity.ListServiceAccounts(c.Request.Context(), caller(c).TenantID, page)
	})(c)
}

func (s *Server) getServiceAccount(c *gin.Context) {
	a, err := s.identity.GetServiceAccount(c.Request.Context(), caller(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, a)
}

func (s *Server) updateServiceAccount(c *gin.Context) {
	var req serviceAccountRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	p := caller(c)
	if req.Role != nil && req.Role.Valid() && !p.Role.AtLeast(*req.Role) {
		s.fail(c, forbiddenRole(p.Role, *req.Role))
		return
	}
	a, err := s.identity.UpdateServiceAccount(c.Request.Context(), p.TenantID, c.Param("id"), req.Name, req.Role)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, a)
}

func (s *Server) rotateServiceAccountSecret(c *gin.Context) {
	a, secret, err := s.identity.RotateServiceAccountSecret(c.Request.Context(), caller(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, serviceAccountWithSecret{ServiceAccount: a, ClientID: a.ID, ClientSecret: secret})
}

func (s *Server) deleteServiceAccount(c *gin.Context) {
	if err := s.identity.DeleteServiceAccount(c.Request.Context(), caller(c).TenantID, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
