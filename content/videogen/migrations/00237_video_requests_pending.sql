-- +goose Up
-- A request is recorded before it is submitted (request_id still NULL), so
-- a job that crashes, or loses the provider's answer, after the provider
-- queued it knows not to submit, and pay, a second time.
ALTER TABLE video_requests ALTER COLUMN request_id DROP NOT NULL;

-- +goose Down
DELETE FROM video_requests WHERE request_id IS NULL;
ALTER TABLE video_requests ALTER COLUMN request_id SET NOT NULL;
