package rag

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

// maxAgentKBs caps the knowledge bases of one agent (and so one search).
const maxAgentKBs = maxSearchKBs

// Agent answers with a model and a system prompt from its knowledge bases.
type Agent struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	SystemPrompt string          `json:"system_prompt"`
	Model        string          `json:"model"`
	Metadata     json.RawMessage `json:"metadata"`
	// KnowledgeBaseIDs are searched together when the agent retrieves.
	KnowledgeBaseIDs []string  `json:"knowledge_base_ids"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// AgentInput holds an agent's writable fields; nil leaves a field
// unchanged on update and takes the default on create.
type AgentInput struct {
	Name             *string          `json:"name"`
	Description      *string          `json:"description"`
	SystemPrompt     *string          `json:"system_prompt"`
	Model            *string          `json:"model"`
	Metadata         *json.RawMessage `json:"metadata"`
	KnowledgeBaseIDs *[]string        `json:"knowledge_base_ids"`
}

func (in AgentInput) merged(a Agent) Agent {
	set(&a.Name, in.Name)
	set(&a.Description, in.Description)
	set(&a.SystemPrompt, in.SystemPrompt)
	set(&a.Model, in.Model)
	set(&a.Metadata, in.Metadata)
	set(&a.KnowledgeBaseIDs, in.KnowledgeBaseIDs)
	return a
}

func (a Agent) check() error {
	var f problem.FieldErrors
	f.Check(strings.TrimSpace(a.Name) == "" || len(a.Name) > 200, "name", "must be 1 to 200 characters")
	f.Check(len(a.Description) > 2000, "description", "must be at most 2000 characters")
	f.Check(len(a.SystemPrompt) > 100_000, "system_prompt", "must be at most 100000 characters")
	f.Check(len(a.Model) > 200, "model", "must be at most 200 characters")
	f.Check(len(a.KnowledgeBaseIDs) > maxAgentKBs, "knowledge_base_ids", fmt.Sprintf("must be at most %d", maxAgentKBs))
	seen := map[string]bool{}
	for _, id := range a.KnowledgeBaseIDs {
		f.Check(seen[id], "knowledge_base_ids", "must not repeat an id")
		seen[id] = true
	}
	checkObject(&f, "metadata", a.Metadata)
	return f.Err()
}

const agentCols = `id, name, description, system_prompt, model, metadata,
	array(SELECT knowledge_base_id FROM agent_knowledge_bases k WHERE k.agent_id = agents.id ORDER BY position),
	created_at, updated_at`

func scanAgent(row pgx.Row) (Agent, error) {
	var a Agent
	err := row.Scan(&a.ID, &a.Name, &a.Description, &a.SystemPrompt, &a.Model, &a.Metadata, &a.KnowledgeBaseIDs, &a.CreatedAt, &a.UpdatedAt)
	return a, err
}

// CreateAgent creates an agent in tenantID, linked to its knowledge bases
// (which must be the tenant's).
func (c *Catalog) CreateAgent(ctx context.Context, tenantID string, in AgentInput) (Agent, error) {
	a := in.merged(Agent{Metadata: json.RawMessage(`{}`), KnowledgeBaseIDs: []string{}})
	if err := a.check(); err != nil {
		return Agent{}, err
	}
	a.ID = ids.New("agent")
	err := pg.InTx(ctx, c.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO agents (id, tenant_id, name, description, system_prompt, model, metadata)
			VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`, a.ID, tenantID, a.Name, a.Description, a.SystemPrompt, a.Model, string(a.Metadata)); err != nil {
			return fmt.Errorf("insert agent: %w", err)
		}
		return linkKBs(ctx, tx, tenantID, a.ID, a.KnowledgeBaseIDs)
	})
	if err != nil {
		return Agent{}, err
	}
	return c.GetAgent(ctx, tenantID, a.ID)
}

// linkKBs makes ids the agent's knowledge bases, in order.
func linkKBs(ctx context.Context, tx pgx.Tx, tenantID, agentID string, kbIDs []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM agent_knowledge_bases WHERE tenant_id = $1 AND agent_id = $2`, tenantID, agentID); err != nil {
		return fmt.Errorf("unlink knowledge bases: %w", err)
	}
	_, err := tx.Exec(ctx, `INSERT INTO agent_knowledge_bases (tenant_id, agent_id, knowledge_base_id, position)
		SELECT $1, $2, kb, pos FROM unnest($3::text[]) WITH ORDINALITY AS t(kb, pos)`, tenantID, agentID, kbIDs)
	if pg.IsForeignKeyViolation(err) {
		return &problem.Problem{Kind: problem.Invalid, Code: "validation_failed", Message: "some fields are invalid; see details.fields",
			Fields: map[string]string{"knowledge_base_ids": "names a knowledge base that does not exist"}}
	}
	if err != nil {
		return fmt.Errorf("link knowledge bases: %w", err)
	}
	return nil
}

// GetAgent returns the tenant's agent.
func (c *Catalog) GetAgent(ctx context.Context, tenantID, id string) (Agent, error) {
	a, err := scanAgent(c.db.QueryRow(ctx, `SELECT `+agentCols+` FROM agents WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	if isNoRows(err) {
		return Agent{}, ErrAgentNotFound
	}
	if err != nil {
		return Agent{}, fmt.Errorf("get agent %s: %w", id, err)
	}
	return a, nil
}

