package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/content"
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

// translationMaster is what a translation route works on: the post or
// media item named by the route, with how its requests are checked and
// which kind translates it.
type translationMaster struct {
	site      content.Site
	id        string
	updatedAt time.Time
	kind      string
	// check validates a request for this master; input is its job input.
	check func(translate.Request) (translate.Request, error)
	input func(translate.Request) json.RawMessage
}

// masterOf reads a route's master; it answers the error and reports false
// when there is none.
type masterOf func(c *gin.Context) (translationMaster, bool)

// postMaster is the post of /translations/posts/{id}.
func (s *Server) postMaster(c *gin.Context) (translationMaster, bool) {
	site, ok := s.siteOf(c)
	if !ok {
		return translationMaster{}, false
	}
	post, err := s.content.GetPost(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return translationMaster{}, false
	}
	return translationMaster{site: site, id: post.ID, updatedAt: post.UpdatedAt, kind: translate.KindPost,
		check: func(r translate.Request) (translate.Request, error) {
			return s.translations().CheckPost(c.Request.Context(), caller(c).TenantID, post, r)
		},
		input: func(r translate.Request) json.RawMessage {
			raw, _ := json.Marshal(translate.PostInput{PostID: post.ID, Request: r})
			return raw
		}}, true
}

// mediaMaster is the media item of /translations/media/{id}.
func (s *Server) mediaMaster(c *gin.Context) (translationMaster, bool) {
	site, ok := s.siteOf(c)
	if !ok {
		return translationMaster{}, false
	}
	m, err := s.content.GetMedia(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return translationMaster{}, false
	}
	return translationMaster{site: site, id: m.ID, updatedAt: m.UpdatedAt, kind: translate.KindMedia,
		check: func(r translate.Request) (translate.Request, error) { return translate.CheckMedia(m, site.Language, r) },
		input: func(r translate.Request) json.RawMessage {
			raw, _ := json.Marshal(translate.MediaInput{MediaID: m.ID, Request: r})
			return raw
		}}, true
}

// translate submits the translation of the route's master.
func (s *Server) translate(of masterOf) gin.HandlerFunc {
	return func(c *gin.Context) {
		m, ok := of(c)
		if !ok {
			return
		}
		var body translateRequest
		if err := bindJSON(c, &body); err != nil {
			s.fail(c, err)
			return
		}
		s.submitTranslation(c, m, body.Request, body.jobOptions)
	}
}

// listTranslations lists the route's master's translations.
func (s *Server) listTranslations(of masterOf) gin.HandlerFunc {
	return func(c *gin.Context) {
		m, ok := of(c)
		if !ok {
			return
		}
		listed(s, func(c *gin.Context, page pg.Page) ([]translate.Translation, string, error) {
			return s.translations().List(c.Request.Context(), caller(c).TenantID, m.id, m.updatedAt, page)
		})(c)
	}
}

// syncTranslations re-translates the route's master's stale translations.
func (s *Server) syncTranslations(of masterOf) gin.HandlerFunc {
	return func(c *gin.Context) {
		m, ok := of(c)
		if !ok {
			return
		}
		req, opts, ok := s.staleRequest(c, m.id, func() ([]string, []string, error) {
			return s.translations().Stale(c.Request.Context(), caller(c).TenantID, m.id, m.updatedAt)
		})
		if ok {
			s.submitTranslation(c, m, req, opts)
		}
	}
}

// submitTranslation checks req for m and submits its job.
func (s *Server) submitTranslation(c *gin.Context, m translationMaster, req translate.Request, opts jobOptions) {
	req, err := m.check(req)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.accept(c, s.sourceJob(c, m.site, m.kind, m.input(req), opts))
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
