package rag_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/internal/schema"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/rag"
	"github.com/kilnhq/kiln/rag/ragtest"
)

// env is a test's two databases and the services over them.
type env struct {
	db      *testkit.DB
	store   *rag.Store
	catalog *rag.Catalog
	svc     *rag.Service
}

// newEnv gives t a main-database schema with the rag catalog migrated, the
// shared vector database, and a Service whose openai provider talks to
// openaiURL ("" leaves it unconfigured).
func newEnv(t *testing.T, openaiURL string) *env {
	t.Helper()
	db := testkit.NewDB(t)
	migrateCatalog(t, db)
	store := ragtest.Store(t, rag.StoreOptions{})
	return newEnvWith(t, db, store, openaiURL)
}

func newEnvWith(t *testing.T, db *testkit.DB, store *rag.Store, openaiURL string) *env {
	t.Helper()
	log := testkit.Logger(t)
	chunker := sharedChunker(t)
	cfg := ai.OpenAIConfig{Tokenizer: chunker.Tokenizer(), MinBackoff: 10_000_000, MaxRetries: 2, Log: log}
	if openaiURL != "" {
		cfg.BaseURL, cfg.APIKey = openaiURL, "sk-test"
	}
	catalog := rag.NewCatalog(db.Pool, log, rag.DefaultEmbedding(false))
	return &env{db: db, store: store, catalog: catalog, svc: rag.NewService(catalog, store, chunker, rag.NewEmbedderSet(cfg), log)}
}

// migrateCatalog applies rag's main-database migrations on top of what
// testkit applied (all of schema.Sources, which may already include them).
func migrateCatalog(t *testing.T, db *testkit.DB) {
	t.Helper()
	sources := schema.Sources()
	has := false
	for _, s := range sources {
		has = has || s.Owner == "rag"
	}
	if !has {
		sources = append(sources, rag.Migrations())
	}
	m, err := pg.NewMigrator(db.Pool, testkit.Logger(t), false, sources...)
	testkit.Must(t, "migrator", err)
	defer m.Close()
	testkit.Must(t, "migrate rag catalog", m.Up(context.Background()))
}

var (
	chunkerOnce sync.Once
	chunker     *rag.Chunker
	chunkerErr  error
)

func sharedChunker(t *testing.T) *rag.Chunker {
	t.Helper()
	chunkerOnce.Do(func() { chunker, chunkerErr = rag.NewChunker(nil) })
	testkit.Must(t, "chunker", chunkerErr)
	return chunker
}

// tenant inserts a tenant in the main database; its chunks are deleted
// from the vector database when t ends.
func (e *env) tenant(t *testing.T) string {
	t.Helper()
	id := ragtest.Tenant(t, e.store)
	_, err := e.db.Pool.Exec(context.Background(), `INSERT INTO tenants (id, name, slug) VALUES ($1, $1, $1)`, id)
	testkit.Must(t, "insert tenant", err)
	return id
}

func ptr[T any](v T) *T { return &v }

