-- +goose Up
-- The vector database holds chunks only: everything here can be rebuilt
-- from the documents in the main database by reindexing.
CREATE EXTENSION IF NOT EXISTS vector;

-- Knowledge bases choose their embedding model, so vectors differ in size:
-- the column has no fixed dimensions. Each size in use gets a partial HNSW
-- index on embedding::vector(dims) WHERE dims = N (made by the store when
-- it first writes that size), and queries use the same expression.
CREATE TABLE rag_chunks (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id         text NOT NULL,
    knowledge_base_id text NOT NULL,
    document_id       text NOT NULL,
    position          integer NOT NULL,
    text              text NOT NULL,
    heading_path      text[] NOT NULL DEFAULT '{}',
    char_start        integer NOT NULL,
    char_end          integer NOT NULL,
    token_count       integer NOT NULL,
    metadata          jsonb NOT NULL DEFAULT '{}',
    model             text NOT NULL,
    dims              integer NOT NULL,
    embedding         vector NOT NULL,
    ts_config         regconfig NOT NULL DEFAULT 'english',
    tsv               tsvector GENERATED ALWAYS AS (to_tsvector(ts_config, text)) STORED,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT rag_chunks_document_position_key UNIQUE (tenant_id, document_id, position),
    CONSTRAINT rag_chunks_dims_check CHECK (vector_dims(embedding) = dims)
);
CREATE INDEX rag_chunks_knowledge_base_idx ON rag_chunks (tenant_id, knowledge_base_id);
CREATE INDEX rag_chunks_tsv_idx ON rag_chunks USING gin (tsv);
CREATE INDEX rag_chunks_metadata_idx ON rag_chunks USING gin (metadata jsonb_path_ops);

-- +goose Down
DROP TABLE rag_chunks;
