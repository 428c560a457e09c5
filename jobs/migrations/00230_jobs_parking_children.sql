-- +goose Up
-- parked_until: a running job whose handler is waiting on something
-- outside (a provider's queue, its child jobs) holds no worker; the relay
-- wakes it when this time passes, and Wake or a finishing child sooner.
-- resumed: the next delivery continues a parked job (same attempt).
-- wake_pending: a Wake came while the handler ran; its park is short.
-- parent_id and child_key: a job a parent job fanned out, one per key.
-- usage: the credits the handler reported using, kept even where nothing
-- is charged (a child's usage is charged to its parent).
ALTER TABLE jobs
    ADD COLUMN parked_until timestamptz,
    ADD COLUMN resumed boolean NOT NULL DEFAULT false,
    ADD COLUMN wake_pending boolean NOT NULL DEFAULT false,
    ADD COLUMN parent_id text REFERENCES jobs (id) ON DELETE CASCADE,
    ADD COLUMN child_key text,
    ADD COLUMN usage bigint;
CREATE UNIQUE INDEX jobs_parent_child_key ON jobs (parent_id, child_key) WHERE parent_id IS NOT NULL;
CREATE INDEX jobs_parked_idx ON jobs (parked_until) WHERE parked_until IS NOT NULL;

-- +goose Down
DROP INDEX jobs_parked_idx;
DROP INDEX jobs_parent_child_key;
ALTER TABLE jobs DROP COLUMN usage, DROP COLUMN child_key, DROP COLUMN parent_id,
    DROP COLUMN wake_pending, DROP COLUMN resumed, DROP COLUMN parked_until;
