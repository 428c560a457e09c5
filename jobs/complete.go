package jobs

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/metrics"
)

// completion is a job's final outcome, waiting to be written.
type completion struct {
	j       Job
	status  Status
	result  []byte // JSON, for succeeded
	code    string // for failed
	message string
	charge  int64
	// usage is what the handler reported using (charge is usage capped at
	// the reservation); a parent captures its children's usage.
	usage int64
}

// complete writes a job's final outcome, grouped with other workers'
// outcomes into one statement (group commit).
func (s *Service) complete(c completion) error {
	if c.charge > c.j.Credits.Reserved && !c.j.child() {
		s.log.Error("pricing bug: usage beyond the reservation; charging the reservation",
			"job_id", c.j.ID, "kind", c.j.Kind, "reserved", c.j.Credits.Reserved, "usage", c.charge)
		c.charge = c.j.Credits.Reserved
	}
	c.charge = max(c.charge, 0)
	if c.status == StatusCanceled && c.charge == 0 {
		c.charge = s.childrenUsage(c.j.ID) // work its children finished is paid work
	}
	if c.usage == 0 {
		c.usage = c.charge
	}
	return s.completions.do(c)
}

// completeBatch ends a batch of jobs in one statement: each job that is not
// final yet gets its status (canceled instead, if a cancel was requested
// meanwhile), result or error and charge; its reservation is settled with a
// release entry (the unique key per job and entry makes this happen once);
// each tenant's credit row is updated once for the whole batch; and the
// final events are recorded. Then listeners are told and each tenant's
// waiting jobs are admitted in place of the finished ones.
func (s *Service) completeBatch(items []completion) []error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := len(items)
	ids, statuses, results, codes, messages := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	charges, usages := make([]int64, n), make([]int64, n)
	for i, c := range items {
		ids[i], statuses[i], results[i], codes[i], messages[i], charges[i] = c.j.ID, string(c.status), string(c.result), c.code, c.message, c.charge
		usages[i] = c.usage
	}
	rows, err := s.db.Query(ctx, completeSQL, ids, statuses, results, codes, messages, charges, usages)
	var finished map[string]int
	if err == nil {
		finished, err = s.finishedTenants(rows)
	}
	out := make([]error, n)
	if err != nil {
		err = fmt.Errorf("record the outcome of %d jobs: %w", n, err)
		for i := range out {
			out[i] = err
		}
		return out
	}
	s.announceAll(ctx, ids)
	s.wakeParents(ctx, ids)
	for tenant, count := range finished {
		s.admitNext(ctx, tenant, count)
	}
	return out
}

// finishedTenants counts the finished jobs per tenant, recording each in
// the metrics on the way.
func (s *Service) finishedTenants(rows pgx.Rows) (map[string]int, error) {
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var f finished
		if err := rows.Scan(&f.tenant, &f.kind, &f.status, &f.charged, &f.startedAt, &f.finishedAt); err != nil {
			return nil, err
		}
		out[f.tenant]++
		s.recordFinished(f)
	}
	return out, rows.Err()
}

// finished is a job that has just reached its final status.
type finished struct {
	tenant, kind, status  string
	charged               int64
	startedAt, finishedAt *time.Time
}

// recordFinished adds a finished job to the metrics.
func (s *Service) recordFinished(f finished) {
	m := s.cfg.Metrics
	m.JobsFinished.WithLabelValues(f.kind, f.status).Inc()
	if f.charged > 0 {
		m.CreditsCharged.WithLabelValues(f.kind).Add(float64(f.charged))
	}
	if f.startedAt != nil && f.finishedAt != nil {
		metrics.ObserveSince(m.JobRunSeconds.WithLabelValues(f.kind), *f.startedAt, *f.finishedAt)
	}
}

