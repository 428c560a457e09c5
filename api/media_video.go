package api

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/content/videogen"
	"github.com/kilnhq/kiln/internal/problem"
)

// Video generation: POST /sites/{site}/media/generatevideo submits a
// media.video.generate job; the external provider's signed callback comes
// to POST /providers/{provider}/webhook, which needs no Kiln credentials.

// maxProviderWebhook bounds a provider callback's body.
const maxProviderWebhook = 1 << 20

// generateVideoRequest is the route's body: the kind's input and the
// common job options.
type generateVideoRequest struct {
	videogen.Input
	jobOptions
}

func (s *Server) generateVideo(c *gin.Context) {
	if s.video == nil {
		s.fail(c, problem.New(problem.Unavailable, "video_unavailable", "video generation is not set up on this installation"))
		return
	}
	site, ok := s.siteOf(c)
	if !ok {
		return
	}
	var body generateVideoRequest
	if err := bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	input, _ := json.Marshal(body.Input)
	s.accept(c, s.sourceJob(c, site, videogen.Kind, input, body.jobOptions))
}

// providerWebhook takes a provider's callback. A delivery for a request
// Kiln does not know is acknowledged (200) so the provider stops sending
// it; a failed signature is 401; a failure to fetch the provider's keys is
// 503, so the provider delivers again.
func (s *Server) providerWebhook(c *gin.Context) {
	if s.video == nil {
		s.fail(c, videogen.ErrUnknownProvider)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxProviderWebhook))
	if err != nil {
		s.fail(c, err)
		return
	}
	known, err := s.video.HandleWebhook(c.Request.Context(), c.Param("provider"), c.Request.Header, body)
	if err != nil {
		if _, isProblem := problem.As(err); !isProblem {
			logger(c, s.log).WarnContext(c.Request.Context(), "provider webhook not processed", "err", err)
			err = problem.New(problem.Unavailable, "webhook_not_processed", "the webhook could not be checked right now; deliver it again")
		}
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"received": true, "known_request": known})
}