// ListAgents lists the tenant's agents, newest first.
func (c *Catalog) ListAgents(ctx context.Context, tenantID string, page pg.Page) ([]Agent, string, error) {
	rows, err := c.db.Query(ctx, `SELECT `+agentCols+` FROM agents
		WHERE tenant_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`, tenantID, page.After, page.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list agents: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Agent, error) { return scanAgent(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list agents: %w", err)
	}
	list, next := pg.Trim(list, page, func(a Agent) string { return a.ID })
	return list, next, nil
}

// UpdateAgent changes the fields of in that are not nil; KnowledgeBaseIDs,
// when given, replaces the agent's knowledge bases.
func (c *Catalog) UpdateAgent(ctx context.Context, tenantID, id string, in AgentInput) (Agent, error) {
	old, err := c.GetAgent(ctx, tenantID, id)
	if err != nil {
		return Agent{}, err
	}
	a := in.merged(old)
	if err := a.check(); err != nil {
		return Agent{}, err
	}
	err = pg.InTx(ctx, c.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE agents SET name = $3, description = $4, system_prompt = $5, model = $6,
			metadata = $7::jsonb, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
			tenantID, id, a.Name, a.Description, a.SystemPrompt, a.Model, string(a.Metadata))
		if err := affected(tag.RowsAffected(), err, "update agent "+id, ErrAgentNotFound); err != nil {
			return err
		}
		if in.KnowledgeBaseIDs == nil {
			return nil
		}
		return linkKBs(ctx, tx, tenantID, id, a.KnowledgeBaseIDs)
	})
	if err != nil {
		return Agent{}, err
	}
	return c.GetAgent(ctx, tenantID, id)
}

// DeleteAgent deletes the agent; its knowledge bases stay.
func (c *Catalog) DeleteAgent(ctx context.Context, tenantID, id string) error {
	tag, err := c.db.Exec(ctx, `DELETE FROM agents WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(tag.RowsAffected(), err, "delete agent "+id, ErrAgentNotFound)
}

// AgentKnowledgeBases returns the agent's knowledge bases, in order.
func (c *Catalog) AgentKnowledgeBases(ctx context.Context, tenantID, agentID string) ([]KnowledgeBase, error) {
	a, err := c.GetAgent(ctx, tenantID, agentID)
	if err != nil {
		return nil, err
	}
	out := make([]KnowledgeBase, 0, len(a.KnowledgeBaseIDs))
	for _, id := range a.KnowledgeBaseIDs {
		kb, err := c.GetKnowledgeBase(ctx, tenantID, id)
		if err != nil {
			return nil, fmt.Errorf("agent %s: %w", agentID, err)
		}
		out = append(out, kb)
	}
	return out, nil
}

// AgentDocuments lists the documents of all the agent's knowledge bases,
// newest first (the Cognitor-style /agents/{id}/knowledge-base list).
func (c *Catalog) AgentDocuments(ctx context.Context, tenantID, agentID string, page pg.Page) ([]Document, string, error) {
	if _, err := c.GetAgent(ctx, tenantID, agentID); err != nil {
		return nil, "", err
	}
	rows, err := c.db.Query(ctx, `SELECT `+docCols+` FROM kb_documents d
		WHERE d.tenant_id = $1 AND d.knowledge_base_id IN (SELECT knowledge_base_id FROM agent_knowledge_bases WHERE agent_id = $2)
		AND ($3 = '' OR d.id < $3) ORDER BY d.id DESC LIMIT $4`, tenantID, agentID, page.After, page.Limit+1)
	return c.docList(rows, err, page)
}

// AgentDocument returns a document of one of the agent's knowledge bases;
// ErrDocumentNotFound for any other.
func (c *Catalog) AgentDocument(ctx context.Context, tenantID, agentID, docID string) (Document, error) {
	return c.docRow(ctx, true, `SELECT `+docCols+`, content FROM kb_documents d
		WHERE d.tenant_id = $1 AND d.id = $3 AND d.knowledge_base_id IN
			(SELECT knowledge_base_id FROM agent_knowledge_bases WHERE tenant_id = $1 AND agent_id = $2)`, tenantID, agentID, docID)
}

// AgentDefaultKnowledgeBase returns the knowledge base documents added
// through an agent go to: its first, or, when it has none, a new one named
// after the agent and linked to it.
func (c *Catalog) AgentDefaultKnowledgeBase(ctx context.Context, tenantID, agentID string) (KnowledgeBase, error) {
	a, err := c.GetAgent(ctx, tenantID, agentID)
	if err != nil {
		return KnowledgeBase{}, err
	}
	if len(a.KnowledgeBaseIDs) > 0 {
		return c.GetKnowledgeBase(ctx, tenantID, a.KnowledgeBaseIDs[0])
	}
	name := a.Name + " knowledge base"
	kb, err := c.CreateKnowledgeBase(ctx, tenantID, KnowledgeBaseInput{Name: &name})
	if err != nil {
		return KnowledgeBase{}, err
	}
	err = pg.InTx(ctx, c.db, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO agent_knowledge_bases (tenant_id, agent_id, knowledge_base_id, position)
			VALUES ($1, $2, $3, 1)`, tenantID, agentID, kb.ID)
		return err
	})
	if err != nil {
		return KnowledgeBase{}, fmt.Errorf("link agent %s to its knowledge base: %w", agentID, err)
	}
	return kb, nil
}
