-- +goose Up
-- The catalog of retrieval: knowledge bases, their documents (with the
-- source text, so a knowledge base can be reindexed) and agents. Chunks and
-- their vectors live in the vector database (VECTOR_DATABASE_URL), which
-- may be another server; see rag/vectormigrations.
CREATE TABLE knowledge_bases (
    id                   text PRIMARY KEY,
    tenant_id            text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                 text NOT NULL,
    description          text NOT NULL DEFAULT '',
    embedding_provider   text NOT NULL CHECK (embedding_provider IN ('hash', 'openai')),
    embedding_model      text NOT NULL,
    embedding_dimensions integer NOT NULL CHECK (embedding_dimensions > 0),
    max_tokens           integer NOT NULL DEFAULT 512,
    overlap              integer NOT NULL DEFAULT 64,
    separators           text[] NOT NULL DEFAULT '{}',
    language             text NOT NULL DEFAULT 'en',
    metadata             jsonb NOT NULL DEFAULT '{}',
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT knowledge_bases_tenant_id_key UNIQUE (tenant_id, id)
);

CREATE TABLE kb_documents (
    id                text PRIMARY KEY,
    tenant_id         text NOT NULL,
    knowledge_base_id text NOT NULL,
    title             text NOT NULL DEFAULT '',
    source_type       text NOT NULL CHECK (source_type IN ('text', 'markdown', 'pdf', 'url', 'post')),
    source_ref        text NOT NULL DEFAULT '',
    content           text NOT NULL DEFAULT '',
    metadata          jsonb NOT NULL DEFAULT '{}',
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'indexing', 'ready', 'failed')),
    chunk_count       integer NOT NULL DEFAULT 0,
    token_count       integer NOT NULL DEFAULT 0,
    embedding_tokens  bigint NOT NULL DEFAULT 0,
    indexed_model     text NOT NULL DEFAULT '',
    error_code        text,
    error_message     text,
    indexed_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, knowledge_base_id) REFERENCES knowledge_bases (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX kb_documents_knowledge_base_idx ON kb_documents (tenant_id, knowledge_base_id, id);
CREATE INDEX kb_documents_source_idx ON kb_documents (tenant_id, source_type, source_ref);

CREATE TABLE agents (
    id            text PRIMARY KEY,
    tenant_id     text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          text NOT NULL,
    description   text NOT NULL DEFAULT '',
    system_prompt text NOT NULL DEFAULT '',
    model         text NOT NULL DEFAULT '',
    metadata      jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT agents_tenant_id_key UNIQUE (tenant_id, id)
);
CREATE INDEX agents_tenant_idx ON agents (tenant_id, id);

-- An agent answers from its knowledge bases, searched together. The
-- composite keys keep both ends in one tenant.
CREATE TABLE agent_knowledge_bases (
    tenant_id         text NOT NULL,
    agent_id          text NOT NULL,
    knowledge_base_id text NOT NULL,
    position          integer NOT NULL,
    PRIMARY KEY (agent_id, knowledge_base_id),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, knowledge_base_id) REFERENCES knowledge_bases (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX agent_knowledge_bases_kb_idx ON agent_knowledge_bases (knowledge_base_id);

-- +goose Down
DROP TABLE agent_knowledge_bases;
DROP TABLE agents;
DROP TABLE kb_documents;
DROP TABLE knowledge_bases;
