-- +goose Up
-- translations links a master post or media item to its translation into
-- one language: a post of its own (translated_post_id) for posts, the
-- translated title, alt text and caption (fields) for media. One row per
-- master and language; translating the language again updates the row and
-- the same translated post.
CREATE TABLE translations (
    id                 text PRIMARY KEY,
    tenant_id          text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    site_id            text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    resource_type      text NOT NULL CHECK (resource_type IN ('post', 'media')),
    master_post_id     text REFERENCES posts (id) ON DELETE CASCADE,
    master_media_id    text REFERENCES media (id) ON DELETE CASCADE,
    master_id          text GENERATED ALWAYS AS (coalesce(master_post_id, master_media_id)) STORED,
    language           text NOT NULL,
    -- status is that of the latest request for this language: pending
    -- while its job runs, then succeeded, failed (error_code says why) or
    -- canceled.
    status             text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'canceled')),
    translated_post_id text REFERENCES posts (id) ON DELETE SET NULL,
    fields             jsonb,
    -- keep: the terms the request said never to translate, reused by sync.
    keep               text[] NOT NULL DEFAULT '{}',
    -- master_updated_at is the master's updated_at when it was read for
    -- the translation in force: a later updated_at makes it stale.
    master_updated_at  timestamptz,
    translated_at      timestamptz,
    -- job_id is the language job that wrote the translation in force;
    -- parent_job_id the translate.post or translate.media job that asked
    -- last.
    job_id             text,
    parent_job_id      text,
    error_code         text,
    error_message      text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT translations_master_check CHECK (
        (resource_type = 'post' AND master_post_id IS NOT NULL AND master_media_id IS NULL) OR
        (resource_type = 'media' AND master_media_id IS NOT NULL AND master_post_id IS NULL AND translated_post_id IS NULL)),
    CONSTRAINT translations_master_language_key UNIQUE (master_id, language)
);
CREATE INDEX translations_tenant_master_idx ON translations (tenant_id, master_id, id DESC);
CREATE INDEX translations_translated_post_idx ON translations (translated_post_id) WHERE translated_post_id IS NOT NULL;
-- Deleting a master cascades through these.
CREATE INDEX translations_master_post_idx ON translations (master_post_id) WHERE master_post_id IS NOT NULL;
CREATE INDEX translations_master_media_idx ON translations (master_media_id) WHERE master_media_id IS NOT NULL;

-- +goose Down
DROP TABLE translations;
