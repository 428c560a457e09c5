package rag

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the catalog's migration files (main database,
// versions 00220 to 00229) for pg.NewMigrator. The vector database has its
// own, applied by OpenStore.
func Migrations() pg.Source {
	return pg.Source{Owner: "rag", FS: migrations, Dir: "migrations"}
}

// Embedding providers.
const (
	ProviderHash   = "hash"
	ProviderOpenAI = "openai"
)

// EmbeddingSettings choose a knowledge base's embedder.
type EmbeddingSettings struct {
	Provider   string `json:"embedding_provider"`
	Model      string `json:"embedding_model"`
	Dimensions int    `json:"embedding_dimensions"`
	// BaseURL is the knowledge base's own OpenAI-compatible endpoint; ""
	// uses the tenant's integration or the deployment's.
	BaseURL string `json:"embedding_base_url"`
}

// DefaultEmbedding is what new knowledge bases use unless told otherwise:
// OpenAI's text-embedding-3-small when an API key is configured, else the
// local hash embedder, so RAG works offline from the first run.
func DefaultEmbedding(openAIConfigured bool) EmbeddingSettings {
	if openAIConfigured {
		return EmbeddingSettings{Provider: ProviderOpenAI, Model: ai.DefaultOpenAIModel, Dimensions: 1536}
	}
	return EmbeddingSettings{Provider: ProviderHash, Model: ai.HashModel, Dimensions: ai.DefaultHashDimensions}
}

// Catalog stores knowledge bases, documents and agents in the main
// database. Every method takes the caller's tenant id; another tenant's
// rows answer as not found.
type Catalog struct {
	db       *pgxpool.Pool
	log      *slog.Logger
	defaults EmbeddingSettings
	secrets  Secrets
}

// Secrets seal and open the API keys knowledge bases keep (the settings
// service, with KILN_ENCRYPTION_KEY).
type Secrets interface {
	Seal(tenantID, scope, secret string) ([]byte, error)
	Open(tenantID, scope string, sealed []byte) (string, error)
}

// WithSecrets lets the catalog store knowledge bases' own API keys; without
// it, setting one is refused.
func (c *Catalog) WithSecrets(s Secrets) *Catalog {
	c.secrets = s
	return c
}

// ErrSecretsUnavailable refuses a knowledge base API key when nothing can
// encrypt it.
var ErrSecretsUnavailable = problem.New(problem.Unavailable, "encryption_not_configured",
	"this installation cannot store API keys: the operator must set KILN_ENCRYPTION_KEY")

// keyScope binds a knowledge base's sealed key to it.
func keyScope(kbID string) string { return "kb:" + kbID }

// NewCatalog returns a catalog over the main database; defaults fill the
// embedding settings of knowledge bases created without them.
func NewCatalog(db *pgxpool.Pool, log *slog.Logger, defaults EmbeddingSettings) *Catalog {
	return &Catalog{db: db, log: log, defaults: defaults}
}