func TestKnowledgeBaseCRUD(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	tenant := e.tenant(t)
	kb, err := e.catalog.CreateKnowledgeBase(ctx, tenant, rag.KnowledgeBaseInput{Name: ptr("Handbook")})
	testkit.Must(t, "create", err)
	want := rag.KnowledgeBase{ID: kb.ID, Name: "Handbook", EmbeddingSettings: rag.EmbeddingSettings{Provider: "hash", Model: ai.HashModel, Dimensions: 384},
		MaxTokens: 512, Overlap: 64, Separators: []string{}, Language: "en", Metadata: json.RawMessage(`{}`)}
	if diff := cmp.Diff(want, kb, cmpopts.IgnoreUnexported(rag.KnowledgeBase{}),
		cmp.FilterPath(func(p cmp.Path) bool { return strings.HasSuffix(p.String(), "At") }, cmp.Ignore())); diff != "" {
		t.Fatalf("created (-want +got):\n%s", diff)
	}
	tests := []struct {
		name        string
		in          rag.KnowledgeBaseInput
		wantReindex bool
		wantField   string
	}{
		{"rename", rag.KnowledgeBaseInput{Name: ptr("Staff handbook")}, false, ""},
		{"chunk size", rag.KnowledgeBaseInput{MaxTokens: ptr(256)}, true, ""},
		{"separators", rag.KnowledgeBaseInput{Separators: ptr([]string{"\n\n"})}, true, ""},
		{"model", rag.KnowledgeBaseInput{Provider: ptr("openai")}, true, ""},
		{"language", rag.KnowledgeBaseInput{Language: ptr("de")}, true, ""},
		{"same language again", rag.KnowledgeBaseInput{Language: ptr("de-AT")}, false, ""},
		{"empty name", rag.KnowledgeBaseInput{Name: ptr(" ")}, false, "name"},
		{"unknown provider", rag.KnowledgeBaseInput{Provider: ptr("cohere")}, false, "embedding_provider"},
		{"hash too wide", rag.KnowledgeBaseInput{Provider: ptr("hash"), Dimensions: ptr(10000)}, false, "embedding_dimensions"},
		{"overlap above half", rag.KnowledgeBaseInput{Overlap: ptr(200)}, false, "overlap"},
		{"metadata not an object", rag.KnowledgeBaseInput{Metadata: ptr(json.RawMessage(`[1]`))}, false, "metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reindex, err := e.catalog.UpdateKnowledgeBase(ctx, tenant, kb.ID, tt.in)
			if tt.wantField != "" {
				if p, ok := problem.As(err); !ok || p.Fields[tt.wantField] == "" {
					t.Fatalf("err = %v, want a problem with field %s", err, tt.wantField)
				}
				return
			}
			testkit.Must(t, "update", err)
			if reindex != tt.wantReindex {
				t.Fatalf("reindex = %v, want %v (now %+v)", reindex, tt.wantReindex, got)
			}
		})
	}
	got, err := e.catalog.GetKnowledgeBase(ctx, tenant, kb.ID)
	testkit.Must(t, "get", err)
	if got.Name != "Staff handbook" || got.Provider != "openai" || got.Dimensions != 1536 || got.MaxTokens != 256 || got.Language != "de-AT" {
		t.Fatalf("after updates: %+v", got)
	}
	for range 2 {
		_, err := e.catalog.CreateKnowledgeBase(ctx, tenant, rag.KnowledgeBaseInput{Name: ptr("more")})
		testkit.Must(t, "create", err)
	}
	page1, next, err := e.catalog.ListKnowledgeBases(ctx, tenant, pg.Page{Limit: 2})
	testkit.Must(t, "list", err)
	page2, last, err := e.catalog.ListKnowledgeBases(ctx, tenant, pg.Page{Limit: 2, After: next})
	testkit.Must(t, "list", err)
	if len(page1) != 2 || len(page2) != 1 || next == "" || last != "" || page2[0].ID != kb.ID {
		t.Fatalf("pages of %d and %d (cursor %q, then %q)", len(page1), len(page2), next, last)
	}
	testkit.Must(t, "delete", e.svc.DeleteKnowledgeBase(ctx, tenant, kb.ID))
	if _, err := e.catalog.GetKnowledgeBase(ctx, tenant, kb.ID); !errors.Is(err, rag.ErrKnowledgeBaseNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
}

const handbook = `# Onboarding

Welcome to the team. Your first week is about meeting people.

## Laptop

IT hands out laptops on Monday morning. Bring your passport.

## Holidays

You get twenty-five days of paid holiday a year. Ask your manager before booking.

# Expenses

Submit receipts within thirty days through the expenses portal.
`

