package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

// WebhookEvents are the filters a job's webhook_events may hold.
var WebhookEvents = []string{"start", "progress", "completed"}

// SubmitRequest is everything a submit takes. The API fills TenantID and
// CreatedBy from the caller and resolves SiteID within the tenant.
type SubmitRequest struct {
	TenantID      string
	CreatedBy     string
	Kind          string
	Input         json.RawMessage
	SiteID        string
	Priority      Priority
	RunAt         *time.Time
	Webhook       string
	WebhookEvents []string
	Metadata      json.RawMessage
	RetryOf       string
}

// Estimate is what a job would cost.
type Estimate struct {
	Kind    string `json:"kind"`
	Units   int64  `json:"units"`
	Price   int64  `json:"price"`
	Credits int64  `json:"credits"`
}

// prepared is a validated request with its kind and cost.
type prepared struct {
	req   SubmitRequest
	kind  *Kind
	input json.RawMessage
	units int64
}

// prepare validates a request, collecting every bad field.
func (s *Service) prepare(req SubmitRequest) (prepared, error) {
	var f problem.FieldErrors
	k, ok := s.kinds.Get(req.Kind)
	if !ok {
		f.Add("kind", "is not a known job kind; GET /api/v1/job-kinds lists them")
	}
	if req.Priority == "" && ok {
		req.Priority = k.Priority
	}
	f.Check(!req.Priority.Valid(), "priority", "must be low, normal or high")
	f.Check(req.RunAt != nil && req.RunAt.After(time.Now().Add(366*24*time.Hour)), "run_at", "must be within a year")
	if req.Webhook != "" {
		u, err := url.Parse(req.Webhook)
		f.Check(err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "", "webhook", "must be an absolute http or https URL")
	}
	for _, e := range req.WebhookEvents {
		f.Check(!slices.Contains(WebhookEvents, e), "webhook_events", "each must be start, progress or completed")
	}
	if len(req.Metadata) == 0 || string(req.Metadata) == "null" {
		req.Metadata = json.RawMessage(`{}`)
	}
	f.Check(!isObject(req.Metadata), "metadata", "must be a JSON object")
	f.Check(len(req.Metadata) > 16<<10, "metadata", "must be at most 16 KiB")
	p := prepared{req: req, kind: k}
	if ok {
		if len(req.Input) == 0 || string(req.Input) == "null" {
			req.Input = json.RawMessage(`{}`)
		}
		in, err := k.Validate(req.Input)
		if pr, isProblem := problem.As(err); isProblem && len(pr.Fields) > 0 {
			for field, reason := range pr.Fields {
				if field != "input" {
					field = "input." + field
				}
				f.Add(field, reason)
			}
		} else if err != nil {
			f.Add("input", err.Error())
		}
		p.input = in
		p.units = k.Units(in)
	}
	return p, f.Err()
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{' && json.Valid(raw)
}

// Estimate prices a request without submitting it.
func (s *Service) Estimate(ctx context.Context, req SubmitRequest) (Estimate, error) {
	p, err := s.prepare(req)
	if err != nil {
		return Estimate{}, err
	}
	unit, err := price(ctx, s.db, req.TenantID, p.kind)
	if err != nil {
		return Estimate{}, err
	}
	return Estimate{Kind: p.kind.Name, Units: p.units, Price: unit, Credits: unit * p.units}, nil
}

// Submit records a job and reserves its cost in one transaction, then
// enqueues it when its tenant has room (fair admission) and it is due. A
// job whose enqueue fails after commit is still run: the relay enqueues it.
func (s *Service) Submit(ctx context.Context, req SubmitRequest) (Job, error) {
	p, err := s.prepare(req)
	if err != nil {
		return Job{}, err
	}
	var j Job
	err = pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		j, err = s.insert(ctx, tx, p)
		return err
	})
	if err != nil {
		return Job{}, err
	}
	if j.admitted {
		s.enqueue(ctx, j)
	}
	return j, nil
}

func (s *Service) insert(ctx context.Context, tx pgx.Tx, p prepared) (Job, error) {
	req := p.req
	unit, err := price(ctx, tx, req.TenantID, p.kind)
	if err != nil {
		return Job{}, err
	}
	cost := unit * p.units
	id := ids.New("job")
	status, runAt := StatusQueued, time.Now()
	if req.RunAt != nil && req.RunAt.After(runAt) {
		status, runAt = StatusScheduled, *req.RunAt
	}
	admit := false
	if status == StatusQueued {
		if admit, err = s.hasRoom(ctx, tx, req.TenantID); err != nil {
			return Job{}, err
		}
	}
	j, err := s.scanJob(tx.QueryRow(ctx, `INSERT INTO jobs (id, tenant_id, site_id, kind, status, priority, input,
			max_attempts, timeout_ms, run_at, credits_reserved, webhook, webhook_events, metadata, retry_of, created_by, admitted_at)
		VALUES ($1, $2, nullif($3, ''), $4, $5, $6, $7, $8, $9, $10, $11, nullif($12, ''), $13, $14, nullif($15, ''), nullif($16, ''),
			CASE WHEN $17 THEN now() END)
		RETURNING `+jobCols,
		id, req.TenantID, req.SiteID, p.kind.Name, status, req.Priority, p.input,
		p.kind.MaxAttempts, p.kind.Timeout.Milliseconds(), runAt, cost, req.Webhook, nonNil(req.WebhookEvents), req.Metadata,
		req.RetryOf, req.CreatedBy, admit))
	if pg.IsForeignKeyViolation(err) {
		return Job{}, problem.NotFoundf("site")
	}
	if err != nil {
		return Job{}, fmt.Errorf("insert job: %w", err)
	}
	if err := reserve(ctx, tx, req.TenantID, id, cost); err != nil {
		return Job{}, err
	}
	typ := EventQueued
	if status == StatusScheduled {
		typ = EventScheduled
	}
	return j, addEvent(ctx, tx, id, typ, map[string]any{"status": status, "run_at": runAt})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// hasRoom reports whether the tenant has fewer admitted, unfinished jobs
// than its cap. Concurrent submits may pass the cap by a few; it is a
// fairness bound, not a hard limit.
func (s *Service) hasRoom(ctx context.Context, q pg.Querier, tenantID string) (bool, error) {
	var active int
	err := q.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM jobs WHERE tenant_id = $1
		AND admitted_at IS NOT NULL AND status IN ('queued', 'running') LIMIT $2) a`, tenantID, s.cfg.TenantMaxActive).Scan(&active)
	if err != nil {
		return false, fmt.Errorf("count active jobs of %s: %w", tenantID, err)
	}
	return active < s.cfg.TenantMaxActive, nil
}

// enqueue hands an admitted job to Asynq, with the job id as the TaskID so
// a second enqueue of the same job is refused. Failure is logged, not
// returned: the relay enqueues what is missing.
func (s *Service) enqueue(ctx context.Context, j Job) {
	k, ok := s.kinds.Get(j.Kind)
	if !ok {
		s.log.ErrorContext(ctx, "enqueue: kind is not registered here", "job_id", j.ID, "kind", j.Kind)
		return
	}
	task := asynq.NewTask(j.Kind, []byte(j.ID))
	_, err := s.queue.EnqueueContext(ctx, task,
		asynq.TaskID(j.ID), asynq.Queue(s.Queue(j.Priority)),
		asynq.MaxRetry(k.MaxAttempts+2), // Postgres decides; Asynq's count is a backstop
		asynq.Timeout(k.Timeout+time.Minute))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		s.log.WarnContext(ctx, "enqueue failed; the relay will retry", "job_id", j.ID, "err", err)
	}
}
