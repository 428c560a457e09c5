package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

// Posts and media hang off a site: /sites/{site}/posts and
// /sites/{site}/media, where {site} is the site's id or slug. Every handler
// finds the site in the caller's tenant first, so another tenant's site is
// a 404 before the body is even read.

// siteOf returns the caller's site named by the :site parameter, or
// answers 404 and returns false.
func (s *Server) siteOf(c *gin.Context) (content.Site, bool) {
	site, err := s.content.GetSite(c.Request.Context(), caller(c).TenantID, c.Param("site"))
	if err != nil {
		s.fail(c, err)
		return content.Site{}, false
	}
	return site, true
}

func (s *Server) listPosts(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	filter, err := postFilterOf(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	listed(s, func(c *gin.Context, page pg.Page) ([]content.Post, string, error) {
		return s.content.ListPosts(c.Request.Context(), caller(c).TenantID, site.ID, filter, page)
	})(c)
}

// postFilterOf reads the list filters, reporting every bad one at once.
func postFilterOf(c *gin.Context) (content.PostFilter, error) {
	var f problem.FieldErrors
	filter := content.PostFilter{Status: c.Query("status"), SourceType: c.Query("source_type"), Language: c.Query("language")}
	filter.CreatedAfter = timeParam(c, &f, "created_after")
	filter.CreatedBefore = timeParam(c, &f, "created_before")
	if p, ok := problem.As(filter.Check()); ok {
		for field, reason := range p.Fields {
			f.Add(field, reason)
		}
	}
	return filter, f.Err()
}

func (s *Server) createPost(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	var in content.PostInput
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	post, err := s.content.CreatePost(c.Request.Context(), caller(c).TenantID, site.ID, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", s.cfg.PublicURL+"/api/v1/sites/"+site.ID+"/posts/"+post.ID)
	c.JSON(http.StatusCreated, post)
}

func (s *Server) getPost(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	post, err := s.content.GetPost(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, post)
}

func (s *Server) updatePost(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	var in content.PostInput
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	post, err := s.content.UpdatePost(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id"), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, post)
}

func (s *Server) deletePost(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	if err := s.content.DeletePost(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