func TestIndexSearchReindexDelete(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	tenant := e.tenant(t)
	kb, err := e.catalog.CreateKnowledgeBase(ctx, tenant, rag.KnowledgeBaseInput{Name: ptr("Handbook"), MaxTokens: ptr(32), Overlap: ptr(8)})
	testkit.Must(t, "create kb", err)
	doc, err := e.catalog.CreateDocument(ctx, tenant, kb.ID, rag.DocumentInput{Title: "Handbook", SourceType: "markdown",
		Content: strings.ReplaceAll(handbook, "\n", "\r\n"), Metadata: json.RawMessage(`{"team": "people"}`)})
	testkit.Must(t, "create document", err)
	if doc.Status != rag.StatusPending {
		t.Fatalf("new document is %s", doc.Status)
	}
	var seen []int
	res, err := e.svc.IndexDocument(ctx, tenant, doc.ID, func(p int, _ string) { seen = append(seen, p) })
	testkit.Must(t, "index", err)
	if len(seen) < 3 || seen[len(seen)-1] != 100 || !increasing(seen) {
		t.Fatalf("progress %v, want increasing to 100", seen)
	}
	doc, err = e.catalog.GetDocument(ctx, tenant, doc.ID)
	testkit.Must(t, "get document", err)
	count, _ := e.store.CountChunks(ctx, tenant, kb.ID)
	if doc.Status != rag.StatusReady || doc.ChunkCount != res.Chunks || int64(res.Chunks) != count || res.Chunks < 4 || doc.IndexedModel != ai.HashModel || doc.Error != nil {
		t.Fatalf("after indexing: %+v, result %+v, %d chunks stored", doc, res, count)
	}
	search := func(q string, mode rag.Mode) []rag.Result {
		resp, err := e.svc.SearchKnowledgeBase(ctx, tenant, kb.ID, rag.SearchRequest{Query: q, Mode: mode, TopK: 3})
		testkit.Must(t, "search", err)
		return resp.Results
	}
	for _, mode := range []rag.Mode{rag.ModeSemantic, rag.ModeKeyword, rag.ModeHybrid} {
		got := search("how many days of paid holiday", mode)
		if len(got) == 0 || !cmp.Equal(got[0].HeadingPath, []string{"Onboarding", "Holidays"}) || !strings.Contains(got[0].Text, "twenty-five days") {
			t.Fatalf("%s search: %+v", mode, got)
		}
		text := []rune(doc.Content)[got[0].Start:got[0].End]
		if string(text) != got[0].Text || got[0].Metadata["team"] != "people" {
			t.Fatalf("%s: offsets [%d,%d) give %q, text %q; metadata %v", mode, got[0].Start, got[0].End, string(text), got[0].Text, got[0].Metadata)
		}
	}
	before, _ := e.store.Chunks(ctx, tenant, doc.ID)
	for range 2 {
		_, err := e.svc.ReindexKnowledgeBase(ctx, tenant, kb.ID, nil)
		testkit.Must(t, "reindex", err)
	}
	after, _ := e.store.Chunks(ctx, tenant, doc.ID)
	if diff := cmp.Diff(before, after); diff != "" || len(after) != res.Chunks {
		t.Fatalf("reindexing twice changed the chunks (%d, was %d):\n%s", len(after), res.Chunks, diff)
	}
	_, err = e.svc.UpdateDocumentMetadata(ctx, tenant, doc.ID, []byte(`{"team": "finance"}`))
	testkit.Must(t, "update metadata", err)
	resp, err := e.svc.SearchKnowledgeBase(ctx, tenant, kb.ID, rag.SearchRequest{Query: "receipts", Filters: rag.Filters{Metadata: map[string]any{"team": "finance"}}})
	testkit.Must(t, "filtered search", err)
	if len(resp.Results) == 0 {
		t.Fatal("the metadata filter does not see the new metadata")
	}
	testkit.Must(t, "delete document", e.svc.DeleteDocument(ctx, tenant, doc.ID))
	if got := search("paid holiday receipts laptop", rag.ModeHybrid); len(got) != 0 {
		t.Fatalf("search after delete: %+v", got)
	}
	if _, err := e.catalog.GetDocument(ctx, tenant, doc.ID); !errors.Is(err, rag.ErrDocumentNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
}

func increasing(xs []int) bool {
	for i := 1; i < len(xs); i++ {
		if xs[i] < xs[i-1] {
			return false
		}
	}
	return true
}

func TestCatalogTenantIsolation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	mine, theirs := e.tenant(t), e.tenant(t)
	kb, err := e.catalog.CreateKnowledgeBase(ctx, mine, rag.KnowledgeBaseInput{Name: ptr("mine")})
	testkit.Must(t, "create kb", err)
	doc, err := e.catalog.CreateDocument(ctx, mine, kb.ID, rag.DocumentInput{SourceType: "text", Content: "private plans for the merger"})
	testkit.Must(t, "create document", err)
	_, err = e.svc.IndexDocument(ctx, mine, doc.ID, nil)
	testkit.Must(t, "index", err)
	agent, err := e.catalog.CreateAgent(ctx, mine, rag.AgentInput{Name: ptr("helper"), KnowledgeBaseIDs: ptr([]string{kb.ID})})
	testkit.Must(t, "create agent", err)
	calls := map[string]func() error{
		"get knowledge base": func() error { _, err := e.catalog.GetKnowledgeBase(ctx, theirs, kb.ID); return err },
		"update knowledge base": func() error {
			_, _, err := e.catalog.UpdateKnowledgeBase(ctx, theirs, kb.ID, rag.KnowledgeBaseInput{})
			return err
		},
		"delete knowledge base": func() error { return e.svc.DeleteKnowledgeBase(ctx, theirs, kb.ID) },
		"add a document": func() error {
			_, err := e.catalog.CreateDocument(ctx, theirs, kb.ID, rag.DocumentInput{SourceType: "text", Content: "x"})
			return err
		},
		"get document":    func() error { _, err := e.catalog.GetDocument(ctx, theirs, doc.ID); return err },
		"index document":  func() error { _, err := e.svc.IndexDocument(ctx, theirs, doc.ID, nil); return err },
		"delete document": func() error { return e.svc.DeleteDocument(ctx, theirs, doc.ID) },
		"search": func() error {
			_, err := e.svc.SearchKnowledgeBase(ctx, theirs, kb.ID, rag.SearchRequest{Query: "merger"})
			return err
		},
		"get agent": func() error { _, err := e.catalog.GetAgent(ctx, theirs, agent.ID); return err },
		"search agent": func() error {
			_, err := e.svc.SearchAgent(ctx, theirs, agent.ID, rag.SearchRequest{Query: "merger"})
			return err
		},
		"link their kb": func() error {
			_, err := e.catalog.CreateAgent(ctx, theirs, rag.AgentInput{Name: ptr("spy"), KnowledgeBaseIDs: ptr([]string{kb.ID})})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			p, ok := problem.As(call())
			if !ok || (p.Kind != problem.NotFound && p.Fields["knowledge_base_ids"] == "") {
				t.Fatalf("err = %v, want not found (or an invalid knowledge base id)", p)
			}
		})
	}
	resp, err := e.svc.SearchKnowledgeBase(ctx, mine, kb.ID, rag.SearchRequest{Query: "merger"})
	testkit.Must(t, "search", err)
	if len(resp.Results) != 1 {
		t.Fatalf("the owner finds %d results after the other tenant's attempts", len(resp.Results))
	}
}

