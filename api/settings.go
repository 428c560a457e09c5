package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/ai/video"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs/webhooks"
	"github.com/kilnhq/kiln/settings"
)

// Integration settings: a tenant's own provider keys (stored encrypted,
// never shown in full), base URLs and models, over the deployment's
// defaults. Admins only: a key spends the tenant's money.

// needSettings answers 503 when the installation has no settings service.
func (s *Server) needSettings(c *gin.Context) {
	if s.settings == nil {
		s.fail(c, problem.New(problem.Unavailable, "settings_unavailable", "integration settings are not configured on this installation"))
	}
}

func (s *Server) listIntegrations(c *gin.Context) {
	var out []settings.IntegrationView
	for _, p := range settings.Providers() {
		v, err := s.settings.View(c.Request.Context(), caller(c).TenantID, p)
		if err != nil {
			s.fail(c, err)
			return
		}
		out = append(out, v)
	}
	writeList(c, out, "")
}

func (s *Server) getIntegration(c *gin.Context) {
	v, err := s.settings.View(c.Request.Context(), caller(c).TenantID, c.Param("provider"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (s *Server) putIntegration(c *gin.Context) {
	var body settings.IntegrationInput
	if err := bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.checkBaseURL(c, "base_url", body.BaseURL); err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.settings.Put(c.Request.Context(), caller(c).TenantID, c.Param("provider"), body)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (s *Server) deleteIntegration(c *gin.Context) {
	if err := s.settings.Delete(c.Request.Context(), caller(c).TenantID, c.Param("provider")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// checkIntegrationRequest is POST /settings/integrations/test's body: the
// provider, and optionally a key, base URL or models to try instead of the
// stored ones.
type checkIntegrationRequest struct {
	Provider string `json:"provider"`
	settings.IntegrationInput
}

func (s *Server) checkIntegration(c *gin.Context) {
	var body checkIntegrationRequest
	if err := bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	if body.Provider == "" {
		var f problem.FieldErrors
		f.Add("provider", "is required: openai or fal")
		s.fail(c, f.Err())
		return
	}
	if err := s.checkBaseURL(c, "base_url", body.BaseURL); err != nil {
		s.fail(c, err)
		return
	}
	res, err := s.settings.Check(c.Request.Context(), caller(c).TenantID, body.Provider, body.IntegrationInput, s.videoCheck)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

// checkBaseURL refuses a tenant base URL that egress would not call,
// naming field.
func (s *Server) checkBaseURL(c *gin.Context, field string, raw *string) error {
	if raw == nil || *raw == "" || s.egress == nil {
		return nil
	}
	if err := webhooks.CheckURL(c.Request.Context(), s.egress, *raw); err != nil {
		var f problem.FieldErrors
		f.Add(field, err.Error())
		return f.Err()
	}
	return nil
}

// videoCheck checks a video provider key by asking the queue API for the
// status of a request that does not exist: a refused key answers 401/403,
// an accepted one 404.
func (s *Server) videoCheck(ctx context.Context, in settings.Integration) error {
	client, err := video.New(video.Config{BaseURL: in.BaseURL, APIKey: in.APIKey, HTTPClient: s.settings.HTTPClientFor(in), MaxRetries: 1})
	if err != nil {
		return err
	}
	model := in.Model(ai.CapVideo)
	if model == "" {
		model = "fal-ai/veo3"
	}
	_, err = client.Status(ctx, model, "00000000-0000-4000-8000-000000000000")
	if err == nil || errors.Is(err, video.ErrRequestNotFound) {
		return nil // the key was accepted; the request id is unknown, as meant
	}
	return err
}
