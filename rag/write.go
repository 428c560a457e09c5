package rag

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/kilnhq/kiln/internal/pg"
)

// insertBatch is how many chunks one INSERT writes: 7 parameters a row
// keeps a statement far below Postgres's 65,535, and a batch of 1,536-dim
// vectors near 2 MB.
const insertBatch = 100

// DocumentChunks is everything the store keeps of one document.
type DocumentChunks struct {
	TenantID        string
	KnowledgeBaseID string
	DocumentID      string
	// Model made the embeddings; stored for audit and model changes.
	Model string
	// TextSearchConfig is the Postgres text search configuration of the
	// keyword index ("english", "simple", …; see TextSearchConfig).
	TextSearchConfig string
	// Metadata is copied to every chunk, for filtering.
	Metadata map[string]any
	Chunks   []Chunk
	// Embeddings holds one vector per chunk, all of one size.
	Embeddings [][]float32
}

func (d DocumentChunks) check() error {
	switch {
	case d.TenantID == "" || d.KnowledgeBaseID == "" || d.DocumentID == "":
		return errors.New("tenant, knowledge base and document ids are required")
	case len(d.Chunks) != len(d.Embeddings):
		return fmt.Errorf("%d chunks but %d embeddings", len(d.Chunks), len(d.Embeddings))
	}
	for i, e := range d.Embeddings {
		if len(e) == 0 || len(e) > MaxDimensions || len(e) != len(d.Embeddings[0]) {
			return fmt.Errorf("embedding %d has %d dimensions; all must have the same size, 1 to %d", i, len(e), MaxDimensions)
		}
	}
	return nil
}

// ReplaceDocument makes the document's chunks exactly d.Chunks, atomically:
// readers see the old chunks or the new ones, never a mix, and running it
// twice leaves one set. Concurrent replaces of one document run one after
// the other.
func (s *Store) ReplaceDocument(ctx context.Context, d DocumentChunks) error {
	if s.err != nil {
		return s.err
	}
	if err := d.check(); err != nil {
		return fmt.Errorf("replace chunks of document %s: %w", d.DocumentID, err)
	}
	meta, err := json.Marshal(orEmpty(d.Metadata))
	if err != nil {
		return fmt.Errorf("replace chunks of document %s: metadata: %w", d.DocumentID, err)
	}
	var deleted int64
	err = pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, d.DocumentID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM rag_chunks WHERE tenant_id = $1 AND document_id = $2`, d.TenantID, d.DocumentID)
		if err != nil {
			return err
		}
		deleted = tag.RowsAffected()
		return insertChunks(ctx, tx, d, string(meta))
	})
	if err != nil {
		return fmt.Errorf("replace chunks of document %s: %w", d.DocumentID, err)
	}
	dims := 0
	if len(d.Embeddings) > 0 {
		dims = len(d.Embeddings[0])
	}
	return s.afterWrite(ctx, dims, len(d.Chunks), len(d.Chunks)+int(deleted))
}

// insertChunks writes d's chunks with multi-row INSERTs (no COPY: PGlite
// has none). Parameters $1 to $7 are the document's, the rest per row.
func insertChunks(ctx context.Context, tx pgx.Tx, d DocumentChunks, meta string) error {
	dims := 0
	if len(d.Embeddings) > 0 {
		dims = len(d.Embeddings[0])
	}
	common := []any{d.TenantID, d.KnowledgeBaseID, d.DocumentID, meta, d.Model, dims, TextSearchConfig(d.TextSearchConfig)}
	for from := 0; from < len(d.Chunks); from += insertBatch {
		to := min(from+insertBatch, len(d.Chunks))
		var sql strings.Builder
		sql.WriteString(`INSERT INTO rag_chunks (tenant_id, knowledge_base_id, document_id, metadata, model, dims, ts_config,
			position, text, heading_path, char_start, char_end, token_count, embedding) VALUES `)
		args := append([]any{}, common...)
		for i := from; i < to; i++ {
			c := d.Chunks[i]
			n := len(args)
			if i > from {
				sql.WriteString(", ")
			}
			fmt.Fprintf(&sql, "($1, $2, $3, $4::jsonb, $5, $6::int, $7::regconfig, $%d::int, $%d, $%d::text[], $%d::int, $%d::int, $%d::int, $%d::vector)",
				n+1, n+2, n+3, n+4, n+5, n+6, n+7)
			args = append(args, c.Position, c.Text, orNoPath(c.HeadingPath), c.Start, c.End, c.Tokens, pgvector.NewVector(d.Embeddings[i]))
		}
		if _, err := tx.Exec(ctx, sql.String(), args...); err != nil {
			return fmt.Errorf("insert chunks %d to %d: %w", from, to, err)
		}
	}
	return nil
}

// DeleteDocument removes a document's chunks and returns how many there were.
func (s *Store) DeleteDocument(ctx context.Context, tenantID, documentID string) (int64, error) {
	if s.err != nil {
		return 0, s.err
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM rag_chunks WHERE tenant_id = $1 AND document_id = $2`, tenantID, documentID)
	if err != nil {
		return 0, fmt.Errorf("delete chunks of document %s: %w", documentID, err)
	}
	return tag.RowsAffected(), s.afterWrite(ctx, 0, 0, int(tag.RowsAffected()))
}