func TestAgents(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	tenant := e.tenant(t)
	english, err := e.catalog.CreateKnowledgeBase(ctx, tenant, rag.KnowledgeBaseInput{Name: ptr("en")})
	testkit.Must(t, "kb", err)
	german, err := e.catalog.CreateKnowledgeBase(ctx, tenant, rag.KnowledgeBaseInput{Name: ptr("de"), Language: ptr("de"), Dimensions: ptr(128)})
	testkit.Must(t, "kb", err)
	add := func(kb, text string) string {
		d, err := e.catalog.CreateDocument(ctx, tenant, kb, rag.DocumentInput{SourceType: "text", Content: text})
		testkit.Must(t, "document", err)
		_, err = e.svc.IndexDocument(ctx, tenant, d.ID, nil)
		testkit.Must(t, "index", err)
		return d.ID
	}
	enDoc := add(english.ID, "Bicycles need their tyres pumped every week.")
	deDoc := add(german.ID, "Fahrräder brauchen jede Woche Luft in den Reifen. Bicycles.")
	agent, err := e.catalog.CreateAgent(ctx, tenant, rag.AgentInput{Name: ptr("mechanic"), SystemPrompt: ptr("You fix bikes."),
		KnowledgeBaseIDs: ptr([]string{english.ID, german.ID})})
	testkit.Must(t, "agent", err)
	if !cmp.Equal(agent.KnowledgeBaseIDs, []string{english.ID, german.ID}) {
		t.Fatalf("agent knowledge bases %v", agent.KnowledgeBaseIDs)
	}
	for _, mode := range []rag.Mode{rag.ModeSemantic, rag.ModeKeyword, rag.ModeHybrid} {
		resp, err := e.svc.SearchAgent(ctx, tenant, agent.ID, rag.SearchRequest{Query: "bicycles", Mode: mode})
		testkit.Must(t, "search agent", err)
		var docs []string
		for _, r := range resp.Results {
			docs = append(docs, r.DocumentID)
		}
		if diff := cmp.Diff(sorted([]string{deDoc, enDoc}), sorted(docs)); diff != "" {
			t.Fatalf("%s search across a 384- and a 128-dimension knowledge base (-want +got):\n%s", mode, diff)
		}
	}
	docs, _, err := e.catalog.AgentDocuments(ctx, tenant, agent.ID, pg.Page{Limit: 10})
	testkit.Must(t, "agent documents", err)
	if len(docs) != 2 || docs[0].Content != "" {
		t.Fatalf("agent documents: %d (content left out of lists: %q)", len(docs), docs[0].Content)
	}
	agent, err = e.catalog.UpdateAgent(ctx, tenant, agent.ID, rag.AgentInput{KnowledgeBaseIDs: ptr([]string{german.ID})})
	testkit.Must(t, "update agent", err)
	if _, err := e.catalog.AgentDocument(ctx, tenant, agent.ID, enDoc); !errors.Is(err, rag.ErrDocumentNotFound) {
		t.Fatalf("a document outside the agent's knowledge bases: %v", err)
	}
	def, err := e.catalog.AgentDefaultKnowledgeBase(ctx, tenant, agent.ID)
	testkit.Must(t, "default kb", err)
	if def.ID != german.ID {
		t.Fatalf("default knowledge base %s, want the first, %s", def.ID, german.ID)
	}
	bare, err := e.catalog.CreateAgent(ctx, tenant, rag.AgentInput{Name: ptr("new")})
	testkit.Must(t, "agent", err)
	def, err = e.catalog.AgentDefaultKnowledgeBase(ctx, tenant, bare.ID)
	testkit.Must(t, "default kb", err)
	if bare, _ = e.catalog.GetAgent(ctx, tenant, bare.ID); !cmp.Equal(bare.KnowledgeBaseIDs, []string{def.ID}) || def.Name != "new knowledge base" {
		t.Fatalf("agent without knowledge bases got %q linked as %v", def.Name, bare.KnowledgeBaseIDs)
	}
	testkit.Must(t, "delete agent", e.catalog.DeleteAgent(ctx, tenant, agent.ID))
	if _, err := e.catalog.GetKnowledgeBase(ctx, tenant, german.ID); err != nil {
		t.Fatalf("deleting an agent took its knowledge base: %v", err)
	}
}