// KnowledgeBase is a named set of documents searched together, with the
// embedding model and chunk settings its documents are indexed with.
type KnowledgeBase struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	EmbeddingSettings
	MaxTokens  int      `json:"max_tokens"`
	Overlap    int      `json:"overlap"`
	Separators []string `json:"separators"`
	// Language picks the keyword index's stemming (see TextSearchConfig).
	Language      string          `json:"language"`
	Metadata      json.RawMessage `json:"metadata"`
	DocumentCount int             `json:"document_count"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	// APIKeyHint shows which API key of its own the knowledge base has
	// ("…" and the last four characters), or "" for none.
	APIKeyHint string `json:"embedding_api_key"`

	sealedKey []byte
}

// ChunkOptions are the knowledge base's chunk settings.
func (kb KnowledgeBase) ChunkOptions() ChunkOptions {
	overlap := kb.Overlap
	if overlap == 0 {
		overlap = -1 // a knowledge base's 0 means none
	}
	return ChunkOptions{MaxTokens: kb.MaxTokens, Overlap: overlap, Separators: kb.Separators}
}

// KnowledgeBaseInput holds a knowledge base's writable fields; nil leaves a
// field unchanged on update and takes the default on create.
type KnowledgeBaseInput struct {
	Name        *string          `json:"name"`
	Description *string          `json:"description"`
	Provider    *string          `json:"embedding_provider"`
	Model       *string          `json:"embedding_model"`
	Dimensions  *int             `json:"embedding_dimensions"`
	MaxTokens   *int             `json:"max_tokens"`
	Overlap     *int             `json:"overlap"`
	Separators  *[]string        `json:"separators"`
	Language    *string          `json:"language"`
	Metadata    *json.RawMessage `json:"metadata"`
	BaseURL     *string          `json:"embedding_base_url"`
	// APIKey is the knowledge base's own key for BaseURL (or the usual
	// endpoint); "" removes it. It is stored encrypted and never shown.
	APIKey *string `json:"embedding_api_key"`
}

// merged applies in over kb, for validation of the result.
func (in KnowledgeBaseInput) merged(kb KnowledgeBase) KnowledgeBase {
	set(&kb.Name, in.Name)
	set(&kb.Description, in.Description)
	set(&kb.Provider, in.Provider)
	set(&kb.Model, in.Model)
	set(&kb.Dimensions, in.Dimensions)
	set(&kb.MaxTokens, in.MaxTokens)
	set(&kb.Overlap, in.Overlap)
	set(&kb.Separators, in.Separators)
	set(&kb.Language, in.Language)
	set(&kb.Metadata, in.Metadata)
	if in.BaseURL != nil {
		kb.BaseURL = strings.TrimRight(strings.TrimSpace(*in.BaseURL), "/")
	}
	return kb
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// check validates a knowledge base as it would be stored.
func (kb KnowledgeBase) check(apiKey *string) error {
	var f problem.FieldErrors
	if apiKey != nil && strings.TrimSpace(*apiKey) != "" {
		f.Check(kb.Provider != ProviderOpenAI, "embedding_api_key", "is only for the openai provider")
		f.Check(len(*apiKey) > 512, "embedding_api_key", "must be at most 512 characters")
	}
	f.Check(strings.TrimSpace(kb.Name) == "" || len(kb.Name) > 200, "name", "must be 1 to 200 characters")
	f.Check(len(kb.Description) > 2000, "description", "must be at most 2000 characters")
	checkEmbedding(&f, kb.EmbeddingSettings)
	if err := kb.ChunkOptions().Check(); err != nil {
		p, _ := problem.As(err)
		for k, v := range p.Fields {
			f.Add(k, v)
		}
	}
	f.Check(kb.MaxTokens == 0, "max_tokens", "must be set")
	f.Check(kb.Overlap < 0, "overlap", "must be at least 0")
	f.Check(len(kb.Language) > 35, "language", "must be a BCP 47 tag such as en or pt-BR")
	checkObject(&f, "metadata", kb.Metadata)
	return f.Err()
}

func checkEmbedding(f *problem.FieldErrors, e EmbeddingSettings) {
	switch e.Provider {
	case ProviderHash:
		f.Check(e.BaseURL != "", "embedding_base_url", "must be empty for the hash provider, which runs locally")
		f.Check(e.Model != ai.HashModel, "embedding_model", "must be "+ai.HashModel+" for the hash provider")
		f.Check(e.Dimensions < 16 || e.Dimensions > 4096, "embedding_dimensions", "must be between 16 and 4096 for the hash provider")
	case ProviderOpenAI:
		f.Check(strings.TrimSpace(e.Model) == "" || len(e.Model) > 200, "embedding_model", "is required")
		f.Check(e.Dimensions < 1 || e.Dimensions > MaxDimensions, "embedding_dimensions", fmt.Sprintf("must be between 1 and %d", MaxDimensions))
		if e.BaseURL != "" {
			u, err := url.Parse(e.BaseURL)
			f.Check(err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(e.BaseURL) > 2048,
				"embedding_base_url", "must be an http or https URL of an OpenAI-compatible API, such as https://api.openai.com/v1")
		}
	default:
		f.Add("embedding_provider", "must be hash or openai")
	}
}

func checkObject(f *problem.FieldErrors, field string, raw json.RawMessage) {
	if raw == nil {
		return
	}
	var obj map[string]any
	f.Check(json.Unmarshal(raw, &obj) != nil || obj == nil, field, "must be a JSON object")
}

// newKnowledgeBase is a knowledge base with every default, for create.
func (c *Catalog) newKnowledgeBase() KnowledgeBase {
	return KnowledgeBase{EmbeddingSettings: c.defaults, MaxTokens: DefaultMaxTokens, Overlap: DefaultOverlap,
		Separators: []string{}, Language: "en", Metadata: json.RawMessage(`{}`)}
}

// embeddingInput fills the model and size a provider change implies, so
// {"embedding_provider": "hash"} alone is a valid change.
func (c *Catalog) embeddingInput(in KnowledgeBaseInput) KnowledgeBaseInput {
	if in.Provider == nil || in.Model != nil {
		return in
	}
	def := DefaultEmbedding(*in.Provider == ProviderOpenAI)
	if *in.Provider == c.defaults.Provider {
		def = c.defaults
	}
	in.Model = &def.Model
	if in.Dimensions == nil {
		in.Dimensions = &def.Dimensions
	}
	return in
}

const kbCols = `id, name, description, embedding_provider, embedding_model, embedding_dimensions, max_tokens, overlap,
	separators, language, metadata,
	(SELECT count(*) FROM kb_documents d WHERE d.tenant_id = knowledge_bases.tenant_id AND d.knowledge_base_id = knowledge_bases.id),
	created_at, updated_at, embedding_base_url, embedding_api_key_sealed, embedding_api_key_hint`

func scanKB(row pgx.Row) (KnowledgeBase, error) {
	var kb KnowledgeBase
	err := row.Scan(&kb.ID, &kb.Name, &kb.Description, &kb.Provider, &kb.Model, &kb.Dimensions, &kb.MaxTokens, &kb.Overlap,
		&kb.Separators, &kb.Language, &kb.Metadata, &kb.DocumentCount, &kb.CreatedAt, &kb.UpdatedAt,
		&kb.BaseURL, &kb.sealedKey, &kb.APIKeyHint)
	return kb, err
}

// CreateKnowledgeBase creates a knowledge base in tenantID.
func (c *Catalog) CreateKnowledgeBase(ctx context.Context, tenantID string, in KnowledgeBaseInput) (KnowledgeBase, error) {
	kb := c.embeddingInput(in).merged(c.newKnowledgeBase())
	kb.ID = ids.New("kb")
	if err := kb.check(in.APIKey); err != nil {
		return KnowledgeBase{}, err
	}
	if err := c.sealKey(tenantID, &kb, in.APIKey); err != nil {
		return KnowledgeBase{}, err
	}
	return c.kbRow(ctx, `INSERT INTO knowledge_bases (id, tenant_id, name, description, embedding_provider, embedding_model,
			embedding_dimensions, max_tokens, overlap, separators, language, metadata,
			embedding_base_url, embedding_api_key_sealed, embedding_api_key_hint)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14, $15) RETURNING `+kbCols,
		kb.ID, tenantID, kb.Name, kb.Description, kb.Provider, kb.Model, kb.Dimensions, kb.MaxTokens, kb.Overlap,
		kb.Separators, kb.Language, string(kb.Metadata), kb.BaseURL, kb.sealedKey, kb.APIKeyHint)
}

// GetKnowledgeBase returns the tenant's knowledge base.
func (c *Catalog) GetKnowledgeBase(ctx context.Context, tenantID, id string) (KnowledgeBase, error) {
	return c.kbRow(ctx, `SELECT `+kbCols+` FROM knowledge_bases WHERE tenant_id = $1 AND id = $2`, tenantID, id)
}

// ListKnowledgeBases lists the tenant's knowledge bases, newest first.
func (c *Catalog) ListKnowledgeBases(ctx context.Context, tenantID string, page pg.Page) ([]KnowledgeBase, string, error) {
	rows, err := c.db.Query(ctx, `SELECT `+kbCols+` FROM knowledge_bases
		WHERE tenant_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`, tenantID, page.After, page.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list knowledge bases: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (KnowledgeBase, error) { return scanKB(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list knowledge bases: %w", err)
	}
	list, next := pg.Trim(list, page, func(kb KnowledgeBase) string { return kb.ID })
	return list, next, nil
}

// UpdateKnowledgeBase changes the fields of in that are not nil. Reindex
// is true when the change alters how documents are indexed (embedding
// model or size, chunk settings, language): the caller starts a
// rag.reindex job, which re-embeds every document.
func (c *Catalog) UpdateKnowledgeBase(ctx context.Context, tenantID, id string, in KnowledgeBaseInput) (kb KnowledgeBase, reindex bool, err error) {
	old, err := c.GetKnowledgeBase(ctx, tenantID, id)
	if err != nil {
		return KnowledgeBase{}, false, err
	}
	kb = c.embeddingInput(in).merged(old)
	if err := kb.check(in.APIKey); err != nil {
		return KnowledgeBase{}, false, err
	}
	if err := c.sealKey(tenantID, &kb, in.APIKey); err != nil {
		return KnowledgeBase{}, false, err
	}
	kb, err = c.kbRow(ctx, `UPDATE knowledge_bases SET name = $3, description = $4, embedding_provider = $5, embedding_model = $6,
			embedding_dimensions = $7, max_tokens = $8, overlap = $9, separators = $10, language = $11, metadata = $12::jsonb,
			embedding_base_url = $13, embedding_api_key_sealed = $14, embedding_api_key_hint = $15, updated_at = now()
		WHERE tenant_id = $1 AND id = $2 RETURNING `+kbCols,
		tenantID, id, kb.Name, kb.Description, kb.Provider, kb.Model, kb.Dimensions, kb.MaxTokens, kb.Overlap,
		kb.Separators, kb.Language, string(kb.Metadata), kb.BaseURL, kb.sealedKey, kb.APIKeyHint)
	if err != nil {
		return KnowledgeBase{}, false, err
	}
	return kb, indexingChanged(old, kb), nil
}

// indexingChanged reports whether chunks made under old are stale under kb.
func indexingChanged(old, kb KnowledgeBase) bool {
	return old.EmbeddingSettings != kb.EmbeddingSettings || old.MaxTokens != kb.MaxTokens || old.Overlap != kb.Overlap ||
		strings.Join(old.Separators, "\x00") != strings.Join(kb.Separators, "\x00") ||
		TextSearchConfig(old.Language) != TextSearchConfig(kb.Language)
}

// DeleteKnowledgeBase deletes the knowledge base and its documents from the
// catalog. Service.DeleteKnowledgeBase also deletes their chunks.
func (c *Catalog) DeleteKnowledgeBase(ctx context.Context, tenantID, id string) error {
	tag, err := c.db.Exec(ctx, `DELETE FROM knowledge_bases WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	if err != nil {
		return fmt.Errorf("delete knowledge base %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrKnowledgeBaseNotFound
	}
	return nil
}

