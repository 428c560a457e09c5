package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/pg"
)

type createUserRequest struct {
	Email    string        `json:"email"`
	Password string        `json:"password"`
	Name     string        `json:"name"`
	Role     identity.Role `json:"role"`
}

type updateUserRequest struct {
	Name *string        `json:"name"`
	Role *identity.Role `json:"role"`
}

func (s *Server) listUsers(c *gin.Context) {
	listed(s, func(c *gin.Context, page pg.Page) ([]identity.Member, string, error) {
		return s.identity.ListMembers(c.Request.Context(), caller(c).TenantID, page)
	})(c)
}

// createUser adds a user to the caller's tenant, with a role no higher than
// the caller's own.
func (s *Server) createUser(c *gin.Context) {
	var req createUserRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	p := caller(c)
	if req.Role.Valid() && !p.Role.AtLeast(req.Role) {
		s.fail(c, forbiddenRole(p.Role, req.Role))
		return
	}
	m, err := s.identity.CreateMember(c.Request.Context(), p.TenantID, identity.NewUser{
		Email: req.Email, Password: req.Password, Name: req.Name, Role: req.Role})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, m)
}

func (s *Server) getUser(c *gin.Context) {
	m, err := s.identity.GetMember(c.Request.Context(), caller(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, m)
}

// updateUser changes a user's name or role. Nobody can raise a role above
// their own or change someone who outranks them.
func (s *Server) updateUser(c *gin.Context) {
	var req updateUserRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	p := caller(c)
	ctx := c.Request.Context()
	target, err := s.identity.GetMember(ctx, p.TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if !p.Role.AtLeast(target.Role) {
		s.fail(c, forbiddenRole(p.Role, target.Role))
		return
	}
	if req.Role != nil && req.Role.Valid() && !p.Role.AtLeast(*req.Role) {
		s.fail(c, forbiddenRole(p.Role, *req.Role))
		return
	}
	m, err := s.identity.UpdateMember(ctx, p.TenantID, target.ID, identity.MemberUpdate{Name: req.Name, Role: req.Role})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, m)
}

// deleteUser removes a user from the tenant; nobody can remove someone who
// outranks them.
func (s *Server) deleteUser(c *gin.Context) {
	p := caller(c)
	ctx := c.Request.Context()
	target, err := s.identity.GetMember(ctx, p.TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if !p.Role.AtLeast(target.Role) {
		s.fail(c, forbiddenRole(p.Role, target.Role))
		return
	}
	if err := s.identity.RemoveMember(ctx, p.TenantID, target.ID); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
