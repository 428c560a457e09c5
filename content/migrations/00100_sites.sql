-- +goose Up
CREATE TABLE sites (
    id          text PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL,
    slug        text NOT NULL,
    url         text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    language    text NOT NULL DEFAULT 'en',
    metadata    jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sites_tenant_slug_key UNIQUE (tenant_id, slug)
);
CREATE INDEX sites_tenant_idx ON sites (tenant_id, id);

-- +goose Down
DROP TABLE sites;