// Not-found problems of the catalog (404, also for another tenant's ids).
var (
	ErrKnowledgeBaseNotFound = problem.NotFoundf("knowledge_base")
	ErrDocumentNotFound      = problem.NotFoundf("document")
	ErrAgentNotFound         = problem.NotFoundf("agent")
)

func (c *Catalog) kbRow(ctx context.Context, sql string, args ...any) (KnowledgeBase, error) {
	kb, err := scanKB(c.db.QueryRow(ctx, sql, args...))
	if isNoRows(err) {
		return KnowledgeBase{}, ErrKnowledgeBaseNotFound
	}
	if err != nil {
		return KnowledgeBase{}, fmt.Errorf("knowledge base: %w", err)
	}
	return kb, nil
}

// sealKey applies a new API key to kb: "" removes it; another is sealed
// for the knowledge base. The hash provider keeps no key.
func (c *Catalog) sealKey(tenantID string, kb *KnowledgeBase, key *string) error {
	if kb.Provider == ProviderHash {
		kb.sealedKey, kb.APIKeyHint = nil, ""
	}
	if key == nil {
		return nil
	}
	secret := strings.TrimSpace(*key)
	if secret == "" {
		kb.sealedKey, kb.APIKeyHint = nil, ""
		return nil
	}
	if c.secrets == nil {
		return ErrSecretsUnavailable
	}
	sealed, err := c.secrets.Seal(tenantID, keyScope(kb.ID), secret)
	if err != nil {
		return err
	}
	kb.sealedKey, kb.APIKeyHint = sealed, maskKey(secret)
	return nil
}

// maskKey is what is shown of a key: "…" and its last four characters.
func maskKey(key string) string {
	if len(key) <= 8 {
		return "…"
	}
	return "…" + key[len(key)-4:]
}

// APIKey opens the knowledge base's own API key; "" when it has none.
func (c *Catalog) APIKey(tenantID string, kb KnowledgeBase) (string, error) {
	if kb.sealedKey == nil {
		return "", nil
	}
	if c.secrets == nil {
		return "", ErrSecretsUnavailable
	}
	return c.secrets.Open(tenantID, keyScope(kb.ID), kb.sealedKey)
}
