package api

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/content/seo"
)

// SEO (package content/seo): each POST submits a job (seo.generate_text or
// seo.analyze) through the same path as POST /jobs and answers 202 with
// it. A post_id must name a post of the site (else 404); invalid values
// come back as 422 with details.fields named input.<field>.

// seoGenerateRequest is POST /sites/{site}/seo/generatetext's body.
type seoGenerateRequest struct {
	PostID   string `json:"post_id"`
	Text     string `json:"text"`
	Type     string `json:"type"`
	Keyword  string `json:"keyword"`
	Language string `json:"language"`
	jobOptions
}

func (s *Server) seoGenerateText(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	var body seoGenerateRequest
	if err := bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	chars, ok := s.seoPostChars(c, site, body.PostID)
	if !ok {
		return
	}
	input, _ := json.Marshal(seo.GenerateInput{PostID: body.PostID, Text: body.Text, Type: body.Type, Keyword: body.Keyword,
		Language: body.Language, PostChars: chars})
	s.accept(c, s.sourceJob(c, site, seo.KindGenerateText, input, body.jobOptions))
}

// seoAnalyzeRequest is POST /sites/{site}/seo/analyze's body.
type seoAnalyzeRequest struct {
	PostID          string `json:"post_id"`
	Text            string `json:"text"`
	Title           string `json:"title"`
	MetaDescription string `json:"meta_description"`
	Keyword         string `json:"keyword"`
	Language        string `json:"language"`
	jobOptions
}

func (s *Server) seoAnalyze(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	var body seoAnalyzeRequest
	if err := bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	chars, ok := s.seoPostChars(c, site, body.PostID)
	if !ok {
		return
	}
	input, _ := json.Marshal(seo.AnalyzeInput{PostID: body.PostID, Text: body.Text, Title: body.Title,
		MetaDescription: body.MetaDescription, Keyword: body.Keyword, Language: body.Language, PostChars: chars})
	s.accept(c, s.sourceJob(c, site, seo.KindAnalyze, input, body.jobOptions))
}

// seoPostChars checks that postID (when given) is a post of the site and
// returns its body's length, from which the job's cost is estimated.
func (s *Server) seoPostChars(c *gin.Context, site content.Site, postID string) (int, bool) {
	if postID == "" {
		return 0, true
	}
	post, err := s.content.GetPost(c.Request.Context(), caller(c).TenantID, site.ID, postID)
	if err != nil {
		s.fail(c, err)
		return 0, false
	}
	return utf8.RuneCountInString(post.BodyMarkdown), true
}
