-- +goose Up
-- Each tenant's own signing secret for the per-job webhooks (a job's
-- "webhook" URL), as Replicate does. During an overlap after a rotation
-- the previous secret signs too.
CREATE TABLE webhook_signing_secrets (
    tenant_id           text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    secret              text NOT NULL,
    previous_secret     text,
    previous_expires_at timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    rotated_at          timestamptz
);

-- A tenant's standing endpoints: every job event of the listed types (all,
-- when the list is empty) is delivered to each enabled endpoint.
CREATE TABLE webhook_endpoints (
    id                  text PRIMARY KEY,
    tenant_id           text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url                 text NOT NULL,
    description         text NOT NULL DEFAULT '',
    event_types         text[] NOT NULL DEFAULT '{}',
    enabled             boolean NOT NULL DEFAULT true,
    secret              text NOT NULL,
    previous_secret     text,
    previous_expires_at timestamptz,
    disabled_reason     text,
    disabled_at         timestamptz,
    -- failing_since is the first failure after the last success; an
    -- endpoint failing for three days in a row is disabled.
    failing_since       timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_tenant_idx ON webhook_endpoints (tenant_id, id DESC);
CREATE INDEX webhook_endpoints_enabled_idx ON webhook_endpoints (tenant_id) WHERE enabled;

-- The outbox: job events someone wants delivered, written in the same
-- transaction as the event by the trigger below, so no event is lost
-- between a status change and its webhook. The dispatcher empties it.
CREATE TABLE webhook_outbox (
    event_id   bigint PRIMARY KEY REFERENCES job_events (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One message to one target: a job's own webhook (endpoint_id NULL) or a
-- tenant endpoint. message_id is the webhook-id header, the same on every
-- attempt and on a redelivery.
CREATE TABLE webhook_deliveries (
    id              text PRIMARY KEY,
    tenant_id       text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    job_id          text REFERENCES jobs (id) ON DELETE CASCADE,
    endpoint_id     text REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        bigint,
    redelivery_of   text REFERENCES webhook_deliveries (id) ON DELETE SET NULL,
    url             text NOT NULL,
    event_type      text NOT NULL,
    message_id      text NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_status     int,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz
);
-- An event goes once to each target, however often the dispatcher sees it.
CREATE UNIQUE INDEX webhook_deliveries_event_target_key
    ON webhook_deliveries (event_id, coalesce(endpoint_id, '')) WHERE redelivery_of IS NULL;
CREATE INDEX webhook_deliveries_job_idx ON webhook_deliveries (job_id, id DESC);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id DESC);
CREATE INDEX webhook_deliveries_tenant_idx ON webhook_deliveries (tenant_id, id DESC);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

-- Every attempt, so what happened can always be seen.
CREATE TABLE webhook_attempts (
    id               bigserial PRIMARY KEY,
    delivery_id      text NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt          int NOT NULL,
    status_code      int,
    error            text,
    latency_ms       int NOT NULL,
    response_excerpt text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);

-- +goose StatementBegin
CREATE FUNCTION webhook_outbox_capture() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_outbox (event_id)
    SELECT n.id FROM new_events n JOIN jobs j ON j.id = n.job_id
    WHERE n.type IN ('job.started', 'job.progress', 'job.succeeded', 'job.failed', 'job.canceled')
      AND (j.webhook IS NOT NULL
           OR EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.tenant_id = j.tenant_id AND e.enabled));
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER job_events_webhook_outbox AFTER INSERT ON job_events
    REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION webhook_outbox_capture();

-- +goose Down
DROP TRIGGER job_events_webhook_outbox ON job_events;
DROP FUNCTION webhook_outbox_capture();
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_outbox;
DROP TABLE webhook_endpoints;
DROP TABLE webhook_signing_secrets;
