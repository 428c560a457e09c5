package rag

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/pg"
)

// indexBuildMemory is maintenance_work_mem for an HNSW build: enough for
// the graph of some 100,000 vectors of 384 dimensions.
const indexBuildMemory = "256MB"

// loadIndexes learns which vector sizes already have their HNSW index.
func (s *Store) loadIndexes(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, `SELECT indexname FROM pg_indexes WHERE tablename = 'rag_chunks' AND indexname LIKE 'rag_chunks_embedding_%'`)
	if err != nil {
		return fmt.Errorf("list vector indexes: %w", err)
	}
	defer rows.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("list vector indexes: %w", err)
		}
		if d, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "rag_chunks_embedding_"), "_idx")); err == nil {
			s.indexed[d] = true
		}
	}
	return rows.Err()
}

// EnsureIndex builds the partial HNSW index for vectors of dims now, if it
// does not exist, whatever IndexThreshold says (for benchmarks, and for
// operators who want it before a bulk load).
func (s *Store) EnsureIndex(ctx context.Context, dims int) error {
	if s.err != nil {
		return s.err
	}
	s.mu.Lock()
	done := s.indexed[dims]
	s.mu.Unlock()
	col, _, indexable := vectorExpr(dims)
	if done || !indexable {
		return nil
	}
	ops := "vector_cosine_ops"
	if dims > maxVectorIndexDims {
		ops = "halfvec_cosine_ops"
	}
	sql := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS rag_chunks_embedding_%d_idx ON rag_chunks USING hnsw (%s %s)
		WITH (m = %d, ef_construction = %d) WHERE dims = %d`, dims, col, ops, s.opts.HNSWM, s.opts.HNSWEfConstruction, dims)
	err := pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		// The build is much faster when the graph fits in memory.
		if _, err := tx.Exec(ctx, `SELECT set_config('maintenance_work_mem', $1, true)`, indexBuildMemory); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sql)
		return err
	})
	if err != nil && !isDuplicateTable(err) {
		return fmt.Errorf("create HNSW index for %d dimensions: %w", dims, err)
	}
	s.mu.Lock()
	s.indexed[dims] = true
	delete(s.pending, dims)
	s.mu.Unlock()
	s.log.Info("HNSW index ready", "dims", dims, "m", s.opts.HNSWM, "ef_construction", s.opts.HNSWEfConstruction)
	return s.analyze(ctx)
}

// afterWrite keeps the indexes and the planner's statistics in step with
// a write of added rows of size dims (zero for deletes) that changed rows
// in all: it builds a size's HNSW index once IndexThreshold rows have it,
// and runs ANALYZE when a tenth of the table has changed (PGlite has no
// autovacuum; on Postgres this only comes sooner than autovacuum would).
func (s *Store) afterWrite(ctx context.Context, dims, added, changed int) error {
	if dims > 0 {
		n, err := s.pendingRows(ctx, dims, added)
		if err != nil {
			return err
		}
		s.mu.Lock()
		hold := s.holdIndex
		s.mu.Unlock()
		if n >= s.opts.IndexThreshold && !hold {
			if err := s.EnsureIndex(ctx, dims); err != nil {
				return err
			}
		}
	}
	s.mu.Lock()
	s.changed += changed
	due := s.changed >= max(500, s.rows/10)
	s.mu.Unlock()
	if !due {
		return nil
	}
	return s.analyze(ctx)
}

// pendingRows counts the rows of an unindexed size: once from the table
// (up to the threshold), then by adding what this store writes.
func (s *Store) pendingRows(ctx context.Context, dims, added int) (int, error) {
	s.mu.Lock()
	n, known := s.pending[dims]
	indexed := s.indexed[dims]
	s.mu.Unlock()
	if indexed {
		return 0, nil
	}
	if !known {
		err := s.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM rag_chunks WHERE dims = $1 LIMIT $2) AS r`,
			dims, s.opts.IndexThreshold).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("count %d-dimension chunks: %w", dims, err)
		}
		added = 0 // the count includes them
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending[dims] = n + added
	return n + added, nil
}

// analyze refreshes the planner's statistics of the chunk table.
func (s *Store) analyze(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `ANALYZE rag_chunks`); err != nil {
		return fmt.Errorf("analyze rag_chunks: %w", err)
	}
	var rows float64
	if err := s.pool.QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = 'rag_chunks'::regclass`).Scan(&rows); err != nil {
		return fmt.Errorf("read rag_chunks size: %w", err)
	}
	s.mu.Lock()
	s.changed, s.rows = 0, int(rows)
	s.mu.Unlock()
	return nil
}

// Vacuum reclaims the space of deleted and replaced chunks and refreshes
// statistics. Postgres's autovacuum does this by itself; PGlite has none,
// so a long-running PGlite deployment should call it now and then.
func (s *Store) Vacuum(ctx context.Context) error {
	if s.err != nil {
		return s.err
	}
	if _, err := s.pool.Exec(ctx, `VACUUM ANALYZE rag_chunks`); err != nil {
		return fmt.Errorf("vacuum rag_chunks: %w", err)
	}
	return nil
}
