package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/pg"
)

// Sites are addressed by id (site_…) or by slug in the :site parameter.

func (s *Server) listSites(c *gin.Context) {
	listed(s, func(c *gin.Context, page pg.Page) ([]content.Site, string, error) {
		return s.content.ListSites(c.Request.Context(), caller(c).TenantID, page)
	})(c)
}

func (s *Server) createSite(c *gin.Context) {
	var in content.SiteInput
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	site, err := s.content.CreateSite(c.Request.Context(), caller(c).TenantID, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", s.cfg.PublicURL+"/api/v1/sites/"+site.ID)
	c.JSON(http.StatusCreated, site)
}

func (s *Server) getSite(c *gin.Context) {
	site, err := s.content.GetSite(c.Request.Context(), caller(c).TenantID, c.Param("site"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, site)
}

func (s *Server) updateSite(c *gin.Context) {
	var in content.SiteInput
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	site, err := s.content.UpdateSite(c.Request.Context(), caller(c).TenantID, c.Param("site"), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, site)
}

func (s *Server) deleteSite(c *gin.Context) {
	if err := s.content.DeleteSite(c.Request.Context(), caller(c).TenantID, c.Param("site")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
