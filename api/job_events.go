package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/jobs"
)

// sseKeepAlive is how often an idle event stream sends a comment, so
// proxies keep it open.
const sseKeepAlive = 15 * time.Second

// jobEvents streams a job's events as Server-Sent Events: first those after
// Last-Event-ID (all of them without it), then new ones as they happen. The
// stream ends after the job's final event.
func (s *Server) jobEvents(c *gin.Context) {
	ctx := c.Request.Context()
	tenantID, jobID := caller(c).TenantID, c.Param("id")
	if _, err := s.jobs.Get(ctx, tenantID, jobID); err != nil {
		s.fail(c, err)
		return
	}
	after, err := lastEventID(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	changed, stop := s.jobs.Subscribe(ctx, jobID)
	defer stop()
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	c.Writer.Flush()

	keepAlive := time.NewTicker(sseKeepAlive)
	defer keepAlive.Stop()
	for {
		events, err := s.jobs.Events(ctx, tenantID, jobID, after)
		if err != nil {
			logger(c, s.log).WarnContext(ctx, "read job events", "job_id", jobID, "err", err)
			return
		}
		for _, e := range events {
			fmt.Fprintf(c.Writer, "id: %d\nevent: %s\ndata: %s\n\n", e.ID, e.Type, e.Data)
			after = e.ID
			if isFinalEvent(e.Type) {
				c.Writer.Flush()
				return
			}
		}
		c.Writer.Flush()
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-keepAlive.C:
			fmt.Fprint(c.Writer, ": keep-alive\n\n")
		}
	}
}

func isFinalEvent(typ string) bool {
	return typ == jobs.EventSucceeded || typ == jobs.EventFailed || typ == jobs.EventCanceled
}

// lastEventID reads where a reconnecting client left off: the
// Last-Event-ID header, or ?last_event_id= for clients that cannot set it.
func lastEventID(c *gin.Context) (int64, error) {
	raw := c.GetHeader("Last-Event-ID")
	if raw == "" {
		raw = c.Query("last_event_id")
	}
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 {
		return 0, fieldProblem("Last-Event-ID", "must be the id of an event this stream sent")
	}
	return n, nil
}
