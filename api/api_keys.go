package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/pg"
)

type createAPIKeyRequest struct {
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// createdAPIKey is the answer to creating a key: the only time the secret
// (key) is shown.
type createdAPIKey struct {
	identity.APIKey
	Key string `json:"key"`
}

func (s *Server) createAPIKey(c *gin.Context) {
	var req createAPIKeyRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	k, secret, err := s.identity.CreateAPIKey(c.Request.Context(), caller(c),
		identity.NewAPIKey{Name: req.Name, Scopes: req.Scopes, ExpiresAt: req.ExpiresAt})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, createdAPIKey{APIKey: k, Key: secret})
}

func (s *Server) listAPIKeys(c *gin.Context) {
	listed(s, func(c *gin.Context, page pg.Page) ([]identity.APIKey, string, error) {
		return s.identity.ListAPIKeys(c.Request.Context(), caller(c).TenantID, page)
	})(c)
}

func (s *Server) getAPIKey(c *gin.Context) {
	k, err := s.identity.GetAPIKey(c.Request.Context(), caller(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, k)
}

func (s *Server) deleteAPIKey(c *gin.Context) {
	if err := s.identity.RevokeAPIKey(c.Request.Context(), caller(c).TenantID, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
