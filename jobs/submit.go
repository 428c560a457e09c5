package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"time"

	"github.com/hibiken/asynq"

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
	// TraceParent is the submitting request's W3C traceparent header, if
	// any; the worker logs its trace id with the job's lines.
	TraceParent string
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
	} else if k.Internal {
		f.Add("kind", "is internal: only its parent kind runs it")
		ok = false
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

// Submit records a job and reserves its cost, then enqueues it when its
// tenant has room (fair admission) and it is due. Concurrent submits share
// one transaction (group commit); each gets its own answer. A job whose
// enqueue fails after commit is still run: the relay enqueues it.
func (s *Service) Submit(ctx context.Context, req SubmitRequest) (Job, error) {
	p, err := s.prepare(req)
	if err != nil {
		return Job{}, err
	}
	if req.Webhook != "" && s.cfg.CheckWebhook != nil {
		if err := s.cfg.CheckWebhook(ctx, req.Webhook); err != nil {
			var f problem.FieldErrors
			f.Add("webhook", err.Error())
			return Job{}, f.Err()
		}
	}
	if p.kind.Preflight != nil {
		if err := p.kind.Preflight(ctx, req.TenantID, p.input); err != nil {
			return Job{}, err
		}
	}
	r := s.submits.do(p)
	if r.err != nil {
		return Job{}, r.err
	}
	s.cfg.Metrics.JobsSubmitted.WithLabelValues(r.job.Kind).Inc()
	if r.job.admitted {
		s.enqueue(ctx, r.job)
	}
	return r.job, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// enqueue hands an admitted job to Asynq, with the job id as the TaskID so
// a second enqueue of the same job is refused. Failure is logged, not
// returned: the relay enqueues what is missing.
func (s *Service) enqueue(ctx context.Context, j Job) {
	err := s.enqueueTask(ctx, j)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		s.log.WarnContext(ctx, "enqueue failed; the relay will retry", "job_id", j.ID, "err", err)
	}
}

// enqueueTask hands a job's task to Asynq; ErrTaskIDConflict means Asynq
// still holds a task of the job.
func (s *Service) enqueueTask(ctx context.Context, j Job) error {
	k, ok := s.kinds.Get(j.Kind)
	if !ok {
		s.log.ErrorContext(ctx, "enqueue: kind is not registered here", "job_id", j.ID, "kind", j.Kind)
		return nil
	}
	var headers map[string]string
	if j.traceParent != "" {
		headers = map[string]string{"traceparent": j.traceParent}
	}
	task := asynq.NewTaskWithHeaders(j.Kind, []byte(j.ID), headers)
	_, err := s.queue.EnqueueContext(ctx, task,
		asynq.TaskID(j.ID), asynq.Queue(s.Queue(j.Priority)),
		asynq.MaxRetry(k.MaxAttempts+2), // Postgres decides; Asynq's count is a backstop
		asynq.Timeout(k.Timeout+time.Minute))
	return err
}
