package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/internal/problem"
)

// Admin monitoring, as in the Cognitor admin API: health of the parts,
// queue depths, job latency per kind, and rate-limit refusals.

// check is one dependency's health.
type check struct {
	Status    string  `json:"status"`
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

func timed(ctx context.Context, f func(context.Context) error) check {
	start := time.Now()
	err := f(ctx)
	c := check{Status: "ok", LatencyMS: float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		c.Status, c.Error = "down", err.Error()
	}
	return c
}

// systemHealth answers GET /admin/monitoring/system-health: Postgres and
// Redis with their latency, and the worker processes Asynq knows of.
func (s *Server) systemHealth(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]check{
		"postgres": timed(ctx, s.db.Ping),
		"redis":    timed(ctx, func(ctx context.Context) error { return s.redis.Ping(ctx).Err() }),
	}
	status := "ok"
	for _, ch := range checks {
		if ch.Status != "ok" {
			status = "degraded"
		}
	}
	workers := []gin.H{}
	servers, err := s.insp.Servers()
	if err != nil {
		status = "degraded"
	}
	active := 0
	for _, sv := range servers {
		active += len(sv.ActiveWorkers)
		workers = append(workers, gin.H{"host": sv.Host, "pid": sv.PID, "concurrency": sv.Concurrency,
			"active": len(sv.ActiveWorkers), "status": sv.Status, "started_at": sv.Started})
	}
	c.JSON(http.StatusOK, gin.H{"status": status, "version": s.cfg.Version, "checks": checks,
		"workers": workers, "active_tasks": active, "checked_at": time.Now().UTC()})
}

// queueStats answers GET /admin/monitoring/queue-stats: every Asynq queue
// of this installation, and the open jobs Postgres holds by status.
func (s *Server) queueStats(c *gin.Context) {
	ctx := c.Request.Context()
	names, err := s.insp.Queues()
	if err != nil {
		s.fail(c, problem.New(problem.Unavailable, "dependency_unavailable", "cannot read the queues from Redis: "+err.Error()))
		return
	}
	queues := []gin.H{}
	for _, name := range names {
		if !s.ownQueue(name) {
			continue
		}
		q, err := s.insp.GetQueueInfo(name)
		if err != nil {
			continue // the queue went away meanwhile
		}
		queues = append(queues, gin.H{"queue": q.Queue, "size": q.Size, "pending": q.Pending, "active": q.Active,
			"scheduled": q.Scheduled, "retry": q.Retry, "archived": q.Archived, "completed": q.Completed,
			"processed_today": q.Processed, "failed_today": q.Failed, "latency_seconds": q.Latency.Seconds(), "paused": q.Paused})
	}
	open, err := s.jobs.OpenCounts(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"queues": queues, "jobs": open})
}

// ownQueue reports whether an Asynq queue belongs to this installation's
// namespace.
func (s *Server) ownQueue(name string) bool {
	if s.cfg.Namespace == "" {
		return !strings.Contains(name, ":")
	}
	return strings.HasPrefix(name, s.cfg.Namespace+":")
}

// performanceMetrics answers GET /admin/monitoring/performance-metrics:
// per kind, outcomes and run-time and queue-wait percentiles of the jobs
// created in the window (?window=1h, at most 7 days).
func (s *Server) performanceMetrics(c *gin.Context) {
	window := time.Hour
	if raw := c.Query("window"); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 || d > 7*24*time.Hour {
			s.fail(c, fieldProblem("window", "must be a duration such as 15m or 24h, at most 168h"))
			return
		}
		window = d
	}
	kinds, err := s.jobs.Performance(c.Request.Context(), window)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"window_seconds": window.Seconds(), "kinds": kinds})
}

// rateLimitStats answers GET /admin/monitoring/rate-limit-stats: the last
// hour's refusals across every API process, and the defaults.
func (s *Server) rateLimitStats(c *gin.Context) {
	if s.limits == nil {
		c.JSON(http.StatusOK, gin.H{"enabled": false})
		return
	}
	st, err := s.limits.Stats(c.Request.Context())
	if err != nil {
		s.fail(c, problem.New(problem.Unavailable, "dependency_unavailable", "cannot read rate-limit statistics from Redis: "+err.Error()))
		return
	}
	c.JSON(http.StatusOK, gin.H{"enabled": true, "stats": st})
}
