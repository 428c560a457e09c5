package api

import (
	"encoding/json"
	"net/http"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/content/transform"
	"github.com/kilnhq/kiln/internal/pg"
)

// Post transforms (package content/transform): POST .../transform submits
// a post.transform job and answers 202 with it; the job records the body
// it replaces as a revision, which GET .../revisions lists and POST
// .../revisions/{rev_id}/restore puts back. Invalid values come back as
// 422 with details.fields named input.<field>, as for POST /jobs.

// transformRequest is POST /sites/{site}/posts/{id}/transform's body:
// instruction or preset (with tone for change_tone).
type transformRequest struct {
	Instruction string `json:"instruction"`
	Preset      string `json:"preset"`
	Tone        string `json:"tone"`
	jobOptions
}

// transformPost submits post.transform for one of the site's posts; the
// cost is estimated from the body's length.
func (s *Server) transformPost(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	post, err := s.content.GetPost(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	var body transformRequest
	if err := bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	chars := min(utf8.RuneCountInString(post.BodyMarkdown), transform.MaxPostChars) // longer: the kind says so
	input, _ := json.Marshal(transform.Input{PostID: post.ID, Instruction: body.Instruction, Preset: body.Preset,
		Tone: body.Tone, PostChars: chars})
	s.accept(c, s.sourceJob(c, site, transform.Kind, input, body.jobOptions))
}

// revisions is the store of posts' revisions.
func (s *Server) revisions() *transform.Revisions { return transform.NewRevisions(s.db, s.content) }

// listPostRevisions lists a post's revisions, newest first.
func (s *Server) listPostRevisions(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	listed(s, func(c *gin.Context, page pg.Page) ([]transform.Revision, string, error) {
		return s.revisions().List(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id"), page)
	})(c)
}

// restorePostRevision puts back the body a revision replaced; the restore
// is itself recorded as a revision.
func (s *Server) restorePostRevision(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	p := caller(c)
	res, err := s.revisions().Restore(c.Request.Context(), p.TenantID, site.ID, c.Param("id"), c.Param("rev_id"), p.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}
