package api

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/content/ingest"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/jobs/webhooks"
)

// Posts made from a source: each route submits a job (post.from_url or
// post.from_pdf) through the same path as POST /jobs and answers 202 with
// it; the job's result names the post.

// jobOptions are the POST /jobs fields a source route also takes.
type jobOptions struct {
	Priority jobs.Priority   `json:"priority"`
	Webhook  string          `json:"webhook"`
	Events   []string        `json:"webhook_events"`
	Metadata json.RawMessage `json:"metadata"`
}

// fromURLRequest is POST /sites/{site}/posts/from-url's body.
type fromURLRequest struct {
	URL     string         `json:"url"`
	Options ingest.Options `json:"options"`
	jobOptions
}

func (s *Server) postFromURL(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	var body fromURLRequest
	if err := bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.checkFetchURL(c, body.URL); err != nil {
		s.fail(c, err)
		return
	}
	input, _ := json.Marshal(ingest.FromURLInput{URL: body.URL, Options: body.Options})
	s.accept(c, s.sourceJob(c, site, ingest.KindFromURL, input, body.jobOptions))
}

// recrawlPost fetches a URL post's source again into the same post.
func (s *Server) recrawlPost(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	post, err := s.content.GetPost(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if post.Source.Type != content.SourceURL || post.Source.URL == "" {
		s.fail(c, problem.New(problem.Conflict, "not_recrawlable", "only a post made from a URL can be recrawled; this one's source is "+post.Source.Type))
		return
	}
	input, _ := json.Marshal(ingest.FromURLInput{URL: post.Source.URL, PostID: post.ID})
	s.accept(c, s.sourceJob(c, site, ingest.KindFromURL, input, jobOptions{}))
}

// fromPDFRequest is POST /sites/{site}/posts/from-pdf's JSON body, for a
// PDF already in the site's media.
type fromPDFRequest struct {
	MediaID string         `json:"media_id"`
	Options ingest.Options `json:"options"`
	jobOptions
}

// postFromPDF takes a multipart upload (the file is stored as media
// first) or {media_id}.
func (s *Server) postFromPDF(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	if strings.HasPrefix(c.ContentType(), "multipart/") {
		s.withUpload(c, func(up *upload) { s.submitUploadedPDF(c, site, up) })
		return
	}
	s.onceJSON(c, func() { s.pdfFromMedia(c, site) })
}

// pdfFromMedia submits post.from_pdf for a PDF already in the site's media.
func (s *Server) pdfFromMedia(c *gin.Context, site content.Site) {
	var body fromPDFRequest
	if err := bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	if body.MediaID != "" {
		if _, err := s.content.GetMedia(c.Request.Context(), caller(c).TenantID, site.ID, body.MediaID); err != nil {
			s.fail(c, err)
			return
		}
	}
	input, _ := json.Marshal(ingest.FromPDFInput{MediaID: body.MediaID, Options: body.Options})
	s.accept(c, s.sourceJob(c, site, ingest.KindFromPDF, input, body.jobOptions))
}

// submitUploadedPDF stores the uploaded PDF, then submits the job; if the
// submit is refused (no credits, say) the stored file is removed again.
func (s *Server) submitUploadedPDF(c *gin.Context, site content.Site, up *upload) {
	ctx := c.Request.Context()
	tenant := caller(c).TenantID
	f, err := up.file.Open()
	if err != nil {
		s.fail(c, err)
		return
	}
	defer f.Close()
	m, err := s.content.CreateMedia(ctx, tenant, site.ID, f, up.meta)
	if err != nil {
		s.fail(c, err)
		return
	}
	if m.ContentType != "application/pdf" {
		_ = s.content.DeleteMedia(ctx, tenant, site.ID, m.ID)
		s.fail(c, problem.New(problem.Unsupported, "not_a_pdf", "the uploaded file is "+m.ContentType+", not a PDF"))
		return
	}
	input, _ := json.Marshal(ingest.FromPDFInput{MediaID: m.ID})
	j, err := s.jobs.Submit(ctx, s.sourceJob(c, site, ingest.KindFromPDF, input, jobOptions{}))
	if err != nil {
		_ = s.content.DeleteMedia(ctx, tenant, site.ID, m.ID)
		s.fail(c, err)
		return
	}
	c.Header("Location", j.URLs.Self)
	c.JSON(http.StatusAccepted, j)
}

// sourceJob is the submit request of a source route's job.
func (s *Server) sourceJob(c *gin.Context, site content.Site, kind string, input json.RawMessage, o jobOptions) jobs.SubmitRequest {
	p := caller(c)
	req := jobs.SubmitRequest{TenantID: p.TenantID, CreatedBy: p.ID, Kind: kind, Input: input, SiteID: site.ID,
		Priority: o.Priority, Webhook: o.Webhook, WebhookEvents: o.Events, Metadata: o.Metadata}
	if tp := c.GetHeader("traceparent"); jobs.TraceID(tp) != "" {
		req.TraceParent = tp
	}
	return req
}

// checkFetchURL refuses at once a URL Kiln would not fetch.
func (s *Server) checkFetchURL(c *gin.Context, raw string) error {
	if raw == "" || s.egress == nil {
		return nil // the kind's validation names a missing url
	}
	if err := webhooks.CheckURL(c.Request.Context(), s.egress, raw); err != nil {
		var f problem.FieldErrors
		f.Add("url", err.Error())
		return f.Err()
	}
	return nil
}
