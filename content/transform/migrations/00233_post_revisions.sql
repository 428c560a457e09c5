-- +goose Up
-- A post's revisions: the body a change replaced (title, body_markdown,
-- body_html), so the change can be undone. kind says what made the change:
-- a post.transform job (job_id; one revision per job, however often it
-- runs) or the restore of another revision (restored_from).
-- new_body_* hold what the change writes, so a job that runs again after a
-- crash writes the same text instead of asking the model again; applied_at
-- is set once the post holds it, and only applied revisions are listed.
CREATE TABLE post_revisions (
    id                text PRIMARY KEY,
    tenant_id         text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    site_id           text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    post_id           text NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    kind              text NOT NULL CHECK (kind IN ('transform', 'restore')),
    job_id            text,
    restored_from     text REFERENCES post_revisions (id) ON DELETE SET NULL,
    note              text NOT NULL DEFAULT '',
    title             text NOT NULL,
    body_markdown     text NOT NULL,
    body_html         text NOT NULL,
    new_body_markdown text NOT NULL,
    new_body_html     text NOT NULL,
    prompt_tokens     integer NOT NULL DEFAULT 0,
    completion_tokens integer NOT NULL DEFAULT 0,
    created_by        text NOT NULL DEFAULT '',
    applied_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT post_revisions_job_key UNIQUE (job_id),
    CONSTRAINT post_revisions_kind_source CHECK ((kind = 'transform') = (job_id IS NOT NULL))
);
-- Lists of a post's revisions, newest first.
CREATE INDEX post_revisions_post_idx ON post_revisions (post_id, id DESC);
CREATE INDEX post_revisions_restored_from_idx ON post_revisions (restored_from) WHERE restored_from IS NOT NULL;

-- +goose Down
DROP TABLE post_revisions;
