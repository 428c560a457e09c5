package rag_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/rag"
	"github.com/kilnhq/kiln/rag/ragtest"
)

// doc is a test document: one chunk per text.
type doc struct {
	id    string
	kb    string
	texts []string
	meta  map[string]any
}

// put indexes d for tenant with the hash embedder of dims dimensions.
func put(t *testing.T, s *rag.Store, tenant string, d doc, dims int) {
	t.Helper()
	h := ai.NewHash(dims)
	var chunks []rag.Chunk
	pos := 0
	for i, text := range d.texts {
		chunks = append(chunks, rag.Chunk{Position: i, Text: text, HeadingPath: []string{"Doc " + d.id, fmt.Sprint("Part ", i)},
			Start: pos, End: pos + len([]rune(text)), Tokens: len(strings.Fields(text))})
		pos += len([]rune(text)) + 2
	}
	vecs, _, err := h.Embed(context.Background(), d.texts)
	testkit.Must(t, "embed", err)
	testkit.Must(t, "replace "+d.id, s.ReplaceDocument(context.Background(), rag.DocumentChunks{
		TenantID: tenant, KnowledgeBaseID: d.kb, DocumentID: d.id, Model: h.Model(), TextSearchConfig: "english",
		Metadata: d.meta, Chunks: chunks, Embeddings: vecs,
	}))
}

// search runs q for tenant over kbs, embedding q.Text with the hash
// embedder, and returns the document ids of the results in order.
func search(t *testing.T, s *rag.Store, q rag.Query) ([]string, []rag.Result) {
	t.Helper()
	if q.Vector == nil && q.Mode != rag.ModeKeyword {
		q.Vector = ai.NewHash(0).Vector(q.Text)
	}
	res, err := s.Search(context.Background(), q)
	testkit.Must(t, "search", err)
	var docs []string
	for _, r := range res {
		docs = append(docs, r.DocumentID)
	}
	return docs, res
}

// corpus is three documents on different subjects in one knowledge base,
// with metadata to filter on.
func corpus(kb string) []doc {
	return []doc{
		{"doc_pg", kb, []string{
			"PostgreSQL stores vectors with the pgvector extension.",
			"An HNSW index answers nearest neighbour queries by cosine distance.",
		}, map[string]any{"lang": "en", "tag": []any{"db", "search"}, "year": 2024}},
		{"doc_bread", kb, []string{
			"Sourdough bread needs flour, water, salt and a lively starter.",
			"Bake the loaf in a hot Dutch oven for forty minutes.",
		}, map[string]any{"lang": "en", "tag": "food", "year": 2023}},
		{"doc_garten", kb, []string{
			"Tomaten brauchen morgens Wasser und viel Sonne im Garten.",
			"Gardening: water the tomatoes in the morning, not at noon.",
		}, map[string]any{"lang": "de", "tag": []any{"garden", "food"}, "year": 2024}},
	}
}

