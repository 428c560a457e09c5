-- +goose Up
-- One row per media.video.generate job: the request it placed in the video
-- provider's queue, what the provider last said of it (by poll or by its
-- webhook), and the media item made from the result. A job that runs again
-- finds its request here instead of placing another.
CREATE TABLE video_requests (
    job_id          text PRIMARY KEY,
    tenant_id       text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    provider        text NOT NULL,
    model           text NOT NULL,
    request_id      text NOT NULL,
    state           text NOT NULL DEFAULT 'IN_QUEUE',
    queue_position  int,
    webhook_status  text,
    webhook_payload jsonb,
    webhook_error   text,
    media_id        text,
    submitted_at    timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- Provider webhooks name the request, not the job.
CREATE UNIQUE INDEX video_requests_request_idx ON video_requests (provider, request_id);

-- +goose Down
DROP TABLE video_requests;
