-- +goose Up
-- A tenant's own requests-per-minute for a rate-limit scope, replacing the
-- deployment default (KILN_RATE_LIMITS) for that scope.
CREATE TABLE tenant_rate_limits (
    tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    scope      text NOT NULL CHECK (scope IN ('ai', 'content', 'auth', 'general')),
    per_minute int NOT NULL CHECK (per_minute > 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, scope)
);

-- +goose Down
DROP TABLE tenant_rate_limits;
