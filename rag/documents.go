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

// Document source types.
const (
	SourceText     = "text"
	SourceMarkdown = "markdown"
	SourcePDF      = "pdf"
	SourceURL      = "url"
	SourcePost     = "post"
)

// Document statuses: pending until an index job runs, indexing while it
// does, then ready or failed (with Error).
const (
	StatusPending  = "pending"
	StatusIndexing = "indexing"
	StatusReady    = "ready"
	StatusFailed   = "failed"
)

// MaxContentBytes caps a document's text.
const MaxContentBytes = 20 << 20

// Document is a source of knowledge: its text (extracted from a PDF, a URL
// or a post by the job that indexes it, when it is not given as text) and
// the state of its indexing.
type Document struct {
	ID              string `json:"id"`
	KnowledgeBaseID string `json:"knowledge_base_id"`
	Title           string `json:"title"`
	// SourceType is text, markdown, pdf, url or post; SourceRef the URL,
	// post id or file name it came from.
	SourceType string          `json:"source_type"`
	SourceRef  string          `json:"source_ref"`
	Metadata   json.RawMessage `json:"metadata"`
	Status     string          `json:"status"`
	ChunkCount int             `json:"chunk_count"`
	// TokenCount is the text's length in tokens; EmbeddingTokens what the
	// embedding provider billed for the last indexing.
	TokenCount      int        `json:"token_count"`
	EmbeddingTokens int64      `json:"embedding_tokens"`
	IndexedModel    string     `json:"indexed_model"`
	Error           *DocError  `json:"error"`
	IndexedAt       *time.Time `json:"indexed_at"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	// Content is the document's text; lists leave it empty.
	Content string `json:"-"`
}

// DocError is why a document failed to index.
type DocError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// DocumentInput creates a document. Content is required for text and
// markdown sources; for the others the index job extracts it and stores it
// with SetDocumentContent.
type DocumentInput struct {
	Title      string          `json:"title"`
	SourceType string          `json:"source_type"`
	SourceRef  string          `json:"source_ref"`
	Content    string          `json:"content"`
	Metadata   json.RawMessage `json:"metadata"`
}

func (in DocumentInput) check() error {
	var f problem.FieldErrors
	switch in.SourceType {
	case SourceText, SourceMarkdown:
		f.Check(strings.TrimSpace(in.Content) == "", "content", "is required for text and markdown documents")
	case SourcePDF, SourceURL, SourcePost:
		f.Check(in.SourceRef == "" && in.Content == "", "source_ref", "is required: the URL, post id or file name")
	default:
		f.Add("source_type", "must be text, markdown, pdf, url or post")
	}
	f.Check(len(in.Content) > MaxContentBytes, "content", fmt.Sprintf("must be at most %d MB", MaxContentBytes>>20))
	f.Check(len(in.Title) > 500, "title", "must be at most 500 characters")
	f.Check(len(in.SourceRef) > 2000, "source_ref", "must be at most 2000 characters")
	checkObject(&f, "metadata", in.Metadata)
	return f.Err()
}

// normaliseText makes line ends \n, so paragraphs are found and offsets
// refer to the stored text.
func normaliseText(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

const docCols = `id, knowledge_base_id, title, source_type, source_ref, metadata, status, chunk_count, token_count,
	embedding_tokens, indexed_model, error_code, error_message, indexed_at, created_at, updated_at`

func scanDoc(row pgx.Row, withContent bool) (Document, error) {
	var d Document
	var code, msg *string
	dst := []any{&d.ID, &d.KnowledgeBaseID, &d.Title, &d.SourceType, &d.SourceRef, &d.Metadata, &d.Status, &d.ChunkCount,
		&d.TokenCount, &d.EmbeddingTokens, &d.IndexedModel, &code, &msg, &d.IndexedAt, &d.CreatedAt, &d.UpdatedAt}
	if withContent {
		dst = append(dst, &d.Content)
	}
	if err := row.Scan(dst...); err != nil {
		return Document{}, err
	}
	if code != nil {
		d.Error = &DocError{Code: *code, Message: deref(msg)}
	}
	return d, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// CreateDocument adds a pending document to the tenant's knowledge base.
// The caller then submits a rag.index_document job for it.
func (c *Catalog) CreateDocument(ctx context.Context, tenantID, kbID string, in DocumentInput) (Document, error) {
	if err := in.check(); err != nil {
		return Document{}, err
	}
	meta := string(in.Metadata)
	if in.Metadata == nil {
		meta = "{}"
	}
	d, err := c.docRow(ctx, true, `INSERT INTO kb_documents (id, tenant_id, knowledge_base_id, title, source_type, source_ref, content, metadata)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb) RETURNING `+docCols+`, content`,
		ids.New("doc"), tenantID, kbID, in.Title, in.SourceType, in.SourceRef, normaliseText(in.Content), meta)
	if pg.IsForeignKeyViolation(err) {
		return Document{}, ErrKnowledgeBaseNotFound
	}
	return d, err
}

// GetDocument returns the tenant's document with its content.
func (c *Catalog) GetDocument(ctx context.Context, tenantID, id string) (Document, error) {
	return c.docRow(ctx, true, `SELECT `+docCols+`, content FROM kb_documents WHERE tenant_id = $1 AND id = $2`, tenantID, id)
}

// ListDocuments lists a knowledge base's documents, newest first, without
// their content; status, when not empty, keeps those in that state.
func (c *Catalog) ListDocuments(ctx context.Context, tenantID, kbID, status string, page pg.Page) ([]Document, string, error) {
	rows, err := c.db.Query(ctx, `SELECT `+docCols+` FROM kb_documents
		WHERE tenant_id = $1 AND knowledge_base_id = $2 AND ($3 = '' OR status = $3) AND ($4 = '' OR id < $4)
		ORDER BY id DESC LIMIT $5`, tenantID, kbID, status, page.After, page.Limit+1)
	return c.docList(rows, err, page)
}

func (c *Catalog) docList(rows pgx.Rows, err error, page pg.Page) ([]Document, string, error) {
	if err != nil {
		return nil, "", fmt.Errorf("list documents: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Document, error) { return scanDoc(r, false) })
	if err != nil {
		return nil, "", fmt.Errorf("list documents: %w", err)
	}
	list, next := pg.Trim(list, page, func(d Document) string { return d.ID })
	return list, next, nil
}

// DocumentIDs lists every document id of a knowledge base, oldest first,
// for reindexing.
func (c *Catalog) DocumentIDs(ctx context.Context, tenantID, kbID string) ([]string, error) {
	rows, err := c.db.Query(ctx, `SELECT id FROM kb_documents WHERE tenant_id = $1 AND knowledge_base_id = $2 ORDER BY id`, tenantID, kbID)
	if err != nil {
		return nil, fmt.Errorf("list document ids: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list document ids: %w", err)
	}
	return out, nil
}

// FindDocumentBySource returns the knowledge base's document made from a
// source (a post id, a URL), so adding the same post twice can answer with
// the first document; ErrDocumentNotFound when there is none.
func (c *Catalog) FindDocumentBySource(ctx context.Context, tenantID, kbID, sourceType, sourceRef string) (Document, error) {
	return c.docRow(ctx, true, `SELECT `+docCols+`, content FROM kb_documents
		WHERE tenant_id = $1 AND knowledge_base_id = $2 AND source_type = $3 AND source_ref = $4
		ORDER BY id LIMIT 1`, tenantID, kbID, sourceType, sourceRef)
}

// SetDocumentContent stores the text a job extracted (from a PDF, a URL or
// a post), and the title when not empty and the document has none.
func (c *Catalog) SetDocumentContent(ctx context.Context, tenantID, id, title, content string) error {
	if len(content) > MaxContentBytes {
		return problem.New(problem.TooLarge, "document_too_large", fmt.Sprintf("the document's text is over %d MB", MaxContentBytes>>20))
	}
	tag, err := c.db.Exec(ctx, `UPDATE kb_documents SET content = $3, title = CASE WHEN title = '' THEN $4 ELSE title END,
		updated_at = now() WHERE tenant_id = $1 AND id = $2`, tenantID, id, normaliseText(content), title)
	return affected(tag.RowsAffected(), err, "set content of document "+id, ErrDocumentNotFound)
}

// UpdateDocumentMetadata replaces a document's metadata in the catalog.
// Service.UpdateDocumentMetadata also updates its chunks.
func (c *Catalog) UpdateDocumentMetadata(ctx context.Context, tenantID, id string, metadata json.RawMessage) (Document, error) {
	var f problem.FieldErrors
	checkObject(&f, "metadata", metadata)
	if err := f.Err(); err != nil {
		return Document{}, err
	}
	return c.docRow(ctx, true, `UPDATE kb_documents SET metadata = $3::jsonb, updated_at = now()
		WHERE tenant_id = $1 AND id = $2 RETURNING `+docCols+`, content`, tenantID, id, string(metadata))
}

// DeleteDocument deletes the document from the catalog. Service.DeleteDocument
// also deletes its chunks.
func (c *Catalog) DeleteDocument(ctx context.Context, tenantID, id string) error {
	tag, err := c.db.Exec(ctx, `DELETE FROM kb_documents WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(tag.RowsAffected(), err, "delete document "+id, ErrDocumentNotFound)
}

