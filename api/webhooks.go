package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/jobs/webhooks"
)

// Webhooks: the tenant's signing secret for per-job webhooks, its standing
// endpoints, and every delivery with its attempts.

func (s *Server) getSigningSecret(c *gin.Context) {
	sec, err := s.webhooks.TenantSecret(c.Request.Context(), caller(c).TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, sec)
}

func (s *Server) rotateSigningSecret(c *gin.Context) {
	sec, err := s.webhooks.RotateTenantSecret(c.Request.Context(), caller(c).TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, sec)
}

func (s *Server) listWebhooks(c *gin.Context) {
	listed(s, func(c *gin.Context, page pg.Page) ([]webhooks.Endpoint, string, error) {
		return s.webhooks.ListEndpoints(c.Request.Context(), caller(c).TenantID, page)
	})(c)
}

func (s *Server) createWebhook(c *gin.Context) {
	var in webhooks.EndpointInput
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	e, err := s.webhooks.CreateEndpoint(c.Request.Context(), caller(c).TenantID, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", s.cfg.PublicURL+"/api/v1/webhooks/"+e.ID)
	c.JSON(http.StatusCreated, e)
}

func (s *Server) getWebhook(c *gin.Context) {
	e, err := s.webhooks.GetEndpoint(c.Request.Context(), caller(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, e)
}

func (s *Server) updateWebhook(c *gin.Context) {
	// Another tenant's endpoint is 404 whatever the body says.
	if _, err := s.webhooks.GetEndpoint(c.Request.Context(), caller(c).TenantID, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	var in webhooks.EndpointInput
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	e, err := s.webhooks.UpdateEndpoint(c.Request.Context(), caller(c).TenantID, c.Param("id"), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, e)
}

func (s *Server) deleteWebhook(c *gin.Context) {
	if err := s.webhooks.DeleteEndpoint(c.Request.Context(), caller(c).TenantID, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) getWebhookSecret(c *gin.Context) {
	e, err := s.webhooks.EndpointSecret(c.Request.Context(), caller(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, e)
}

func (s *Server) rotateWebhookSecret(c *gin.Context) {
	e, err := s.webhooks.RotateEndpointSecret(c.Request.Context(), caller(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, e)
}

func (s *Server) listWebhookDeliveries(c *gin.Context) {
	listed(s, func(c *gin.Context, page pg.Page) ([]webhooks.Delivery, string, error) {
		return s.webhooks.EndpointDeliveries(c.Request.Context(), caller(c).TenantID, c.Param("id"), page)
	})(c)
}

func (s *Server) listJobDeliveries(c *gin.Context) {
	listed(s, func(c *gin.Context, page pg.Page) ([]webhooks.Delivery, string, error) {
		return s.webhooks.JobDeliveries(c.Request.Context(), caller(c).TenantID, c.Param("id"), page)
	})(c)
}

func (s *Server) getDelivery(c *gin.Context) {
	d, err := s.webhooks.GetDelivery(c.Request.Context(), caller(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

func (s *Server) redeliver(c *gin.Context) {
	d, err := s.webhooks.Redeliver(c.Request.Context(), caller(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, d)
}