// DeleteKnowledgeBase removes every chunk of a knowledge base.
func (s *Store) DeleteKnowledgeBase(ctx context.Context, tenantID, knowledgeBaseID string) (int64, error) {
	if s.err != nil {
		return 0, s.err
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM rag_chunks WHERE tenant_id = $1 AND knowledge_base_id = $2`, tenantID, knowledgeBaseID)
	if err != nil {
		return 0, fmt.Errorf("delete chunks of knowledge base %s: %w", knowledgeBaseID, err)
	}
	return tag.RowsAffected(), s.afterWrite(ctx, 0, 0, int(tag.RowsAffected()))
}

// SetDocumentMetadata replaces the metadata copied on a document's chunks,
// so filters see a metadata change without reindexing.
func (s *Store) SetDocumentMetadata(ctx context.Context, tenantID, documentID string, metadata map[string]any) error {
	if s.err != nil {
		return s.err
	}
	meta, err := json.Marshal(orEmpty(metadata))
	if err != nil {
		return fmt.Errorf("set metadata of document %s: %w", documentID, err)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE rag_chunks SET metadata = $3::jsonb WHERE tenant_id = $1 AND document_id = $2`,
		tenantID, documentID, string(meta)); err != nil {
		return fmt.Errorf("set metadata of document %s: %w", documentID, err)
	}
	return nil
}

// Chunks returns a document's chunks in order, without their vectors.
func (s *Store) Chunks(ctx context.Context, tenantID, documentID string) ([]Chunk, error) {
	if s.err != nil {
		return nil, s.err
	}
	rows, err := s.pool.Query(ctx, `SELECT position, text, heading_path, char_start, char_end, token_count
		FROM rag_chunks WHERE tenant_id = $1 AND document_id = $2 ORDER BY position`, tenantID, documentID)
	if err != nil {
		return nil, fmt.Errorf("list chunks of document %s: %w", documentID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Chunk, error) {
		var c Chunk
		err := r.Scan(&c.Position, &c.Text, &c.HeadingPath, &c.Start, &c.End, &c.Tokens)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("list chunks of document %s: %w", documentID, err)
	}
	return out, nil
}

// CountChunks counts a tenant's chunks in the given knowledge bases.
func (s *Store) CountChunks(ctx context.Context, tenantID string, knowledgeBaseIDs ...string) (int64, error) {
	if s.err != nil {
		return 0, s.err
	}
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM rag_chunks WHERE tenant_id = $1 AND knowledge_base_id = ANY($2::text[])`,
		tenantID, knowledgeBaseIDs).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count chunks: %w", err)
	}
	return n, nil
}

// textSearchConfigs maps language codes to Postgres's built-in text search
// configurations.
var textSearchConfigs = map[string]string{
	"ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "da": "danish", "nl": "dutch",
	"en": "english", "et": "estonian", "fi": "finnish", "fr": "french", "de": "german", "el": "greek",
	"hi": "hindi", "hu": "hungarian", "id": "indonesian", "ga": "irish", "it": "italian", "lt": "lithuanian",
	"ne": "nepali", "no": "norwegian", "nb": "norwegian", "nn": "norwegian", "pt": "portuguese", "ro": "romanian",
	"ru": "russian", "sr": "serbian", "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}

// TextSearchConfig returns the Postgres text search configuration for a
// language: a BCP 47 tag ("en", "pt-BR") or a configuration name
// ("english"). "" is English, Kiln's default language; languages without
// a stemmer get "simple", which only lowercases. Chunks and the queries
// that search them must use the same configuration.
func TextSearchConfig(lang string) string {
	l := strings.ToLower(strings.TrimSpace(lang))
	if l == "" {
		return "english"
	}
	for _, name := range textSearchConfigs {
		if l == name {
			return name
		}
	}
	base, _, _ := strings.Cut(l, "-")
	if name, ok := textSearchConfigs[base]; ok {
		return name
	}
	return "simple"
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func orNoPath(p []string) []string {
	if p == nil {
		return []string{}
	}
	return p
}

// DeleteTenant removes every chunk of a tenant, for when the tenant goes
// (the main database's rows go by cascade; these are elsewhere).
func (s *Store) DeleteTenant(ctx context.Context, tenantID string) (int64, error) {
	if s.err != nil {
		return 0, s.err
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM rag_chunks WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return 0, fmt.Errorf("delete chunks of tenant %s: %w", tenantID, err)
	}
	return tag.RowsAffected(), s.afterWrite(ctx, 0, 0, int(tag.RowsAffected()))
}
