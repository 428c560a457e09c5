-- +goose Up
CREATE TABLE posts (
    id              text PRIMARY KEY,
    tenant_id       text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    site_id         text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    title           text NOT NULL,
    slug            text NOT NULL,
    body_markdown   text NOT NULL DEFAULT '',
    body_html       text NOT NULL DEFAULT '',
    excerpt         text NOT NULL DEFAULT '',
    author          text NOT NULL DEFAULT '',
    published_at    timestamptz,
    language        text NOT NULL DEFAULT 'en',
    lead_image      text NOT NULL DEFAULT '',
    canonical_url   text NOT NULL DEFAULT '',
    tags            text[] NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
    source_type     text NOT NULL DEFAULT 'manual' CHECK (source_type IN ('url', 'pdf', 'manual')),
    source_url      text NOT NULL DEFAULT '',
    -- source_media_id gets its foreign key to media in 00211.
    source_media_id text,
    -- source_job_id is the job that made the post: a retried job updates
    -- its post instead of making a second one.
    source_job_id   text,
    metadata        jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT posts_site_slug_key UNIQUE (site_id, slug),
    CONSTRAINT posts_source_job_key UNIQUE (source_job_id)
);
-- Lists (tenant and site always given) and deleting a site use it.
CREATE INDEX posts_site_idx ON posts (site_id, id DESC);

-- +goose Down
DROP TABLE posts;
