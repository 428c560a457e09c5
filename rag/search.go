package rag

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/kilnhq/kiln/internal/problem"
)

// Mode is how a search ranks chunks.
type Mode string

// Search modes.
const (
	// ModeHybrid fuses the semantic and keyword rankings with reciprocal
	// rank fusion (k = 60). It is the default.
	ModeHybrid Mode = "hybrid"
	// ModeSemantic ranks by cosine similarity of embeddings.
	ModeSemantic Mode = "semantic"
	// ModeKeyword ranks by Postgres full-text search.
	ModeKeyword Mode = "keyword"
)

// Search limits and constants.
const (
	DefaultTopK = 10
	MaxTopK     = 100
	// RRFK is the k of reciprocal rank fusion: a chunk at rank r of a list
	// scores 1/(RRFK+r).
	RRFK            = 60
	maxFilterKeys   = 20
	maxFilterValues = 100
	maxSearchKBs    = 50
)

// Filters narrow a search.
type Filters struct {
	// DocumentIDs keeps chunks of these documents only.
	DocumentIDs []string `json:"document_ids,omitempty"`
	// Metadata keeps chunks whose document metadata matches every key. A
	// scalar value asks for equality ({"lang": "en"}), an array for
	// membership ({"tag": ["a", "b"]}: tag is a or b). A metadata value
	// that is itself an array matches when it contains a wanted value.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// Query is one search.
type Query struct {
	TenantID string
	// KnowledgeBaseIDs are searched together (an agent has several). The
	// caller has checked that they belong to TenantID.
	KnowledgeBaseIDs []string
	// Text is the query; keyword and hybrid search need it. Plain text
	// finds chunks with all of its words first, then those with some;
	// text with quotes, OR or a leading - uses websearch_to_tsquery's
	// syntax and finds only what matches it.
	Text string
	// Vector is the query's embedding; semantic and hybrid search need it.
	Vector []float32
	Mode   Mode
	// TopK is how many results to return (DefaultTopK when zero).
	TopK int
	// ScoreThreshold drops results scoring below it (see Result.Score).
	ScoreThreshold float64
	Filters        Filters
	// TextSearchConfig is the keyword query's text search configuration
	// (see TextSearchConfig); it should match the indexed chunks'.
	TextSearchConfig string
	// EfSearch overrides the store's hnsw.ef_search for this query.
	EfSearch int
	// Exact skips the HNSW index and compares every vector: slow, for
	// measuring the index's recall.
	Exact bool
	// ForceIndex makes the planner use the HNSW index even where it would
	// rather compare every vector, to measure the index on small tables.
	ForceIndex bool
}

// Result is a chunk found by a search.
type Result struct {
	Chunk
	KnowledgeBaseID string         `json:"knowledge_base_id"`
	DocumentID      string         `json:"document_id"`
	Metadata        map[string]any `json:"metadata"`
	// Score orders the results, higher is better: cosine similarity for
	// semantic search (-1 to 1); for keyword search 0.5 to 1 when the chunk
	// has every word of the query and below 0.5 when it has some (ts_rank
	// normalised to 0..1, halved); for hybrid search the RRF score divided
	// by its maximum 2/(RRFK+1), so 1 means first in both lists.
	Score float64 `json:"score"`
	// SemanticRank and KeywordRank are the chunk's 1-based ranks in each
	// list; 0 when it is not in that list.
	SemanticRank int `json:"semantic_rank,omitempty"`
	KeywordRank  int `json:"keyword_rank,omitempty"`
	id           int64
}

// ParseMode reads a mode; "" is ModeHybrid.
func ParseMode(s string) (Mode, bool) {
	switch Mode(s) {
	case "", ModeHybrid:
		return ModeHybrid, true
	case ModeSemantic, ModeKeyword:
		return Mode(s), true
	}
	return "", false
}

// Check validates q as the API would, naming its fields.
func (q Query) Check() error {
	var f problem.FieldErrors
	mode, ok := ParseMode(string(q.Mode))
	f.Check(!ok, "mode", "must be semantic, keyword or hybrid")
	f.Check(q.TenantID == "", "tenant_id", "is required")
	f.Check(len(q.KnowledgeBaseIDs) == 0 || len(q.KnowledgeBaseIDs) > maxSearchKBs, "knowledge_base_ids", fmt.Sprintf("must name 1 to %d knowledge bases", maxSearchKBs))
	f.Check(strings.TrimSpace(q.Text) == "" && mode != ModeSemantic, "query", "is required")
	f.Check(len(q.Vector) == 0 && mode != ModeKeyword, "query", "has no embedding")
	f.Check(q.TopK < 0 || q.TopK > MaxTopK, "top_k", fmt.Sprintf("must be between 1 and %d", MaxTopK))
	f.Check(q.ScoreThreshold < -1 || q.ScoreThreshold > 1, "score_threshold", "must be between -1 and 1")
	f.Check(q.Exact && q.ForceIndex, "exact", "cannot go with force_index")
	f.Check(len(q.Filters.DocumentIDs) > maxFilterValues, "filters.document_ids", fmt.Sprintf("must be at most %d", maxFilterValues))
	checkMetadataFilter(&f, q.Filters.Metadata)
	return f.Err()
}

func checkMetadataFilter(f *problem.FieldErrors, md map[string]any) {
	f.Check(len(md) > maxFilterKeys, "filters.metadata", fmt.Sprintf("must have at most %d keys", maxFilterKeys))
	for k, v := range md {
		field := "filters.metadata." + k
		f.Check(k == "", "filters.metadata", "keys must not be empty")
		vals, isList := v.([]any)
		if !isList {
			vals = []any{v}
		}
		f.Check(len(vals) == 0 || len(vals) > maxFilterValues, field, fmt.Sprintf("must list 1 to %d values", maxFilterValues))
		for _, x := range vals {
			switch x.(type) {
			case string, float64, bool, int, int64, json.Number:
			default:
				f.Add(field, "values must be strings, numbers or booleans")
			}
		}
	}
}

func (q Query) withDefaults(s *Store) Query {
	q.Mode, _ = ParseMode(string(q.Mode))
	if q.TopK == 0 {
		q.TopK = DefaultTopK
	}
	if q.EfSearch <= 0 {
		q.EfSearch = s.opts.EfSearch
	}
	return q
}

// candidates is how deep each list goes: a hybrid search fuses deeper
// lists than it returns, and a semantic list is fetched deeper too, since
// iterative scans in relaxed order may return near neighbours slightly out
// of order (the list is sorted again, then cut to top_k).
func (q Query) candidates() int {
	if q.Mode == ModeKeyword {
		return q.TopK
	}
	return max(4*q.TopK, 40)
}

// Search finds the chunks that best answer q, best first. Every query is
// scoped to q.TenantID and q.KnowledgeBaseIDs.
func (s *Store) Search(ctx context.Context, q Query) ([]Result, error) {
	if s.err != nil {
		return nil, s.err
	}
	if err := q.Check(); err != nil {
		return nil, err
	}
	q = q.withDefaults(s)
	var sem, kw []Result
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if q.Mode != ModeKeyword {
			if sem, err = s.semantic(ctx, tx, q); err != nil {
				return err
			}
		}
		if q.Mode != ModeSemantic {
			kw, err = keyword(ctx, tx, q)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("search %s: %w", q.Mode, err)
	}
	switch q.Mode {
	case ModeSemantic:
		return threshold(sem, q), nil
	case ModeKeyword:
		return threshold(kw, q), nil
	}
	return threshold(fuse(sem, kw), q), nil
}

// semantic returns the nearest chunks by cosine distance. ef_search and,
// on pgvector 0.8+, iterative scans are set for this transaction only, so
// filtered queries still fill their LIMIT.
func (s *Store) semantic(ctx context.Context, tx pgx.Tx, q Query) ([]Result, error) {
	n := q.candidates()
	if err := s.applySettings(ctx, tx, q, n); err != nil {
		return nil, err
	}
	sql, args := semanticSQL(q, n)
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	res, err := collectResults(rows)
	if err != nil {
		return nil, err
	}
	for i := range res {
		res[i].Score = 1 - res[i].Score // distance to similarity
	}
	// relaxed_order may return near-ties slightly out of order.
	sort.SliceStable(res, func(i, j int) bool { return res[i].Score > res[j].Score })
	for i := range res {
		res[i].SemanticRank = i + 1
	}
	return res, nil
}

// applySettings sets, for this transaction only, hnsw.ef_search (at least
// n, so the index returns enough rows), iterative scans where pgvector has
// them, and for exact queries no index scans at all.
func (s *Store) applySettings(ctx context.Context, tx pgx.Tx, q Query, n int) error {
	settings := [][2]string{{"hnsw.ef_search", fmt.Sprint(max(q.EfSearch, n))}}
	if s.iterative {
		settings = append(settings, [2]string{"hnsw.iterative_scan", "relaxed_order"})
	}
	if q.Exact {
		settings = append(settings, [2]string{"enable_indexscan", "off"})
	}
	if q.ForceIndex {
		settings = append(settings, [2]string{"enable_sort", "off"}, [2]string{"enable_seqscan", "off"})
	}
	for _, kv := range settings {
		if _, err := tx.Exec(ctx, `SELECT set_config($1, $2, true)`, kv[0], kv[1]); err != nil {
			return fmt.Errorf("set %s: %w", kv[0], err)
		}
	}
	return nil
}

const resultCols = `id, knowledge_base_id, document_id, position, text, heading_path, char_start, char_end, token_count, metadata`

// semanticSQL builds the nearest-neighbour query. The vector size is part
// of the SQL (it must match the partial index's predicate and expression).
func semanticSQL(q Query, n int) (string, []any) {
	dims := len(q.Vector)
	col, cast, _ := vectorExpr(dims)
	args := []any{pgvector.NewVector(q.Vector), q.TenantID, q.KnowledgeBaseIDs, n}
	where, args := filterSQL(q.Filters, args)
	dist := fmt.Sprintf("%s <=> $1%s", col, cast)
	return fmt.Sprintf(`SELECT %s, %s AS distance FROM rag_chunks
		WHERE dims = %d AND tenant_id = $2 AND knowledge_base_id = ANY($3::text[])%s
		ORDER BY %s LIMIT $4`, resultCols, dist, dims, where, dist), args
}

// keywordScanCap bounds how many matching chunks one keyword query ranks:
// ts_rank reads every match, and a common word matches most of a large
// knowledge base. Chunks with every word of the query are ranked first,
// so the cap only thins out the partial matches of common words.
const keywordScanCap = 5000

// keyword returns the chunks that best match q.Text by full-text search:
// first those with every word of the query (websearch_to_tsquery), scored
// 0.5 to 1; then, when they are too few, those with some of the words,
// scored below 0.5. Text in websearch syntax (quotes, OR, -word) gets the
// first kind only, as the user asked.
func keyword(ctx context.Context, tx pgx.Tx, q Query) ([]Result, error) {
	n := q.candidates()
	res, err := keywordPass(ctx, tx, q, strictTSQuery, 0.5, n, []int64{})
	if err != nil || len(res) >= n || usesWebsearchSyntax(q.Text) {
		return rankKeyword(res), err
	}
	found := make([]int64, len(res)) // not nil: NULL would exclude every row
	for i, r := range res {
		found[i] = r.id
	}
	more, err := keywordPass(ctx, tx, q, looseTSQuery, 0, n-len(res), found)
	return rankKeyword(append(res, more...)), err
}

func rankKeyword(res []Result) []Result {
	for i := range res {
		res[i].KeywordRank = i + 1
	}
	return res
}

// The tsqueries of $1 (configuration) and $2 (text): strict needs every
// word (or follows websearch syntax), loose any of the text's lexemes.
const (
	strictTSQuery = `websearch_to_tsquery($1::regconfig, $2)`
	looseTSQuery  = `coalesce(array_to_string(array(
		SELECT '''' || replace(replace(l, '\', '\\'), '''', '''''') || ''''
		FROM unnest(tsvector_to_array(to_tsvector($1::regconfig, $2))) AS l), ' | '), '')::tsquery`
)

// keywordPass ranks up to keywordScanCap chunks matching tsquery, leaving
// out the ids in exclude, and scores them base + ts_rank/2. The tsquery is
// written out in both places (Postgres evaluates it once) so the planner
// sees a constant it can take to the GIN index.
func keywordPass(ctx context.Context, tx pgx.Tx, q Query, tsquery string, base float64, n int, exclude []int64) ([]Result, error) {
	args := []any{TextSearchConfig(q.TextSearchConfig), q.Text, q.TenantID, q.KnowledgeBaseIDs, n, exclude, base, keywordScanCap}
	where, args := filterSQL(q.Filters, args)
	sql := fmt.Sprintf(`SELECT %s, $7::float8 + ts_rank(tsv, %s, 32) / 2 AS rank FROM (
			SELECT * FROM rag_chunks
			WHERE tenant_id = $3 AND knowledge_base_id = ANY($4::text[]) AND tsv @@ %s AND id <> ALL($6::bigint[])%s
			LIMIT $8) AS matches
		ORDER BY rank DESC, id LIMIT $5`, resultCols, tsquery, tsquery, where)
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return collectResults(rows)
}

func usesWebsearchSyntax(text string) bool {
	if strings.Contains(text, `"`) || strings.Contains(text, " OR ") {
		return true
	}
	for _, w := range strings.Fields(text) {
		if len(w) > 1 && w[0] == '-' {
			return true
		}
	}
	return false
}

// filterSQL appends the filters' conditions and their arguments.
func filterSQL(f Filters, args []any) (string, []any) {
	var b strings.Builder
	if len(f.DocumentIDs) > 0 {
		args = append(args, f.DocumentIDs)
		fmt.Fprintf(&b, " AND document_id = ANY($%d::text[])", len(args))
	}
	keys := make([]string, 0, len(f.Metadata))
	for k := range f.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, containments(k, f.Metadata[k]))
		fmt.Fprintf(&b, " AND metadata @> ANY($%d::text[]::jsonb[])", len(args))
	}
	return b.String(), args
}

