package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

const (
	// uploadRoute is the one route whose body may be as large as a media
	// file (KILN_MEDIA_MAX_MB) instead of KILN_MAX_BODY_BYTES.
	uploadRoute = "/api/v1/sites/:site/media"
	// formOverhead is room in an upload's body, beyond the file, for the
	// multipart envelope and the text fields.
	formOverhead = 1 << 20
	// formMemory is how much of a form is held in memory; a larger file
	// spills to a temporary file on disk.
	formMemory = 1 << 20
	// mediaCacheControl lets only the caller's browser keep a file, for an
	// hour; the ETag revalidates it after.
	mediaCacheControl = "private, max-age=3600"
)

// isUpload reports whether c is a media upload, whose body limit is the
// media limit.
func isUpload(c *gin.Context) bool {
	return c.Request.Method == http.MethodPost && (c.FullPath() == uploadRoute || c.FullPath() == pdfRoute || c.FullPath() == kbDocumentsRoute)
}

// pdfRoute takes a PDF upload too (POST /sites/{site}/posts/from-pdf).
const pdfRoute = "/api/v1/sites/:site/posts/from-pdf"

// uploadLimit is the largest body an upload may have.
func (s *Server) uploadLimit() int64 { return s.content.MediaMaxBytes() + formOverhead }

// upload is a parsed upload form: the file and its text fields.
type upload struct {
	filePart
	meta content.MediaInput
}

// uploadMedia stores the multipart field file with the optional fields
// title, alt_text and caption. Its type is sniffed from its bytes.
func (s *Server) uploadMedia(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	s.withUpload(c, func(up *upload) { s.storeUpload(c, site, up) })
}

// withUpload reads a media upload and runs handle on it (see withForm).
func (s *Server) withUpload(c *gin.Context, handle func(up *upload)) {
	withForm(s, c, s.readUpload, handle)
}

// readUpload parses the form, reporting every bad field at once.
func (s *Server) readUpload(c *gin.Context) (*upload, error) {
	var f problem.FieldErrors
	part, err := s.readFilePart(c, &f, "the file")
	if err != nil {
		return nil, err
	}
	up := &upload{filePart: part}
	for name, values := range up.form.Value {
		f.Check(len(values) > 1, name, "must be sent once")
		switch name {
		case "title":
			up.meta.Title = &values[0]
		case "alt_text":
			up.meta.AltText = &values[0]
		case "caption":
			up.meta.Caption = &values[0]
		case "file":
			f.Add(name, "must be a file part (with a filename), not a text field")
		default:
			f.Add(name, "is not a known field")
		}
	}
	if err := f.Err(); err != nil {
		up.removeAll()
		return nil, err
	}
	up.meta.Filename = up.file.Filename
	return up, nil
}

// formProblem explains why an upload form could not be read.
func (s *Server) formProblem(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return content.MediaTooLarge(s.content.MediaMaxBytes())
	case errors.Is(err, http.ErrNotMultipart), errors.Is(err, http.ErrMissingBoundary):
		return problem.New(problem.Malformed, "malformed_form", "send multipart/form-data with the file in the field file")
	}
	return problem.New(problem.Malformed, "malformed_form", "the multipart form could not be read: "+err.Error())
}

// fingerprint stands for the upload in its idempotency key: the file's
// hash and the fields, not the raw body, whose multipart boundary a client
// picks anew on every retry.
func (up *upload) fingerprint() ([]byte, error) {
	sum, err := up.sum()
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		SHA256   []byte
		Filename string
		Meta     content.MediaInput
	}{sum, up.meta.Filename, up.meta})
}

func (s *Server) storeUpload(c *gin.Context, site content.Site, up *upload) {
	f, err := up.file.Open()
	if err != nil {
		s.fail(c, fmt.Errorf("open uploaded file: %w", err))
		return
	}
	defer f.Close()
	m, err := s.content.CreateMedia(c.Request.Context(), caller(c).TenantID, site.ID, f, up.meta)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", s.cfg.PublicURL+"/api/v1/sites/"+site.ID+"/media/"+m.ID)
	c.JSON(http.StatusCreated, m)
}

func (s *Server) listMedia(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	listed(s, func(c *gin.Context, page pg.Page) ([]content.Media, string, error) {
		return s.content.ListMedia(c.Request.Context(), caller(c).TenantID, site.ID, page)
	})(c)
}

func (s *Server) getMedia(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	m, err := s.content.GetMedia(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, m)
}

func (s *Server) updateMedia(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	var in content.MediaInput
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	m, err := s.content.UpdateMedia(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id"), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, m)
}

func (s *Server) deleteMedia(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	if err := s.content.DeleteMedia(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// viewMedia streams a file's bytes with its sniffed type. http.ServeContent
// answers Range, If-Range and If-None-Match (against the sha256 ETag).
func (s *Server) viewMedia(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	m, body, err := s.content.OpenMedia(c.Request.Context(), caller(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	defer body.Close()
	if m.SiteID != site.ID {
		s.fail(c, problem.NotFoundf("media"))
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", m.ContentType)
	h.Set("ETag", `"`+m.SHA256+`"`)
	h.Set("Cache-Control", mediaCacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	disposition := mime.FormatMediaType("inline", map[string]string{"filename": m.Filename})
	if disposition == "" {
		disposition = "inline"
	}
	h.Set("Content-Disposition", disposition)
	http.ServeContent(c.Writer, c.Request, "", m.CreatedAt, body)
}