const completeSQL = `
WITH v AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[])
		AS v(id, status, result, code, message, charge, usage)
), u AS (
	UPDATE jobs j SET
		status = CASE WHEN j.cancel_requested THEN 'canceled' ELSE v.status END,
		result = CASE WHEN NOT j.cancel_requested AND v.status = 'succeeded' THEN v.result::jsonb ELSE j.result END,
		progress = CASE WHEN NOT j.cancel_requested AND v.status = 'succeeded' THEN 100 ELSE j.progress END,
		error_code = CASE WHEN NOT j.cancel_requested AND v.status = 'failed' THEN v.code END,
		error_message = CASE WHEN NOT j.cancel_requested AND v.status = 'failed' THEN v.message END,
		credits_charged = CASE WHEN j.cancel_requested AND v.status <> 'canceled' THEN 0 ELSE least(v.charge, j.credits_reserved) END,
		usage = CASE WHEN j.cancel_requested AND v.status <> 'canceled' THEN 0 ELSE v.usage END,
		parked_until = NULL, resumed = false,
		finished_at = now(), updated_at = now()
	FROM v
	-- id = ANY($1) as well as the join: it makes the planner reach the jobs
	-- through their primary key even when its statistics say the table is
	-- nearly empty (a hash join over a full scan of jobs would do).
	WHERE j.id = ANY($1) AND j.id = v.id AND j.status NOT IN ('succeeded', 'failed', 'canceled')
	RETURNING j.id, j.tenant_id, j.kind, j.status, j.credits_reserved, j.credits_charged, j.started_at, j.finished_at
), l AS (
	INSERT INTO credit_ledger (tenant_id, job_id, entry, amount)
	SELECT tenant_id, id, 'release', credits_reserved - credits_charged FROM u
	ON CONFLICT (job_id, entry) WHERE job_id IS NOT NULL DO NOTHING
	RETURNING tenant_id, job_id, amount
), a AS (
	UPDATE credit_accounts c SET
		balance = c.balance + x.released,
		reserved = c.reserved - x.reserved,
		month_spent = CASE WHEN c.month = ` + thisMonth + `
			THEN greatest(c.month_spent - x.released, 0) ELSE c.month_spent END,
		updated_at = now()
	FROM (SELECT l.tenant_id, sum(l.amount) AS released, sum(u.credits_reserved) AS reserved
	      FROM l JOIN u ON u.id = l.job_id GROUP BY l.tenant_id) x
	WHERE c.tenant_id = x.tenant_id
), e AS (
	INSERT INTO job_events (job_id, type, data)
	SELECT id, 'job.' || status, jsonb_build_object('status', status, 'credits_charged', credits_charged) FROM u
)
SELECT tenant_id, kind, status, credits_charged, started_at, finished_at FROM u`

// startBatch moves a batch of delivered jobs to running in one statement,
// counting each attempt and recording job.started. Jobs that are final, gone
// or canceled while queued are left out of the answer.
func (s *Service) startBatch(ids []string) []startResult {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make([]startResult, len(ids))
	rows, err := s.db.Query(ctx, `WITH o AS (
			SELECT id AS oid, resumed AS was_resumed FROM jobs WHERE id = ANY($1)
		), s AS (
			UPDATE jobs SET status = 'running', attempt = attempt + CASE WHEN resumed THEN 0 ELSE 1 END, resumed = false, parked_until = NULL, wake_pending = false,
				started_at = coalesce(started_at, now()), heartbeat_at = now(), admitted_at = coalesce(admitted_at, now()),
				error_code = NULL, error_message = NULL, updated_at = now()
			WHERE id = ANY($1) AND status IN ('queued', 'running', 'scheduled') AND NOT cancel_requested
			RETURNING `+jobCols+`
		), e AS (
			INSERT INTO job_events (job_id, type, data)
			SELECT id, 'job.started', jsonb_build_object('status', 'running', 'attempt', attempt)
			FROM s JOIN o ON o.oid = s.id WHERE NOT o.was_resumed
		)
		SELECT s.*, o.was_resumed FROM s JOIN o ON o.oid = s.id`, ids)
	if err != nil {
		for i := range out {
			out[i].err = fmt.Errorf("start jobs: %w", err)
		}
		return out
	}
	resumed := map[string]bool{}
	started, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) {
		var was bool
		j, err := s.scanJob(extraColumn{row: r, dest: &was})
		resumed[j.ID] = was
		return j, err
	})
	if err != nil {
		for i := range out {
			out[i].err = fmt.Errorf("start jobs: %w", err)
		}
		return out
	}
	byID := make(map[string]Job, len(started))
	for _, j := range started {
		byID[j.ID] = j
		if !resumed[j.ID] {
			s.recordStarted(j)
		}
	}
	for i, id := range ids {
		out[i].job, out[i].ok = byID[id]
	}
	s.announceAll(ctx, slices.Collect(maps.Keys(byID)))
	return out
}

// recordStarted observes a job's wait in the queue at its first start.
func (s *Service) recordStarted(j Job) {
	if j.Attempt != 1 || j.StartedAt == nil {
		return
	}
	ready := j.CreatedAt
	if j.RunAt.After(ready) {
		ready = j.RunAt
	}
	metrics.ObserveSince(s.cfg.Metrics.JobQueueWaitSeconds.WithLabelValues(j.Kind), ready, *j.StartedAt)
}

// startResult is one job's answer from startBatch.
type startResult struct {
	job Job
	ok  bool
	err error
}

// extraColumn scans a row that has one more column than jobCols into dest.
type extraColumn struct {
	row  pgx.Row
	dest any
}

func (e extraColumn) Scan(dest ...any) error { return e.row.Scan(append(dest, e.dest)...) }
