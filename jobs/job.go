package jobs

import (
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// Status is where a job is in its lifecycle (CONVENTIONS.md section 1).
type Status string

// The statuses. Succeeded, failed and canceled are final.
const (
	StatusScheduled Status = "scheduled"
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusCanceled  Status = "canceled"
)

// Final reports whether s never changes again.
func (s Status) Final() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusCanceled
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusScheduled, StatusQueued, StatusRunning, StatusSucceeded, StatusFailed, StatusCanceled:
		return true
	}
	return false
}

// Job is the public view of a job.
type Job struct {
	ID              string          `json:"id"`
	Kind            string          `json:"kind"`
	Status          Status          `json:"status"`
	Progress        int             `json:"progress"`
	ProgressMessage string          `json:"progress_message"`
	Input           json.RawMessage `json:"input"`
	Result          json.RawMessage `json:"result"`
	Error           *JobError       `json:"error"`
	Attempt         int             `json:"attempt"`
	MaxAttempts     int             `json:"max_attempts"`
	Priority        Priority        `json:"priority"`
	RunAt           time.Time       `json:"run_at"`
	CreatedAt       time.Time       `json:"created_at"`
	StartedAt       *time.Time      `json:"started_at"`
	FinishedAt      *time.Time      `json:"finished_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	Credits         Credits         `json:"credits"`
	Webhook         *string         `json:"webhook"`
	WebhookEvents   []string        `json:"webhook_events"`
	SiteID          *string         `json:"site_id"`
	Metadata        json.RawMessage `json:"metadata"`
	RetryOf         *string         `json:"retry_of"`
	// ParentID is the job that fanned this one out, if any.
	ParentID *string `json:"parent_id,omitempty"`
	// QueuePosition is roughly how many jobs of the same priority are
	// ahead of a queued job; nil when not queued.
	QueuePosition *int `json:"queue_position,omitempty"`
	URLs          URLs `json:"urls"`

	TenantID string `json:"-"`
	// Usage is the credits the handler reported using once the job is
	// final (a child's is charged to its parent); 0 before.
	Usage    int64 `json:"-"`
	admitted bool
	timeout  time.Duration
	// traceParent is the W3C trace context of the request that submitted
	// the job; it rides in the Asynq task's headers.
	traceParent string
}

// JobError is why a job failed.
type JobError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Credits are what a job reserved and, once settled, was charged.
type Credits struct {
	Reserved int64  `json:"reserved"`
	Charged  *int64 `json:"charged"`
}

// URLs are the job's links.
type URLs struct {
	Self   string `json:"self"`
	Cancel string `json:"cancel"`
	Events string `json:"events"`
}

const jobCols = `id, tenant_id, kind, status, progress, progress_message, input, result, error_code, error_message,
	attempt, max_attempts, priority, run_at, created_at, started_at, finished_at, updated_at,
	credits_reserved, credits_charged, webhook, webhook_events, site_id, metadata, retry_of,
	admitted_at IS NOT NULL, timeout_ms, coalesce(traceparent, ''), parent_id, coalesce(usage, 0)`

func (s *Service) scanJob(row pgx.Row) (Job, error) {
	var j Job
	var code, msg *string
	var timeoutMS int64
	err := row.Scan(&j.ID, &j.TenantID, &j.Kind, &j.Status, &j.Progress, &j.ProgressMessage, &j.Input, &j.Result, &code, &msg,
		&j.Attempt, &j.MaxAttempts, &j.Priority, &j.RunAt, &j.CreatedAt, &j.StartedAt, &j.FinishedAt, &j.UpdatedAt,
		&j.Credits.Reserved, &j.Credits.Charged, &j.Webhook, &j.WebhookEvents, &j.SiteID, &j.Metadata, &j.RetryOf,
		&j.admitted, &timeoutMS, &j.traceParent, &j.ParentID, &j.Usage)
	if err != nil {
		return Job{}, err
	}
	if code != nil {
		j.Error = &JobError{Code: *code, Message: deref(msg)}
	}
	j.timeout = time.Duration(timeoutMS) * time.Millisecond
	j.URLs = s.urls(j.ID)
	return j, nil
}

// urls are a job's links.
func (s *Service) urls(id string) URLs {
	base := s.cfg.PublicURL + "/api/v1/jobs/" + id
	return URLs{Self: base, Cancel: base + "/cancel", Events: base + "/events"}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