// containments lists the jsonb objects that match key = value: for each
// wanted value, {key: value} (equality) and {key: [value]} (a metadata
// array containing it). Containment queries use the metadata GIN index.
func containments(key string, value any) []string {
	vals, ok := value.([]any)
	if !ok {
		vals = []any{value}
	}
	var out []string
	for _, v := range vals {
		for _, obj := range []map[string]any{{key: v}, {key: []any{v}}} {
			b, _ := json.Marshal(obj)
			out = append(out, string(b))
		}
	}
	return out
}

func collectResults(rows pgx.Rows) ([]Result, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Result, error) {
		var res Result
		err := r.Scan(&res.id, &res.KnowledgeBaseID, &res.DocumentID, &res.Position, &res.Text, &res.HeadingPath,
			&res.Start, &res.End, &res.Tokens, &res.Metadata, &res.Score)
		return res, err
	})
}

// fuse merges two rankings by reciprocal rank fusion.
func fuse(sem, kw []Result) []Result {
	byID := map[int64]*Result{}
	var order []int64
	add := func(list []Result, set func(dst *Result, rank int)) {
		for i := range list {
			r, ok := byID[list[i].id]
			if !ok {
				c := list[i]
				c.Score, c.SemanticRank, c.KeywordRank = 0, 0, 0
				r = &c
				byID[c.id] = r
				order = append(order, c.id)
			}
			set(r, i+1)
			r.Score += 1 / float64(RRFK+i+1)
		}
	}
	add(sem, func(r *Result, rank int) { r.SemanticRank = rank })
	add(kw, func(r *Result, rank int) { r.KeywordRank = rank })
	out := make([]Result, 0, len(order))
	for _, id := range order {
		r := *byID[id]
		r.Score /= 2.0 / float64(RRFK+1)
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

// threshold drops results below q.ScoreThreshold and keeps q.TopK.
func threshold(res []Result, q Query) []Result {
	out := res[:0]
	for _, r := range res {
		if r.Score >= q.ScoreThreshold || q.ScoreThreshold == 0 {
			out = append(out, r)
		}
	}
	return out[:min(len(out), q.TopK)]
}

// ExplainSemantic returns the plan of q's semantic query under the same
// settings Search uses, to check that the HNSW index serves it.
func (s *Store) ExplainSemantic(ctx context.Context, q Query) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	q.Mode = ModeSemantic
	if err := q.Check(); err != nil {
		return "", err
	}
	q = q.withDefaults(s)
	var plan []string
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := s.applySettings(ctx, tx, q, q.candidates()); err != nil {
			return err
		}
		sql, args := semanticSQL(q, q.candidates())
		rows, err := tx.Query(ctx, "EXPLAIN "+sql, args...)
		if err != nil {
			return err
		}
		plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return "", fmt.Errorf("explain semantic search: %w", err)
	}
	return strings.Join(plan, "\n"), nil
}
