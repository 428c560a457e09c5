-- +goose Up
-- Removing a user from a tenant ends their sessions there.
CREATE INDEX sessions_user_idx ON sessions (user_id, tenant_id);

-- +goose Down
DROP INDEX sessions_user_idx;
