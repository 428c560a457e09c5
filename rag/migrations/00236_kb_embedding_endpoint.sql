-- +goose Up
-- A knowledge base may call its own OpenAI-compatible embedding endpoint:
-- its base URL, and its API key sealed with AES-256-GCM (KILN_ENCRYPTION_KEY;
-- never stored in clear) with the last four characters kept as a hint.
ALTER TABLE knowledge_bases
    ADD COLUMN embedding_base_url text NOT NULL DEFAULT '',
    ADD COLUMN embedding_api_key_sealed bytea,
    ADD COLUMN embedding_api_key_hint text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE knowledge_bases DROP COLUMN embedding_api_key_hint, DROP COLUMN embedding_api_key_sealed,
    DROP COLUMN embedding_base_url;
