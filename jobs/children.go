package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
)

// Fan-out: a handler splits its work into child jobs of Internal kinds
// (one per language, say), parks with Await, and is woken as each child
// finishes; once all are final it reads their outcomes and usage. The
// parent reserves for the whole and captures what its children used:
// children reserve nothing. Children share the parent's tenant, site and
// priority, run with their own attempts and retries, and are canceled
// with it.

// ChildRequest is one child job: Key names it within its parent (a second
// submit with the same key returns the existing child), Kind must be an
// Internal kind.
type ChildRequest struct {
	Key   string
	Kind  string
	Input any
}

// SubmitChildren creates the parent's children that do not exist yet and
// returns all its children, oldest first.
func (r *Run) SubmitChildren(ctx context.Context, reqs []ChildRequest) ([]Job, error) {
	s, parent := r.svc, r.Job
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		for _, c := range reqs {
			if err := s.insertChild(ctx, tx, parent, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("submit children of %s: %w", parent.ID, err)
	}
	s.admitNext(ctx, parent.TenantID, s.cfg.TenantMaxActive)
	return r.Children(ctx)
}

// insertChild inserts one child with a zero reservation and its first
// event, unless the parent already has a child with its key.
func (s *Service) insertChild(ctx context.Context, tx pgx.Tx, parent Job, c ChildRequest) error {
	k, ok := s.kinds.Get(c.Kind)
	if !ok || !k.Internal {
		return fmt.Errorf("child kind %q is not a registered internal kind", c.Kind)
	}
	raw, err := json.Marshal(c.Input)
	if err != nil {
		return fmt.Errorf("encode input of child %s: %w", c.Key, err)
	}
	input, err := k.Validate(raw)
	if err != nil {
		return fmt.Errorf("child %s: %w", c.Key, err)
	}
	id := ids.New("job")
	// No child is added to a parent that is no longer running (canceled
	// meanwhile): it would run with nobody to pay for it.
	tag, err := tx.Exec(ctx, `INSERT INTO jobs (id, tenant_id, site_id, kind, status, priority, input, webhook_events, metadata,
			max_attempts, timeout_ms, credits_reserved, run_at, traceparent, parent_id, child_key)
		SELECT $1, $2, $3, $4, 'queued', $5, $6::jsonb, '{}', '{}', $7, $8, 0, now(), nullif($9, ''), $10, $11
		WHERE EXISTS (SELECT 1 FROM jobs p WHERE p.id = $10 AND p.status = 'running' AND NOT p.cancel_requested)
		ON CONFLICT (parent_id, child_key) WHERE parent_id IS NOT NULL DO NOTHING`,
		id, parent.TenantID, parent.SiteID, k.Name, string(parent.Priority), string(input), k.MaxAttempts, k.Timeout.Milliseconds(),
		parent.traceParent, parent.ID, c.Key)
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO credit_ledger (tenant_id, job_id, entry, amount) VALUES ($1, $2, 'reserve', 0)`,
		parent.TenantID, id); err != nil {
		return fmt.Errorf("record the reservation of child %s: %w", c.Key, err)
	}
	return addEvent(ctx, tx, id, EventQueued, map[string]any{"status": StatusQueued, "parent_id": parent.ID})
}

// Children returns the job's children, oldest first, each with its status,
// result, error and Usage.
func (r *Run) Children(ctx context.Context) ([]Job, error) {
	return r.svc.children(ctx, r.Job.TenantID, r.Job.ID)
}

// Children returns a job's children, oldest first.
func (s *Service) Children(ctx context.Context, tenantID, jobID string) ([]Job, error) {
	if _, err := s.Get(ctx, tenantID, jobID); err != nil {
		return nil, err
	}
	return s.children(ctx, tenantID, jobID)
}

func (s *Service) children(ctx context.Context, tenantID, jobID string) ([]Job, error) {
	rows, err := s.db.Query(ctx, `SELECT `+jobCols+` FROM jobs WHERE tenant_id = $1 AND parent_id = $2 ORDER BY id`, tenantID, jobID)
	if err != nil {
		return nil, fmt.Errorf("list children of %s: %w", jobID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) { return s.scanJob(r) })
	if err != nil {
		return nil, fmt.Errorf("list children of %s: %w", jobID, err)
	}
	return out, nil
}

// cancelChildren cancels a canceled job's children that are not final.
func (s *Service) cancelChildren(ctx context.Context, tenantID, jobID string) {
	kids, err := s.children(ctx, tenantID, jobID)
	if err != nil {
		s.log.WarnContext(ctx, "cancel children", "job_id", jobID, "err", err)
		return
	}
	for _, k := range kids {
		if k.Status.Final() {
			continue
		}
		if _, err := s.Cancel(ctx, tenantID, k.ID); err != nil {
			s.log.WarnContext(ctx, "cancel child", "job_id", k.ID, "parent_id", jobID, "err", err)
		}
	}
}

// childrenUsage is what a job's succeeded children used, which a canceled
// parent still pays for; 0 for a job without children.
func (s *Service) childrenUsage(jobID string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var used int64
	err := s.db.QueryRow(ctx, `SELECT coalesce(sum(usage), 0) FROM jobs WHERE parent_id = $1 AND status = 'succeeded'`, jobID).Scan(&used)
	if err != nil {
		s.log.Warn("read the usage of a canceled job's children; charging none", "job_id", jobID, "err", err)
	}
	return used
}

// child reports whether j was fanned out by another job.
func (j Job) child() bool { return j.ParentID != nil }
