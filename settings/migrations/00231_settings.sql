-- +goose Up
-- A tenant's settings for one AI provider. api_key_sealed is the key
-- encrypted with AES-256-GCM (nonce || ciphertext, the tenant and provider
-- as additional data); the plaintext is never stored. api_key_hint keeps
-- the last four characters, to show which key is set.
CREATE TABLE tenant_integrations (
    tenant_id      text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    provider       text NOT NULL,
    base_url       text NOT NULL DEFAULT '',
    api_key_sealed bytea,
    api_key_hint   text NOT NULL DEFAULT '',
    azure          boolean NOT NULL DEFAULT false,
    api_version    text NOT NULL DEFAULT '',
    models         jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, provider)
);

-- A tenant's own system prompt of one type, in place of the platform's.
CREATE TABLE tenant_system_prompts (
    tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    type       text NOT NULL,
    template   text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, type)
);

-- +goose Down
DROP TABLE tenant_system_prompts;
DROP TABLE tenant_integrations;
