package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/pg"
)

// Run is what a handler gets: the job, and ways to report progress, log,
// and record usage.
type Run struct {
	Job Job
	// Logger is the engine's logger with the job's id, kind, attempt and, when
	// the submitting request carried one, its trace id.
	Logger *slog.Logger
	svc    *Service
	usage  *int64
}

// Input decodes the job's input into v.
func (r *Run) Input(v any) error {
	if err := json.Unmarshal(r.Job.Input, v); err != nil {
		return Permanent("invalid_input", "the job's input cannot be decoded", err)
	}
	return nil
}

// Progress records how far along the job is (0-100) with a message, and
// announces it to listeners.
func (r *Run) Progress(ctx context.Context, percent int, message string) error {
	percent = max(0, min(100, percent))
	err := pg.InTx(ctx, r.svc.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE jobs SET progress = $2, progress_message = $3, heartbeat_at = now(), updated_at = now()
			WHERE id = $1 AND status = 'running'`, r.Job.ID, percent, message)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return addEvent(ctx, tx, r.Job.ID, EventProgress, map[string]any{"progress": percent, "message": message})
	})
	if err != nil {
		return fmt.Errorf("report progress of %s: %w", r.Job.ID, err)
	}
	r.svc.announce(ctx, r.Job.ID)
	return nil
}

// Log appends a line to the job's history.
func (r *Run) Log(ctx context.Context, level, message string) error {
	if err := addEvent(ctx, r.svc.db, r.Job.ID, EventLog, map[string]any{"level": level, "message": message}); err != nil {
		return err
	}
	r.svc.announce(ctx, r.Job.ID)
	return nil
}

// SetUsage records the credits the job really used; without it a job that
// succeeds is charged its full reservation.
func (r *Run) SetUsage(credits int64) { *r.usage = credits }

// cancels maps the ids of jobs running in this process to the cancel
// functions of their handlers' contexts.
type cancels struct {
	mu sync.Mutex
	m  map[string]context.CancelCauseFunc
}

func newCancels() *cancels { return &cancels{m: map[string]context.CancelCauseFunc{}} }

func (c *cancels) add(id string, f context.CancelCauseFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[id] = f
}

func (c *cancels) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

func (c *cancels) cancel(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.m[id]
	if ok {
		f(errCanceled)
	}
	return ok
}

// Causes of a handler's context ending that the engine tells apart.
var (
	errCanceled  = errors.New("job canceled")
	errGivenBack = errors.New("job given back to the queue at shutdown")
	errTimeout   = errors.New("job timed out")
)

// Register adds the engine's task handler to mux for every kind.
func (s *Service) Register(mux *asynq.ServeMux) {
	for _, k := range s.kinds.List() {
		mux.HandleFunc(k.Name, s.ProcessTask)
	}
}

// ProcessTask runs one delivery of a job: it marks the job running, runs
// the kind's handler with its timeout and a cancel hook, and records the
// outcome. What it returns tells Asynq whether to retry: Postgres decides.
func (s *Service) ProcessTask(ctx context.Context, t *asynq.Task) error {
	jobID := string(t.Payload())
	k, known := s.kinds.Get(t.Type()) // the task type is the kind
	if !known {
		return fmt.Errorf("job %s: no handler here for kind %s", jobID, t.Type())
	}
	j, ok, err := s.start(ctx, jobID)
	if err != nil {
		return fmt.Errorf("start job %s: %w", jobID, err)
	}
	if !ok {
		return nil // final already (canceled, say): acknowledge, never run again
	}
	result, usage, runErr := s.runHandler(ctx, k, j)
	return s.finish(ctx, j, result, usage, runErr)
}

// start moves a job to running and counts the attempt (grouped with other
// deliveries). It reports false when the job is final or gone, or was
// canceled while queued, in which case it ends the job canceled.
func (s *Service) start(ctx context.Context, jobID string) (Job, bool, error) {
	r := s.starts.do(jobID)
	if r.err != nil || r.ok {
		return r.job, r.ok, r.err
	}
	var tenantID string
	var requested bool
	err := s.db.QueryRow(ctx, `SELECT tenant_id, cancel_requested FROM jobs WHERE id = $1 AND status IN ('queued', 'running', 'scheduled')`,
		jobID).Scan(&tenantID, &requested)
	if errors.Is(err, pgx.ErrNoRows) {
		return Job{}, false, nil
	}
	if err != nil {
		return Job{}, false, fmt.Errorf("read job %s: %w", jobID, err)
	}
	if requested {
		_, err = s.cancelNow(ctx, tenantID, jobID)
	}
	return Job{}, false, err
}

// runHandler runs the handler with the kind's timeout, a cancel hook, a
// heartbeat, and panic recovery.
func (s *Service) runHandler(ctx context.Context, k *Kind, j Job) (result any, usage int64, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ctx, stop := context.WithTimeoutCause(ctx, j.timeout, errTimeout)
	defer stop()
	s.cancel.add(j.ID, cancel)
	defer s.cancel.remove(j.ID)
	go s.heartbeat(ctx, j.ID)

	usage = j.Credits.Reserved
	run := &Run{Job: j, Logger: s.jobLogger(j), svc: s, usage: &usage}
	defer func() {
		if r := recover(); r != nil {
			s.log.ErrorContext(ctx, "job handler panicked", "job_id", j.ID, "kind", j.Kind, "panic", r, "stack", string(debug.Stack()))
			err = Permanent("internal_error", "the job's handler crashed; it will not be retried", fmt.Errorf("panic: %v", r))
		}
	}()
	result, err = k.Handler(ctx, run)
	switch cause := context.Cause(ctx); {
	case err == nil || cause == nil:
	case errors.Is(cause, context.Canceled) && s.draining.Load():
		// Asynq gave the task back at shutdown: the job stays running in
		// Postgres and its next delivery runs it again.
		err = errGivenBack
	case errors.Is(cause, context.Canceled):
		// Asynq canceled the task (asynqmon's cancel, say): a cancel like
		// ours. Asynq will deliver it again, and that delivery sees the
		// job final and is acknowledged without running.
		err = errCanceled
	default:
		err = cause // our timeout or cancel stopped the handler
	}
	return result, usage, err
}

// jobLogger is the logger a job's handler gets.
func (s *Service) jobLogger(j Job) *slog.Logger {
	l := s.log.With("job_id", j.ID, "kind", j.Kind, "attempt", j.Attempt)
	if id := TraceID(j.traceParent); id != "" {
		l = l.With("trace_id", id)
	}
	return l
}

// TraceID returns the trace id of a W3C traceparent header
// (version-traceid-parentid-flags), or "" when it is not one.
func TraceID(traceParent string) string {
	parts := strings.Split(traceParent, "-")
	if len(parts) != 4 || len(parts[1]) != 32 || strings.Trim(parts[1], "0123456789abcdef") != "" || strings.Trim(parts[1], "0") == "" {
		return ""
	}
	return parts[1]
}

// heartbeat marks the job alive every 10 s while its handler runs, so the
// relay can tell a running job from one whose worker died.
func (s *Service) heartbeat(ctx context.Context, jobID string) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.db.Exec(ctx, `UPDATE jobs SET heartbeat_at = now() WHERE id = $1 AND status = 'running'`, jobID); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "job heartbeat", "job_id", jobID, "err", err)
			}
		}
	}
}