func TestSearch(t *testing.T) {
	s := ragtest.Store(t, rag.StoreOptions{})
	tenant := ragtest.Tenant(t, s)
	kb := ids.New("kb")
	for _, d := range corpus(kb) {
		put(t, s, tenant, d, 0)
	}
	base := rag.Query{TenantID: tenant, KnowledgeBaseIDs: []string{kb}, TextSearchConfig: "english"}
	tests := []struct {
		name    string
		q       rag.Query
		want    []string // document ids in order; nil: no results
		wantTop string   // only the first result's document, when the rest may vary
		wantSet []string // the documents found, in any order
	}{
		{name: "semantic", q: rag.Query{Mode: rag.ModeSemantic, Text: "HNSW index for cosine nearest neighbour", TopK: 1}, want: []string{"doc_pg"}},
		{name: "keyword", q: rag.Query{Mode: rag.ModeKeyword, Text: "sourdough starter"}, want: []string{"doc_bread"}},
		{name: "keyword stems words", q: rag.Query{Mode: rag.ModeKeyword, Text: "baking loaves"}, want: []string{"doc_bread"}},
		{name: "keyword any word, best first", q: rag.Query{Mode: rag.ModeKeyword, Text: "water tomatoes morning"}, wantTop: "doc_garten"},
		{name: "keyword websearch phrase", q: rag.Query{Mode: rag.ModeKeyword, Text: `"Dutch oven"`}, want: []string{"doc_bread"}},
		{name: "keyword websearch exclusion", q: rag.Query{Mode: rag.ModeKeyword, Text: "water -tomatoes"}, want: []string{"doc_bread"}},
		{name: "keyword without a match", q: rag.Query{Mode: rag.ModeKeyword, Text: "astronomy"}},
		{name: "hybrid is the default", q: rag.Query{Text: "pgvector extension stores vectors", TopK: 1}, want: []string{"doc_pg"}},
		{name: "hybrid", q: rag.Query{Mode: rag.ModeHybrid, Text: "water the tomatoes", TopK: 1}, want: []string{"doc_garten"}},
		{name: "top_k", q: rag.Query{Mode: rag.ModeSemantic, Text: "water", TopK: 4}, wantTop: "doc_garten"},
		{name: "filter document ids", q: rag.Query{Text: "water", Filters: rag.Filters{DocumentIDs: []string{"doc_bread"}}}, want: []string{"doc_bread", "doc_bread"}},
		{name: "filter metadata equality", q: rag.Query{Mode: rag.ModeSemantic, Text: "water", Filters: rag.Filters{Metadata: map[string]any{"lang": "de"}}}, want: []string{"doc_garten", "doc_garten"}},
		{name: "filter metadata number", q: rag.Query{Mode: rag.ModeSemantic, Text: "water", Filters: rag.Filters{Metadata: map[string]any{"year": 2023.0}}}, want: []string{"doc_bread", "doc_bread"}},
		{name: "filter metadata membership", q: rag.Query{Mode: rag.ModeKeyword, Text: "water", Filters: rag.Filters{Metadata: map[string]any{"lang": []any{"fr", "de"}}}}, want: []string{"doc_garten"}},
		{name: "filter array metadata contains", q: rag.Query{Mode: rag.ModeSemantic, Text: "index", TopK: 10, Filters: rag.Filters{Metadata: map[string]any{"tag": "search"}}}, want: []string{"doc_pg", "doc_pg"}},
		{name: "filter membership on array and scalar metadata", q: rag.Query{Mode: rag.ModeKeyword, Text: "water", Filters: rag.Filters{Metadata: map[string]any{"tag": []any{"food"}}}}, wantSet: []string{"doc_bread", "doc_garten"}},
		{name: "filter membership of several values", q: rag.Query{Mode: rag.ModeSemantic, Text: "water", Filters: rag.Filters{Metadata: map[string]any{"tag": []any{"db", "garden"}}}}, wantSet: []string{"doc_garten", "doc_garten", "doc_pg", "doc_pg"}},
		{name: "filters combine", q: rag.Query{Mode: rag.ModeSemantic, Text: "water", Filters: rag.Filters{Metadata: map[string]any{"tag": "food", "year": 2024.0}}}, want: []string{"doc_garten", "doc_garten"}},
		{name: "filter matching nothing", q: rag.Query{Text: "water", Filters: rag.Filters{Metadata: map[string]any{"lang": "xx"}}}},
		{name: "score threshold", q: rag.Query{Mode: rag.ModeSemantic, Text: "Sourdough bread needs flour, water, salt and a lively starter.", ScoreThreshold: 0.99}, want: []string{"doc_bread"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.TenantID, q.KnowledgeBaseIDs, q.TextSearchConfig = base.TenantID, base.KnowledgeBaseIDs, base.TextSearchConfig
			got, res := search(t, s, q)
			if tt.wantSet != nil {
				if diff := cmp.Diff(tt.wantSet, sorted(got)); diff != "" {
					t.Fatalf("documents (-want +got):\n%s", diff)
				}
			} else if tt.wantTop != "" {
				if len(got) == 0 || got[0] != tt.wantTop {
					t.Fatalf("results %v, want %s first", got, tt.wantTop)
				}
			} else if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("documents (-want +got):\n%s", diff)
			}
			checkOrder(t, res, q)
		})
	}
}

// checkOrder verifies results are sorted by score, within top_k and the
// threshold, and carry the ranks of their mode.
func checkOrder(t *testing.T, res []rag.Result, q rag.Query) {
	t.Helper()
	topK := q.TopK
	if topK == 0 {
		topK = rag.DefaultTopK
	}
	if len(res) > topK {
		t.Fatalf("%d results, top_k %d", len(res), topK)
	}
	for i, r := range res {
		if i > 0 && r.Score > res[i-1].Score {
			t.Fatalf("result %d scores %v, above result %d's %v", i, r.Score, i-1, res[i-1].Score)
		}
		if q.ScoreThreshold != 0 && r.Score < q.ScoreThreshold {
			t.Fatalf("result %d scores %v, below the threshold %v", i, r.Score, q.ScoreThreshold)
		}
		switch q.Mode {
		case rag.ModeSemantic:
			if r.SemanticRank != i+1 || r.KeywordRank != 0 {
				t.Fatalf("semantic result %d has ranks %d/%d", i, r.SemanticRank, r.KeywordRank)
			}
		case rag.ModeKeyword:
			if r.KeywordRank != i+1 || r.SemanticRank != 0 || r.Score <= 0 || r.Score >= 1 {
				t.Fatalf("keyword result %d has ranks %d/%d, score %v", i, r.SemanticRank, r.KeywordRank, r.Score)
			}
		default:
			if r.SemanticRank == 0 && r.KeywordRank == 0 || r.Score <= 0 || r.Score > 1 {
				t.Fatalf("hybrid result %d has ranks %d/%d, score %v", i, r.SemanticRank, r.KeywordRank, r.Score)
			}
		}
	}
}

