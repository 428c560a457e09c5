-- +goose Up
-- job_slots counts each tenant's active jobs: admitted, queued or running,
-- and not parked. These are the jobs the per-tenant cap (fair admission)
-- limits. A submit used to count them on every batch, which under load
-- walked thousands of dead index entries; now it reads one row.
--
-- Two statement-level triggers keep the count in step with every update and
-- delete of jobs, inside its transaction, whatever code path made it: each
-- adds the statement's rows that became active and takes away those that
-- stopped being active. Tenants are visited in id order so two statements
-- touching the same tenants lock their rows in one order.
--
-- Inserts are counted by the one statement that inserts admitted jobs,
-- Submit's (jobs/insert.go), as its last step. An insert trigger would lock
-- the tenant's row at the start of the submit's transaction, before its
-- credit row; a completion locks them the other way round, and the two
-- would deadlock. Submit locks both just before it commits, credit row
-- first, as completions do.
-- (No CHECK (active >= 0): Postgres checks the row an upsert proposes, a
-- negative change, before it finds the conflict. The tests' bookkeeping
-- check, testkit.CheckLedger, compares every count with the jobs.)
CREATE TABLE job_slots (
    tenant_id text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    active    integer NOT NULL DEFAULT 0
);

-- +goose StatementBegin
CREATE FUNCTION job_slots_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_slots AS s (tenant_id, active)
    SELECT tenant_id, sum(d) FROM (
        SELECT tenant_id, 1 AS d FROM new_jobs
        WHERE admitted_at IS NOT NULL AND status IN ('queued', 'running') AND parked_until IS NULL
        UNION ALL
        SELECT tenant_id, -1 FROM old_jobs
        WHERE admitted_at IS NOT NULL AND status IN ('queued', 'running') AND parked_until IS NULL
    ) changes
    GROUP BY tenant_id HAVING sum(d) <> 0 ORDER BY tenant_id
    ON CONFLICT (tenant_id) DO UPDATE SET active = s.active + EXCLUDED.active;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- A delete only updates rows that exist: when a tenant is deleted, its
-- job_slots row may already be gone by the time its jobs cascade.
-- +goose StatementBegin
CREATE FUNCTION job_slots_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE job_slots s SET active = s.active - gone.n
    FROM (SELECT tenant_id, count(*) AS n FROM old_jobs
          WHERE admitted_at IS NOT NULL AND status IN ('queued', 'running') AND parked_until IS NULL
          GROUP BY tenant_id ORDER BY tenant_id) gone
    WHERE s.tenant_id = gone.tenant_id;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER jobs_slots_update AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION job_slots_after_update();
CREATE TRIGGER jobs_slots_delete AFTER DELETE ON jobs
    REFERENCING OLD TABLE AS old_jobs FOR EACH STATEMENT EXECUTE FUNCTION job_slots_after_delete();

-- Counted after the triggers exist: creating them locks out writers to jobs
-- until this migration commits, so no change falls between the two.
INSERT INTO job_slots (tenant_id, active)
SELECT tenant_id, count(*) FROM jobs
WHERE admitted_at IS NOT NULL AND status IN ('queued', 'running') AND parked_until IS NULL
GROUP BY tenant_id;

-- +goose Down
DROP TRIGGER jobs_slots_delete ON jobs;
DROP TRIGGER jobs_slots_update ON jobs;
DROP FUNCTION job_slots_after_delete();
DROP FUNCTION job_slots_after_update();
DROP TABLE job_slots;
