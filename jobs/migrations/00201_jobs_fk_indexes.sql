-- +goose Up
-- Deleting a job looks for the retries that point at it, and deleting a
-- site for its jobs; without these, deleting a tenant with many jobs takes
-- time quadratic in their number. The site index also serves ?site_id=.
CREATE INDEX jobs_retry_of_idx ON jobs (retry_of) WHERE retry_of IS NOT NULL;
CREATE INDEX jobs_site_idx ON jobs (site_id, id DESC) WHERE site_id IS NOT NULL;

-- +goose Down
DROP INDEX jobs_site_idx;
DROP INDEX jobs_retry_of_idx;
