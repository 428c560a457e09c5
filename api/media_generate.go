package api

import (
	"encoding/json"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/content/generate"
	"github.com/kilnhq/kiln/internal/problem"
)

// Media generation (package content/generate): each POST submits a job
// through the same path as POST /jobs and answers 202 with it; the job's
// result links the media it made. Invalid values come back as 422 with
// details.fields named input.<field>, as for POST /jobs. Edits are kept
// as versions: GET .../media/{id}/image-versions lists them.

// generateImagesRequest is POST /sites/{site}/media/generate's body.
type generateImagesRequest struct {
	generate.ImageInput
	jobOptions
}

func (s *Server) generateImages(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	var body generateImagesRequest
	if err := bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	input, _ := json.Marshal(body.ImageInput)
	s.accept(c, s.sourceJob(c, site, generate.KindImageGenerate, input, body.jobOptions))
}

// editWithAIRequest is POST /sites/{site}/media/{id}/edit-with-ai's body.
type editWithAIRequest struct {
	Instruction string `json:"instruction"`
	jobOptions
}

// editImageWithAI submits an edit of one of the site's images; the result
// is the image's next version.
func (s *Server) editImageWithAI(c *gin.Context) {
	site, m, ok := s.sourceImage(c, "PNG, JPEG or WebP", "image/png", "image/jpeg", "image/webp")
	if !ok {
		return
	}
	var body editWithAIRequest
	if err := bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	input, _ := json.Marshal(generate.EditInput{MediaID: m.ID, Instruction: body.Instruction})
	s.accept(c, s.sourceJob(c, site, generate.KindImageEdit, input, body.jobOptions))
}

// generateMetadataRequest is POST /sites/{site}/media/{id}/generate-metadata's
// body, which may be empty.
type generateMetadataRequest struct {
	Language string `json:"language"`
	jobOptions
}

// generateMediaMetadata submits the writing of an image's alt text,
// caption and tags.
func (s *Server) generateMediaMetadata(c *gin.Context) {
	site, m, ok := s.sourceImage(c, "PNG, JPEG, GIF or WebP", "image/png", "image/jpeg", "image/gif", "image/webp")
	if !ok {
		return
	}
	var body generateMetadataRequest
	if err := bindOptionalJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	input, _ := json.Marshal(generate.MetadataInput{MediaID: m.ID, Language: body.Language})
	s.accept(c, s.sourceJob(c, site, generate.KindMetadata, input, body.jobOptions))
}

// textToSpeechRequest is POST /sites/{site}/media/tts's body.
type textToSpeechRequest struct {
	generate.SpeechInput
	jobOptions
}

func (s *Server) textToSpeech(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	var body textToSpeechRequest
	if err := bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	input, _ := json.Marshal(body.SpeechInput)
	s.accept(c, s.sourceJob(c, site, generate.KindSpeech, input, body.jobOptions))
}

// listImageVersions lists the versions of the chain the image belongs to,
// the original (version 1) first.
func (s *Server) listImageVersions(c *gin.Context) {
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	list, err := s.content.MediaVersions(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	type version struct {
		content.MediaVersion
		URL string `json:"url"`
	}
	out := make([]version, len(list))
	for i, v := range list {
		out[i] = version{MediaVersion: v, URL: "/api/v1/sites/" + site.ID + "/media/" + v.MediaID + "/view"}
	}
	writeList(c, out, "")
}

// sourceImage finds the caller's site and its media file :id, which must
// be an image of one of types; otherwise it answers (404, or 422 naming
// the types) and returns false.
func (s *Server) sourceImage(c *gin.Context, names string, types ...string) (content.Site, content.Media, bool) {
	site, ok := s.siteOf(c)
	if !ok {
		return site, content.Media{}, false
	}
	m, err := s.content.GetMedia(c.Request.Context(), caller(c).TenantID, site.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return site, m, false
	}
	base, _, _ := strings.Cut(m.ContentType, ";")
	for _, t := range types {
		if base == t {
			return site, m, true
		}
	}
	s.fail(c, &problem.Problem{Kind: problem.Invalid, Code: "unsupported_image",
		Message: "media " + m.ID + " is " + base + "; this takes a " + names + " image",
		Fields:  map[string]string{"id": "must be a " + names + " image, not " + base}})
	return site, m, false
}
