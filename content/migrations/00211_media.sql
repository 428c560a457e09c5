-- +goose Up
-- media rows describe files whose bytes live in a storage.Store under
-- storage_key; the row is written only after the bytes are stored.
CREATE TABLE media (
    id           text PRIMARY KEY,
    tenant_id    text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    site_id      text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    storage_key  text NOT NULL UNIQUE,
    filename     text NOT NULL,
    content_type text NOT NULL,
    size_bytes   bigint NOT NULL CHECK (size_bytes > 0),
    sha256       text NOT NULL,
    width        int,
    height       int,
    title        text NOT NULL DEFAULT '',
    alt_text     text NOT NULL DEFAULT '',
    caption      text NOT NULL DEFAULT '',
    tags         text[] NOT NULL DEFAULT '{}',
    metadata     jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
-- Lists (tenant and site always given) and deleting a site use it.
CREATE INDEX media_site_idx ON media (site_id, id DESC);

ALTER TABLE posts ADD CONSTRAINT posts_source_media_fkey
    FOREIGN KEY (source_media_id) REFERENCES media (id) ON DELETE SET NULL;
CREATE INDEX posts_source_media_idx ON posts (source_media_id) WHERE source_media_id IS NOT NULL;

-- +goose Down
ALTER TABLE posts DROP CONSTRAINT posts_source_media_fkey;
DROP INDEX posts_source_media_idx;
DROP TABLE media;