func TestSearchResultFields(t *testing.T) {
	s := ragtest.Store(t, rag.StoreOptions{})
	tenant := ragtest.Tenant(t, s)
	kb := ids.New("kb")
	d := corpus(kb)[1]
	put(t, s, tenant, d, 0)
	_, res := search(t, s, rag.Query{TenantID: tenant, KnowledgeBaseIDs: []string{kb}, Text: "Dutch oven", TopK: 1})
	if len(res) != 1 {
		t.Fatalf("%d results", len(res))
	}
	got := res[0]
	want := rag.Result{
		Chunk: rag.Chunk{Position: 1, Text: d.texts[1], HeadingPath: []string{"Doc doc_bread", "Part 1"},
			Start: 64, End: 64 + len(d.texts[1]), Tokens: 11},
		KnowledgeBaseID: kb, DocumentID: "doc_bread",
		Metadata: map[string]any{"lang": "en", "tag": "food", "year": 2023.0},
		Score:    1, SemanticRank: 1, KeywordRank: 1,
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(rag.Result{})); diff != "" {
		t.Fatalf("result (-want +got):\n%s", diff)
	}
}

func TestSearchAcrossKnowledgeBases(t *testing.T) {
	s := ragtest.Store(t, rag.StoreOptions{})
	tenant := ragtest.Tenant(t, s)
	kbA, kbB, kbC := ids.New("kb"), ids.New("kb"), ids.New("kb")
	put(t, s, tenant, doc{"doc_a", kbA, []string{"apples grow on trees"}, nil}, 0)
	put(t, s, tenant, doc{"doc_b", kbB, []string{"apples make good pies"}, nil}, 0)
	put(t, s, tenant, doc{"doc_c", kbC, []string{"apples are red or green"}, nil}, 0)
	for _, mode := range []rag.Mode{rag.ModeSemantic, rag.ModeKeyword, rag.ModeHybrid} {
		got, _ := search(t, s, rag.Query{TenantID: tenant, KnowledgeBaseIDs: []string{kbA, kbB}, Text: "apples", Mode: mode})
		if diff := cmp.Diff([]string{"doc_a", "doc_b"}, sorted(got)); diff != "" {
			t.Fatalf("%s over two of three knowledge bases (-want +got):\n%s", mode, diff)
		}
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}

func TestDeleteRemovesFromResults(t *testing.T) {
	ctx := context.Background()
	s := ragtest.Store(t, rag.StoreOptions{})
	tenant := ragtest.Tenant(t, s)
	kb := ids.New("kb")
	for _, d := range corpus(kb) {
		put(t, s, tenant, d, 0)
	}
	n, err := s.DeleteDocument(ctx, tenant, "doc_bread")
	testkit.Must(t, "delete", err)
	if n != 2 {
		t.Fatalf("deleted %d chunks, want 2", n)
	}
	for _, mode := range []rag.Mode{rag.ModeSemantic, rag.ModeKeyword, rag.ModeHybrid} {
		got, _ := search(t, s, rag.Query{TenantID: tenant, KnowledgeBaseIDs: []string{kb}, Text: "sourdough bread flour water", Mode: mode, TopK: 100})
		for _, d := range got {
			if d == "doc_bread" {
				t.Fatalf("%s search still finds the deleted document: %v", mode, got)
			}
		}
		if len(got) == 0 {
			t.Fatalf("%s search found nothing; the other documents should remain", mode)
		}
	}
	n, err = s.DeleteKnowledgeBase(ctx, tenant, kb)
	testkit.Must(t, "delete knowledge base", err)
	if count, _ := s.CountChunks(ctx, tenant, kb); n != 4 || count != 0 {
		t.Fatalf("deleting the knowledge base removed %d chunks and left %d; want 4 and 0", n, count)
	}
}

func TestReplaceIsIdempotent(t *testing.T) {
	ctx := context.Background()
	s := ragtest.Store(t, rag.StoreOptions{})
	tenant := ragtest.Tenant(t, s)
	kb := ids.New("kb")
	d := doc{"doc_r", kb, []string{"one", "two", "three"}, map[string]any{"v": 1}}
	put(t, s, tenant, d, 0)
	first, err := s.Chunks(ctx, tenant, "doc_r")
	testkit.Must(t, "chunks", err)
	put(t, s, tenant, d, 0)
	second, err := s.Chunks(ctx, tenant, "doc_r")
	testkit.Must(t, "chunks", err)
	if diff := cmp.Diff(first, second); diff != "" || len(second) != 3 {
		t.Fatalf("replacing twice changed the chunks (%d):\n%s", len(second), diff)
	}
	d.texts = []string{"only one now"}
	put(t, s, tenant, d, 0)
	if n, _ := s.CountChunks(ctx, tenant, kb); n != 1 {
		t.Fatalf("%d chunks after replacing three with one", n)
	}
}

func TestConcurrentReplacesLeaveOneSet(t *testing.T) {
	ctx := context.Background()
	a := ragtest.Store(t, rag.StoreOptions{})
	b := ragtest.Store(t, rag.StoreOptions{}) // a second pool: a second connection
	tenant := ragtest.Tenant(t, a)
	kb := ids.New("kb")
	d := doc{"doc_c", kb, []string{"alpha", "beta", "gamma", "delta"}, nil}
	var wg sync.WaitGroup
	for _, s := range []*rag.Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			put(t, s, tenant, d, 0)
		}()
	}
	wg.Wait()
	if n, err := a.CountChunks(ctx, tenant, kb); err != nil || n != 4 {
		t.Fatalf("%d chunks (%v) after concurrent replaces, want 4", n, err)
	}
}

