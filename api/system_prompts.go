package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// System prompts: each generation kind renders its prompt from a template
// of its type; a tenant may replace the platform default with its own, and
// DELETE puts the default back.

func (s *Server) listSystemPrompts(c *gin.Context) {
	out, err := s.settings.Prompts(c.Request.Context(), caller(c).TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeList(c, out, "")
}

func (s *Server) getSystemPrompt(c *gin.Context) {
	p, err := s.settings.Prompt(c.Request.Context(), caller(c).TenantID, c.Param("type"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

// putSystemPromptRequest is PUT /system-prompts/{type}'s body.
type putSystemPromptRequest struct {
	Template string `json:"template"`
}

func (s *Server) putSystemPrompt(c *gin.Context) {
	var body putSystemPromptRequest
	if err := bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	p, err := s.settings.PutPrompt(c.Request.Context(), caller(c).TenantID, c.Param("type"), body.Template)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

func (s *Server) deleteSystemPrompt(c *gin.Context) {
	p, err := s.settings.DeletePrompt(c.Request.Context(), caller(c).TenantID, c.Param("type"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}
