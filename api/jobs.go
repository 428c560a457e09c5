package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
)

// maxWait is the longest a GET /jobs/{id} may be held by Prefer: wait=N.
const maxWait = 60 * time.Second

type submitRequest struct {
	Kind          string          `json:"kind"`
	Input         json.RawMessage `json:"input"`
	SiteID        string          `json:"site_id"`
	Priority      jobs.Priority   `json:"priority"`
	RunAt         *time.Time      `json:"run_at"`
	Webhook       string          `json:"webhook"`
	WebhookEvents []string        `json:"webhook_events"`
	Metadata      json.RawMessage `json:"metadata"`
}

// jobKind is a kind as GET /job-kinds publishes it.
type jobKind struct {
	Name            string          `json:"name"`
	Description     string          `json:"description"`
	InputSchema     json.RawMessage `json:"input_schema"`
	DefaultPriority jobs.Priority   `json:"default_priority"`
	TimeoutSeconds  int             `json:"timeout_seconds"`
	MaxAttempts     int             `json:"max_attempts"`
	// Price is credits per unit; POST /jobs/estimate prices an input.
	Price int64 `json:"price"`
}

func (s *Server) listJobKinds(c *gin.Context) {
	ctx := c.Request.Context()
	costs, err := s.jobs.Costs(ctx, caller(c).TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	prices := map[string]int64{}
	for _, cost := range costs {
		prices[cost.Kind] = cost.Credits
	}
	var out []jobKind
	for _, k := range s.jobs.Kinds().List() {
		if k.Internal {
			continue // run only as another kind's children
		}
		out = append(out, jobKind{Name: k.Name, Description: k.Description, InputSchema: k.Schema,
			DefaultPriority: k.Priority, TimeoutSeconds: int(k.Timeout.Seconds()), MaxAttempts: k.MaxAttempts,
			Price: prices[k.Name]})
	}
	writeList(c, out, "")
}

// submitRequestOf reads a submit body and resolves its site in the
// caller's tenant (by id or slug).
func (s *Server) submitRequestOf(c *gin.Context) (jobs.SubmitRequest, error) {
	var req submitRequest
	if err := bindJSON(c, &req); err != nil {
		return jobs.SubmitRequest{}, err
	}
	p := caller(c)
	out := jobs.SubmitRequest{TenantID: p.TenantID, CreatedBy: p.ID, Kind: req.Kind, Input: req.Input,
		Priority: req.Priority, RunAt: req.RunAt, Webhook: req.Webhook, WebhookEvents: req.WebhookEvents, Metadata: req.Metadata}
	if tp := c.GetHeader("traceparent"); jobs.TraceID(tp) != "" {
		out.TraceParent = tp
	}
	if req.SiteID != "" {
		site, err := s.content.GetSite(c.Request.Context(), p.TenantID, req.SiteID)
		if err != nil {
			return out, err
		}
		out.SiteID = site.ID
	}
	return out, nil
}

// submitJob answers 202 with the job and its Location. Resource routes that
// start work (posts from a URL, say) submit through here too.
func (s *Server) submitJob(c *gin.Context) {
	req, err := s.submitRequestOf(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.accept(c, req)
}

// accept submits req and answers 202 Accepted with the job.
func (s *Server) accept(c *gin.Context, req jobs.SubmitRequest) {
	j, err := s.jobs.Submit(c.Request.Context(), req)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", j.URLs.Self)
	c.JSON(http.StatusAccepted, j)
}

func (s *Server) estimateJob(c *gin.Context) {
	req, err := s.submitRequestOf(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	est, err := s.jobs.Estimate(c.Request.Context(), req)
	if err != nil {
		s.fail(c, err)
		return
	}
	bal, err := s.jobs.Balance(c.Request.Context(), req.TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"kind": est.Kind, "units": est.Units, "price": est.Price, "credits": est.Credits,
		"balance": bal.Balance, "affordable": bal.Balance >= est.Credits})
}

// getJob answers a job's status. Prefer: wait=N holds the answer until the
// job is final or N seconds (at most 60) pass; If-None-Match answers 304
// while the job has not changed.
func (s *Server) getJob(c *gin.Context) {
	ctx := c.Request.Context()
	wait, asked := preferWait(c.GetHeader("Prefer"))
	j, err := s.jobs.Wait(ctx, caller(c).TenantID, c.Param("id"), wait)
	if err != nil {
		s.fail(c, err)
		return
	}
	if asked {
		c.Header("Preference-Applied", fmt.Sprintf("wait=%d", int(wait.Seconds())))
	}
	etag := fmt.Sprintf(`W/"%s-%d"`, j.ID, j.UpdatedAt.UnixMicro())
	c.Header("ETag", etag)
	if match := c.GetHeader("If-None-Match"); match != "" && (match == etag || match == "*") {
		c.Status(http.StatusNotModified)
		return
	}
	c.JSON(http.StatusOK, j)
}

// preferWait reads wait=N from a Prefer header (RFC 7240), capped at 60 s.
func preferWait(header string) (time.Duration, bool) {
	for _, part := range strings.FieldsFunc(header, func(r rune) bool { return r == ',' || r == ';' }) {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !strings.EqualFold(name, "wait") {
			continue
		}
		n, err := strconv.Atoi(strings.Trim(value, `" `))
		if err != nil || n < 0 {
			return 0, false
		}
		return min(time.Duration(n)*time.Second, maxWait), true
	}
	return 0, false
}

func (s *Server) listJobs(c *gin.Context) {
	var f problem.FieldErrors
	filter := jobs.Filter{Status: jobs.Status(c.Query("status")), Kind: c.Query("kind")}
	f.Check(filter.Status != "" && !filter.Status.Valid(), "status", "must be scheduled, queued, running, succeeded, failed or canceled")
	filter.CreatedAfter = timeParam(c, &f, "created_after")
	filter.CreatedBefore = timeParam(c, &f, "created_before")
	if err := f.Err(); err != nil {
		s.fail(c, err)
		return
	}
	if ref := c.Query("site_id"); ref != "" {
		site, err := s.content.GetSite(c.Request.Context(), caller(c).TenantID, ref)
		if err != nil {
			s.fail(c, err)
			return
		}
		filter.SiteID = site.ID
	}
	listed(s, func(c *gin.Context, page pg.Page) ([]jobs.Job, string, error) {
		return s.jobs.List(c.Request.Context(), caller(c).TenantID, filter, page)
	})(c)
}

func timeParam(c *gin.Context, f *problem.FieldErrors, name string) *time.Time {
	raw := c.Query(name)
	if raw == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		f.Add(name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
		return nil
	}
	return &t
}

func (s *Server) cancelJob(c *gin.Context) {
	j, err := s.jobs.Cancel(c.Request.Context(), caller(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, j)
}

func (s *Server) retryJob(c *gin.Context) {
	p := caller(c)
	j, err := s.jobs.Retry(c.Request.Context(), p.TenantID, c.Param("id"), p.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", j.URLs.Self)
	c.JSON(http.StatusAccepted, j)
}
