-- +goose Up
CREATE TABLE jobs (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    site_id          text REFERENCES sites (id) ON DELETE SET NULL,
    kind             text NOT NULL,
    status           text NOT NULL CHECK (status IN ('scheduled', 'queued', 'running', 'succeeded', 'failed', 'canceled')),
    priority         text NOT NULL CHECK (priority IN ('high', 'normal', 'low')),
    priority_rank    smallint GENERATED ALWAYS AS (CASE priority WHEN 'high' THEN 0 WHEN 'normal' THEN 1 ELSE 2 END) STORED,
    input            jsonb NOT NULL,
    result           jsonb,
    error_code       text,
    error_message    text,
    progress         int NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    progress_message text NOT NULL DEFAULT '',
    attempt          int NOT NULL DEFAULT 0,
    max_attempts     int NOT NULL,
    timeout_ms       bigint NOT NULL,
    run_at           timestamptz NOT NULL,
    credits_reserved bigint NOT NULL DEFAULT 0,
    credits_charged  bigint,
    webhook          text,
    webhook_events   text[] NOT NULL DEFAULT '{}',
    metadata         jsonb NOT NULL DEFAULT '{}',
    retry_of         text REFERENCES jobs (id) ON DELETE SET NULL,
    created_by       text,
    -- admitted_at is when fair admission let the job into Asynq; NULL while
    -- it waits in Postgres behind its tenant's other work.
    admitted_at      timestamptz,
    heartbeat_at     timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_tenant_idx ON jobs (tenant_id, id DESC);
-- What the relay and the admitter scan: work that is not final yet.
CREATE INDEX jobs_open_idx ON jobs (status, priority, id) WHERE status IN ('scheduled', 'queued', 'running');
CREATE INDEX jobs_waiting_idx ON jobs (tenant_id, priority_rank, id) WHERE status = 'queued' AND admitted_at IS NULL;
-- Admitted work per tenant, counted against its cap on active jobs.
CREATE INDEX jobs_active_idx ON jobs (tenant_id) WHERE admitted_at IS NOT NULL AND status IN ('queued', 'running');

-- The job's history: status changes, progress and log lines, in order. SSE
-- replays it from Last-Event-ID.
CREATE TABLE job_events (
    id         bigserial PRIMARY KEY,
    job_id     text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    type       text NOT NULL,
    data       jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_events_job_idx ON job_events (job_id, id);

-- Credits. The ledger is append-only and its sum per tenant is the balance
-- the tenant can spend; credit_accounts caches that sum (and the month's
-- spend) so submit does not add up the ledger. A test checks they agree.
CREATE TABLE credit_accounts (
    tenant_id     text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    balance       bigint NOT NULL DEFAULT 0,
    reserved      bigint NOT NULL DEFAULT 0,
    monthly_limit bigint,
    month         date NOT NULL DEFAULT date_trunc('month', now() AT TIME ZONE 'UTC'),
    month_spent   bigint NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE credit_ledger (
    id         bigserial PRIMARY KEY,
    tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    job_id     text REFERENCES jobs (id) ON DELETE SET NULL,
    entry      text NOT NULL CHECK (entry IN ('grant', 'reserve', 'release')),
    amount     bigint NOT NULL,
    note       text NOT NULL DEFAULT '',
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_ledger_tenant_idx ON credit_ledger (tenant_id, id DESC);
-- Every job is reserved once and settled once.
CREATE UNIQUE INDEX credit_ledger_job_entry_key ON credit_ledger (job_id, entry) WHERE job_id IS NOT NULL;

-- Prices per job kind: global defaults (tenant_id '') and tenant overrides.
CREATE TABLE job_costs (
    tenant_id  text NOT NULL DEFAULT '',
    kind       text NOT NULL,
    credits    bigint NOT NULL CHECK (credits >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind)
);

-- +goose Down
DROP TABLE job_costs;
DROP TABLE credit_ledger;
DROP TABLE credit_accounts;
DROP TABLE job_events;
DROP TABLE jobs;