// fakeEmbeddings is an OpenAI-compatible /v1/embeddings server answering
// with hash vectors, after failing the first requests with the given
// statuses.
type fakeEmbeddings struct {
	mu       sync.Mutex
	failures []int
	requests int
}

func (f *fakeEmbeddings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Input      []string `json:"input"`
		Dimensions int      `json:"dimensions"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || r.URL.Path != "/v1/embeddings" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	n := f.requests
	f.requests++
	f.mu.Unlock()
	if n < len(f.failures) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.failures[n])
		_, _ = w.Write([]byte(`{"error": {"message": "fake failure", "type": "x"}}`))
		return
	}
	h := ai.NewHash(req.Dimensions)
	var data []map[string]any
	for i, in := range req.Input {
		data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": h.Vector(in)})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "usage": map[string]int{"prompt_tokens": 7 * len(req.Input), "total_tokens": 7 * len(req.Input)}})
}

func TestProviderErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name         string
		failures     []int
		wantStatus   string
		wantCode     string
		wantRequests int
	}{
		{"429 then success", []int{429}, rag.StatusReady, "", 2},
		{"503 twice then success", []int{503, 503}, rag.StatusReady, "", 3},
		{"permanent 401", []int{401}, rag.StatusFailed, "provider_auth_failed", 1},
		{"429 until retries run out", []int{429, 429, 429, 429}, rag.StatusFailed, "provider_rate_limited", 3},
	}
	db := testkit.NewDB(t)
	migrateCatalog(t, db)
	store := ragtest.Store(t, rag.StoreOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeEmbeddings{failures: tt.failures}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			e := newEnvWith(t, db, store, srv.URL+"/v1")
			tenant := e.tenant(t)
			kb, err := e.catalog.CreateKnowledgeBase(ctx, tenant, rag.KnowledgeBaseInput{Name: ptr("kb"), Provider: ptr("openai"), Dimensions: ptr(64)})
			testkit.Must(t, "kb", err)
			doc, err := e.catalog.CreateDocument(ctx, tenant, kb.ID, rag.DocumentInput{SourceType: "text", Content: "Some text to embed."})
			testkit.Must(t, "document", err)
			res, err := e.svc.IndexDocument(ctx, tenant, doc.ID, nil)
			doc, _ = e.catalog.GetDocument(ctx, tenant, doc.ID)
			if doc.Status != tt.wantStatus || fake.requests != tt.wantRequests || res.Usage.Requests != tt.wantRequests {
				t.Fatalf("status %s after %d requests (usage says %d), err %v; want %s after %d", doc.Status, fake.requests, res.Usage.Requests, err, tt.wantStatus, tt.wantRequests)
			}
			if tt.wantCode == "" {
				testkit.Must(t, "index", err)
				if res.Usage.Tokens != 7 || doc.EmbeddingTokens != 7 {
					t.Fatalf("usage %+v, document billed %d tokens; want 7", res.Usage, doc.EmbeddingTokens)
				}
				return
			}
			if p, ok := problem.As(err); !ok || p.Code != tt.wantCode || doc.Error == nil || doc.Error.Code != tt.wantCode || !strings.Contains(doc.Error.Message, "HTTP") {
				t.Fatalf("err %v, document error %+v; want %s with the provider's answer", err, doc.Error, tt.wantCode)
			}
		})
	}
}

func TestIndexingFailures(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	tenant := e.tenant(t)
	kb, err := e.catalog.CreateKnowledgeBase(ctx, tenant, rag.KnowledgeBaseInput{Name: ptr("kb")})
	testkit.Must(t, "kb", err)
	openaiKB, err := e.catalog.CreateKnowledgeBase(ctx, tenant, rag.KnowledgeBaseInput{Name: ptr("kb"), Provider: ptr("openai")})
	testkit.Must(t, "kb", err)
	tests := []struct {
		name     string
		kb       string
		in       rag.DocumentInput
		wantCode string
	}{
		{"a PDF whose text was never extracted", kb.ID, rag.DocumentInput{SourceType: "pdf", SourceRef: "scan.pdf"}, "document_empty"},
		{"a provider the deployment has no key for", openaiKB.ID, rag.DocumentInput{SourceType: "text", Content: "hello"}, "provider_not_configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := e.catalog.CreateDocument(ctx, tenant, tt.kb, tt.in)
			testkit.Must(t, "document", err)
			_, err = e.svc.IndexDocument(ctx, tenant, doc.ID, nil)
			doc, _ = e.catalog.GetDocument(ctx, tenant, doc.ID)
			if p, ok := problem.As(err); !ok || p.Code != tt.wantCode || doc.Status != rag.StatusFailed || doc.Error == nil || doc.Error.Code != tt.wantCode {
				t.Fatalf("err %v, document %s %+v; want failed with %s", err, doc.Status, doc.Error, tt.wantCode)
			}
		})
	}
	t.Run("document validation", func(t *testing.T) {
		bad := map[string]rag.DocumentInput{
			"content":     {SourceType: "text"},
			"source_type": {SourceType: "fax", Content: "x"},
			"source_ref":  {SourceType: "url"},
			"metadata":    {SourceType: "text", Content: "x", Metadata: json.RawMessage(`"x"`)},
		}
		for field, in := range bad {
			_, err := e.catalog.CreateDocument(ctx, tenant, kb.ID, in)
			if p, ok := problem.As(err); !ok || p.Fields[field] == "" {
				t.Fatalf("%+v: err = %v, want a problem on %s", in, err, field)
			}
		}
	})
}

func TestDegradedVectorStore(t *testing.T) {
	ctx := context.Background()
	db := testkit.NewDB(t)
	migrateCatalog(t, db)
	store, err := rag.OpenStore(ctx, db.Pool, testkit.Logger(t), rag.StoreOptions{}) // this Postgres lacks pgvector
	if !errors.Is(err, rag.ErrVectorUnavailable) {
		t.Fatalf("open store on Postgres without pgvector: %v", err)
	}
	e := newEnvWith(t, db, store, "")
	tenant := ids.New("ten")
	_, err = db.Pool.Exec(ctx, `INSERT INTO tenants (id, name, slug) VALUES ($1, $1, $1)`, tenant)
	testkit.Must(t, "tenant", err)
	kb, err := e.catalog.CreateKnowledgeBase(ctx, tenant, rag.KnowledgeBaseInput{Name: ptr("still works")})
	testkit.Must(t, "the catalog works without the vector store", err)
	doc, err := e.catalog.CreateDocument(ctx, tenant, kb.ID, rag.DocumentInput{SourceType: "text", Content: "hello"})
	testkit.Must(t, "documents can be added", err)
	if _, err := e.svc.SearchKnowledgeBase(ctx, tenant, kb.ID, rag.SearchRequest{Query: "hello"}); !errors.Is(err, rag.ErrVectorUnavailable) {
		t.Fatalf("search: %v", err)
	}
	_, err = e.svc.IndexDocument(ctx, tenant, doc.ID, nil)
	doc, _ = e.catalog.GetDocument(ctx, tenant, doc.ID)
	if !errors.Is(err, rag.ErrVectorUnavailable) || doc.Error == nil || doc.Error.Code != "vector_store_unavailable" || !strings.Contains(doc.Error.Message, "pgvector") {
		t.Fatalf("index: %v; document error %+v", err, doc.Error)
	}
}
