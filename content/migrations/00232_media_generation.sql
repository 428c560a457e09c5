-- +goose Up
-- Media made by a job (generated images, edited versions, speech) carry the
-- job and the file's index among the job's outputs; the unique index makes
-- a job that runs again after a crash find its files instead of making
-- them twice.
ALTER TABLE media ADD COLUMN job_id text, ADD COLUMN job_index int;
ALTER TABLE media ADD CONSTRAINT media_job_check
    CHECK ((job_id IS NULL) = (job_index IS NULL) AND (job_index IS NULL OR job_index >= 0));
CREATE UNIQUE INDEX media_job_idx ON media (job_id, job_index) WHERE job_id IS NOT NULL;

-- media_versions chains the versions of an image edited with AI. The
-- original (the root) is version 1 and has no row; each edit adds a row
-- with the next number, pointing at its own media file, the version it was
-- made from, the instruction and the job. A version deleted as media loses
-- its row; the root deleted ends the chain.
CREATE TABLE media_versions (
    tenant_id       text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    root_media_id   text NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    version         int NOT NULL CHECK (version >= 2),
    media_id        text NOT NULL UNIQUE REFERENCES media (id) ON DELETE CASCADE,
    source_media_id text REFERENCES media (id) ON DELETE SET NULL,
    instruction     text NOT NULL DEFAULT '',
    job_id          text UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (root_media_id, version),
    CHECK (media_id <> root_media_id)
);
CREATE INDEX media_versions_source_idx ON media_versions (source_media_id) WHERE source_media_id IS NOT NULL;

-- +goose Down
DROP TABLE media_versions;
DROP INDEX media_job_idx;
ALTER TABLE media DROP CONSTRAINT media_job_check, DROP COLUMN job_id, DROP COLUMN job_index;