// markIndexing records that an index job started on the document.
func (c *Catalog) markIndexing(ctx context.Context, tenantID, id string) error {
	tag, err := c.db.Exec(ctx, `UPDATE kb_documents SET status = 'indexing', updated_at = now()
		WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(tag.RowsAffected(), err, "mark document "+id+" indexing", ErrDocumentNotFound)
}

// markReady records a finished indexing; ErrDocumentNotFound when the
// document was deleted meanwhile.
func (c *Catalog) markReady(ctx context.Context, tenantID, id string, r IndexResult) error {
	tag, err := c.db.Exec(ctx, `UPDATE kb_documents SET status = 'ready', chunk_count = $3, token_count = $4,
			embedding_tokens = $5, indexed_model = $6, error_code = NULL, error_message = NULL, indexed_at = now(), updated_at = now()
		WHERE tenant_id = $1 AND id = $2`, tenantID, id, r.Chunks, r.Tokens, r.Usage.Tokens, r.Model)
	return affected(tag.RowsAffected(), err, "mark document "+id+" ready", ErrDocumentNotFound)
}

// markFailed records why indexing failed.
func (c *Catalog) markFailed(ctx context.Context, tenantID, id string, cause DocError) error {
	_, err := c.db.Exec(ctx, `UPDATE kb_documents SET status = 'failed', error_code = $3, error_message = $4, updated_at = now()
		WHERE tenant_id = $1 AND id = $2`, tenantID, id, cause.Code, cause.Message)
	if err != nil {
		return fmt.Errorf("mark document %s failed: %w", id, err)
	}
	return nil
}

func affected(n int64, err error, what string, notFound error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return notFound
	}
	return nil
}

func (c *Catalog) docRow(ctx context.Context, withContent bool, sql string, args ...any) (Document, error) {
	d, err := scanDoc(c.db.QueryRow(ctx, sql, args...), withContent)
	if isNoRows(err) {
		return Document{}, ErrDocumentNotFound
	}
	if err != nil {
		return Document{}, fmt.Errorf("document: %w", err)
	}
	return d, nil
}