func TestTenantIsolation(t *testing.T) {
	s := ragtest.Store(t, rag.StoreOptions{})
	mine, theirs := ragtest.Tenant(t, s), ragtest.Tenant(t, s)
	myKB, theirKB := ids.New("kb"), ids.New("kb")
	put(t, s, mine, doc{"doc_mine", myKB, []string{"the secret recipe for plum jam"}, map[string]any{"tag": "jam"}}, 0)
	put(t, s, theirs, doc{"doc_theirs", theirKB, []string{"the secret recipe for plum jam"}, map[string]any{"tag": "jam"}}, 0)
	put(t, s, theirs, doc{"doc_theirs_too", myKB, []string{"their plum jam in a knowledge base id like mine"}, map[string]any{"tag": "jam"}}, 0)
	tests := []struct {
		name string
		q    rag.Query
	}{
		{"plain", rag.Query{KnowledgeBaseIDs: []string{myKB}}},
		{"naming their knowledge base", rag.Query{KnowledgeBaseIDs: []string{myKB, theirKB}}},
		{"naming their document", rag.Query{KnowledgeBaseIDs: []string{myKB, theirKB}, Filters: rag.Filters{DocumentIDs: []string{"doc_theirs", "doc_theirs_too"}}}},
		{"with a metadata filter", rag.Query{KnowledgeBaseIDs: []string{myKB, theirKB}, Filters: rag.Filters{Metadata: map[string]any{"tag": "jam"}}}},
	}
	for _, tt := range tests {
		for _, mode := range []rag.Mode{rag.ModeSemantic, rag.ModeKeyword, rag.ModeHybrid} {
			t.Run(tt.name+"/"+string(mode), func(t *testing.T) {
				q := tt.q
				q.TenantID, q.Text, q.Mode = mine, "secret plum jam recipe", mode
				got, _ := search(t, s, q)
				for _, d := range got {
					if d != "doc_mine" {
						t.Fatalf("tenant saw another tenant's chunk: %v", got)
					}
				}
				if len(q.Filters.DocumentIDs) == 0 && len(got) != 1 {
					t.Fatalf("results %v, want [doc_mine]", got)
				}
			})
		}
	}
	if n, _ := s.DeleteDocument(context.Background(), mine, "doc_theirs"); n != 0 {
		t.Fatalf("a tenant deleted %d chunks of another tenant's document", n)
	}
}

