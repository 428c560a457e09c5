-- +goose Up
-- The W3C trace context of the request that submitted a job. The worker
-- gets it in the Asynq task's headers and logs its trace id, so a job's
-- lines join its request's.
ALTER TABLE jobs ADD COLUMN traceparent text;

-- +goose Down
ALTER TABLE jobs DROP COLUMN traceparent;
