-- +goose Up
-- The admin performance report scans jobs by creation time. A BRIN index
-- is a few pages and nearly free to keep up, since rows arrive in
-- creation order.
CREATE INDEX jobs_created_brin ON jobs USING brin (created_at);

-- +goose Down
DROP INDEX jobs_created_brin;