func TestVectorSizesLiveSideBySide(t *testing.T) {
	ctx := context.Background()
	s := ragtest.Store(t, rag.StoreOptions{IndexThreshold: 1}) // index every size at once
	tenant := ragtest.Tenant(t, s)
	kb := ids.New("kb")
	sizes := map[int]string{24: "vector", 2048: "halfvec", 384: "vector"} // over 2000: a halfvec index
	for dims := range sizes {
		put(t, s, tenant, doc{fmt.Sprint("doc_", dims), kb, []string{fmt.Sprint(dims, " dimensions about rivers")}, nil}, dims)
	}
	for dims, kind := range sizes {
		q := rag.Query{TenantID: tenant, KnowledgeBaseIDs: []string{kb}, Mode: rag.ModeSemantic, Text: "rivers", Vector: ai.NewHash(dims).Vector("rivers"), ForceIndex: true}
		got, _ := search(t, s, q)
		if !cmp.Equal(got, []string{fmt.Sprint("doc_", dims)}) {
			t.Fatalf("%d-dimension search found %v, want the one document of that size", dims, got)
		}
		plan, err := s.ExplainSemantic(ctx, q)
		testkit.Must(t, "explain", err)
		if !strings.Contains(plan, fmt.Sprintf("rag_chunks_embedding_%d_idx", dims)) || !strings.Contains(plan, kind) {
			t.Fatalf("%d dimensions: the plan does not use its %s HNSW index:\n%s", dims, kind, plan)
		}
	}
}

func TestQueryValidation(t *testing.T) {
	s := ragtest.Store(t, rag.StoreOptions{})
	ok := rag.Query{TenantID: "ten_x", KnowledgeBaseIDs: []string{"kb_x"}, Text: "q", Vector: []float32{1, 0}}
	tests := []struct {
		name  string
		edit  func(*rag.Query)
		field string
	}{
		{"bad mode", func(q *rag.Query) { q.Mode = "fuzzy" }, "mode"},
		{"no knowledge base", func(q *rag.Query) { q.KnowledgeBaseIDs = nil }, "knowledge_base_ids"},
		{"no text", func(q *rag.Query) { q.Text = " " }, "query"},
		{"top_k too big", func(q *rag.Query) { q.TopK = 1000 }, "top_k"},
		{"threshold out of range", func(q *rag.Query) { q.ScoreThreshold = 2 }, "score_threshold"},
		{"nested metadata filter", func(q *rag.Query) { q.Filters.Metadata = map[string]any{"a": map[string]any{"b": 1}} }, "filters.metadata.a"},
		{"empty membership", func(q *rag.Query) { q.Filters.Metadata = map[string]any{"a": []any{}} }, "filters.metadata.a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := ok
			tt.edit(&q)
			_, err := s.Search(context.Background(), q)
			p, isProblem := problem.As(err)
			if !isProblem || p.Kind != problem.Invalid || p.Fields[tt.field] == "" {
				t.Fatalf("err = %v, want a validation problem on %s", err, tt.field)
			}
		})
	}
}

func TestErrVectorUnavailable(t *testing.T) {
	ctx := context.Background()
	t.Run("Postgres without pgvector", func(t *testing.T) {
		db := testkit.NewDB(t) // the machine's Postgres has no pgvector
		s, err := rag.OpenStore(ctx, db.Pool, testkit.Logger(t), rag.StoreOptions{})
		checkUnavailable(t, s, err, "no pgvector extension")
		var tables int
		testkit.Must(t, "count", db.Pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables
			WHERE table_schema = $1 AND table_name LIKE 'rag_%'`, db.Schema).Scan(&tables))
		if tables != 0 {
			t.Fatalf("%d rag tables were created in a database without pgvector", tables)
		}
	})
	t.Run("unreachable server", func(t *testing.T) {
		s, err := rag.ConnectStore(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", testkit.Logger(t), rag.StoreOptions{})
		checkUnavailable(t, s, err, "cannot connect")
	})
}

func checkUnavailable(t *testing.T, s *rag.Store, err error, reason string) {
	t.Helper()
	if !errors.Is(err, rag.ErrVectorUnavailable) || !strings.Contains(err.Error(), reason) {
		t.Fatalf("err = %v, want ErrVectorUnavailable saying %q", err, reason)
	}
	p, _ := problem.As(err)
	if p.Kind != problem.Unavailable || p.Code != "vector_store_unavailable" {
		t.Fatalf("problem %+v, want 503 vector_store_unavailable", p)
	}
	if s == nil || !errors.Is(s.Err(), rag.ErrVectorUnavailable) {
		t.Fatal("no degraded store returned")
	}
	calls := map[string]error{
		"search":  func() error { _, err := s.Search(context.Background(), rag.Query{}); return err }(),
		"replace": s.ReplaceDocument(context.Background(), rag.DocumentChunks{}),
		"delete":  func() error { _, err := s.DeleteDocument(context.Background(), "t", "d"); return err }(),
	}
	for name, err := range calls {
		if !errors.Is(err, rag.ErrVectorUnavailable) {
			t.Fatalf("%s on a degraded store: %v", name, err)
		}
	}
}
