package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/content/translate"
	"github.com/kilnhq/kiln/internal/pg"
)

// Translations (package content/translate): /sites/{site}/translations/
// posts/{id} and …/media/{id}. POST …/translate submits translate.post or
// translate.media (one child job per language) and answers 202 with the
// job; GET lists the master's translations, each marked stale when the
// master changed after it; POST …/sync-translations re-translates the stale
// ones (202 with the job), or answers 200 {"stale": []} when none is.

// translateRequest is POST …/translate's body.
type translateRequest struct {
	translate.Request
	jobOptions
}

// syncRequest is POST …/sync-translations's body, which may be empty:
// keep replaces the terms the stale translations were made with.
type syncRequest struct {
	Keep *[]string `json:"keep"`
	jobOptions
}

// upToDate is sync-translations' answer when no translation is stale.
type upToDate struct {
	Stale   []string `json:"stale"`
	Message string   `json:"message"`
}

func (s *Server) translations() *translate.Store { return translate.NewStore(s.db) }

func (s *Server) translatePost(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	post, err := s.content.GetPost(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	var body translateRequest
	if err := bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	req, err := s.translations().CheckPost(c.Request.Context(), caller(c).TenantID, post, body.Request)
	if err != nil {
		s.fail(c, err)
		return
	}
	input, _ := json.Marshal(translate.PostInput{PostID: post.ID, Request: req})
	s.accept(c, s.sourceJob(c, site, translate.KindPost, input, body.jobOptions))
}

func (s *Server) translateMedia(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	m, err := s.content.GetMedia(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	var body translateRequest
	if err := bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	req, err := translate.CheckMedia(m, site.Language, body.Request)
	if err != nil {
		s.fail(c, err)
		return
	}
	input, _ := json.Marshal(translate.MediaInput{MediaID: m.ID, Request: req})
	s.accept(c, s.sourceJob(c, site, translate.KindMedia, input, body.jobOptions))
}

func (s *Server) listPostTranslations(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	post, err := s.content.GetPost(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	listed(s, func(c *gin.Context, page pg.Page) ([]translate.Translation, string, error) {
		return s.translations().List(c.Request.Context(), caller(c).TenantID, post.ID, post.UpdatedAt, page)
	})(c)
}

func (s *Server) listMediaTranslations(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	m, err := s.content.GetMedia(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	listed(s, func(c *gin.Context, page pg.Page) ([]translate.Translation, string, error) {
		return s.translations().List(c.Request.Context(), caller(c).TenantID, m.ID, m.UpdatedAt, page)
	})(c)
}

func (s *Server) syncPostTranslations(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	post, err := s.content.GetPost(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	req, opts, ok := s.staleRequest(c, post.ID, func() ([]string, []string, error) {
		return s.translations().Stale(c.Request.Context(), caller(c).TenantID, post.ID, post.UpdatedAt)
	})
	if !ok {
		return
	}
	if req, err = s.translations().CheckPost(c.Request.Context(), caller(c).TenantID, post, req); err != nil {
		s.fail(c, err)
		return
	}
	input, _ := json.Marshal(translate.PostInput{PostID: post.ID, Request: req})
	s.accept(c, s.sourceJob(c, site, translate.KindPost, input, opts))
}

func (s *Server) syncMediaTranslations(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	m, err := s.content.GetMedia(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	req, opts, ok := s.staleRequest(c, m.ID, func() ([]string, []string, error) {
		return s.translations().Stale(c.Request.Context(), caller(c).TenantID, m.ID, m.UpdatedAt)
	})
	if !ok {
		return
	}
	if req, err = translate.CheckMedia(m, site.Language, req); err != nil {
		s.fail(c, err)
		return
	}
	input, _ := json.Marshal(translate.MediaInput{MediaID: m.ID, Request: req})
	s.accept(c, s.sourceJob(c, site, translate.KindMedia, input, opts))
}

// staleRequest reads the optional sync body and finds the stale
// languages. When none is stale it answers 200 {"stale": []} and reports
// false; so it does on a bad body.
func (s *Server) staleRequest(c *gin.Context, masterID string, stale func() ([]string, []string, error)) (translate.Request, jobOptions, bool) {
	var body syncRequest
	if err := bindOptionalJSON(c, &body); err != nil {
		s.fail(c, err)
		return translate.Request{}, jobOptions{}, false
	}
	langs, keep, err := stale()
	if err != nil {
		s.fail(c, err)
		return translate.Request{}, jobOptions{}, false
	}
	if len(langs) == 0 {
		c.JSON(http.StatusOK, upToDate{Stale: []string{},
			Message: "no translation of " + masterID + " is older than it; nothing to re-translate"})
		return translate.Request{}, jobOptions{}, false
	}
	if body.Keep != nil {
		keep = *body.Keep
	}
	return translate.Request{TargetLanguages: langs, Keep: keep}, body.jobOptions, true
}

// bindOptionalJSON decodes the body into dst like bindJSON, but an empty
// body leaves dst as it is.
func bindOptionalJSON(c *gin.Context, dst any) error {
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(raw))
	return bindJSON(c, dst)
}
