package rag

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/settings"
)

// Embedders gives each knowledge base its embedder.
type Embedders interface {
	// For returns the embedder of settings e for the tenant; apiKey is the
	// knowledge base's own key, or "".
	For(ctx context.Context, tenantID string, e EmbeddingSettings, apiKey string) (ai.Embedder, error)
}

// Endpoint is an OpenAI-compatible API root and its key.
type Endpoint struct {
	BaseURL, APIKey string
	// Tenant reports that BaseURL is the tenant's own (called through the
	// egress guard).
	Tenant bool
}

// TenantEndpoint returns the endpoint a tenant's openai embeddings use: its
// integration settings over the deployment's.
type TenantEndpoint func(ctx context.Context, tenantID string) (Endpoint, error)

// EmbedderSet makes hash embedders and OpenAI-compatible ones. The
// endpoint of an openai knowledge base is, field by field, its own base URL
// and key, else its tenant's integration, else the deployment's
// configuration; a knowledge base's own base URL is called only with its
// own key. It keeps one embedder per model, size and endpoint. It is
// safe for concurrent use.
type EmbedderSet struct {
	openai ai.OpenAIConfig
	tenant TenantEndpoint
	// guarded sends requests to tenant-given URLs (the egress client).
	guarded *http.Client
	mu      sync.Mutex
	cache   map[embedderKey]ai.Embedder
}

type embedderKey struct {
	settings EmbeddingSettings
	endpoint string
	key      [sha256.Size]byte
}

// NewEmbedderSet returns an EmbedderSet over the deployment's openai
// configuration (APIKey empty: none). Its Model and Dimensions are
// ignored. Share the chunker's tokenizer through openai.Tokenizer.
func NewEmbedderSet(openai ai.OpenAIConfig) *EmbedderSet {
	return &EmbedderSet{openai: openai, cache: map[embedderKey]ai.Embedder{}}
}

// WithTenants makes the set use each tenant's integration settings, and
// guarded (the egress client) for base URLs tenants and knowledge bases
// give.
func (s *EmbedderSet) WithTenants(tenant TenantEndpoint, guarded *http.Client) *EmbedderSet {
	s.tenant, s.guarded = tenant, guarded
	return s
}

// ErrProviderNotConfigured is returned for a knowledge base whose embedding
// provider has no key.
var ErrProviderNotConfigured = problem.New(problem.Unavailable, "provider_not_configured",
	"the knowledge base uses the openai embedding provider, which has no API key: set KILN_OPENAI_API_KEY, the tenant's PUT /api/v1/settings/integrations/openai, or the knowledge base's embedding_api_key (required with its own embedding_base_url); or use the hash provider")

// For returns the embedder for e.
func (s *EmbedderSet) For(ctx context.Context, tenantID string, e EmbeddingSettings, apiKey string) (ai.Embedder, error) {
	if e.Provider == ProviderHash {
		return s.cached(embedderKey{settings: e}, func() (ai.Embedder, error) { return ai.NewHash(e.Dimensions), nil })
	}
	if e.Provider != ProviderOpenAI {
		return nil, fmt.Errorf("unknown embedding provider %q", e.Provider)
	}
	ep, err := s.endpoint(ctx, tenantID, e, apiKey)
	if err != nil {
		return nil, err
	}
	key := embedderKey{settings: e, endpoint: ep.BaseURL, key: sha256.Sum256([]byte(ep.APIKey))}
	return s.cached(key, func() (ai.Embedder, error) {
		cfg := s.openai
		cfg.Model, cfg.Dimensions, cfg.BaseURL, cfg.APIKey = e.Model, e.Dimensions, ep.BaseURL, ep.APIKey
		if ep.Tenant && s.guarded != nil {
			cfg.HTTPClient = s.guarded
		}
		return ai.NewOpenAI(cfg)
	})
}

// endpoint resolves the base URL and key of an openai knowledge base.
func (s *EmbedderSet) endpoint(ctx context.Context, tenantID string, e EmbeddingSettings, apiKey string) (Endpoint, error) {
	ep := Endpoint{BaseURL: s.openai.BaseURL, APIKey: s.openai.APIKey}
	if s.tenant != nil {
		var err error
		if ep, err = s.tenant(ctx, tenantID); err != nil {
			return Endpoint{}, fmt.Errorf("read the tenant's openai settings: %w", err)
		}
	}
	if e.BaseURL != "" {
		// No other key is ever sent to a URL a knowledge base chose.
		ep.BaseURL, ep.Tenant, ep.APIKey = e.BaseURL, true, ""
	}
	if apiKey != "" {
		ep.APIKey = apiKey
	}
	if ep.APIKey == "" {
		return Endpoint{}, ErrProviderNotConfigured
	}
	return ep, nil
}

// cached returns the embedder under key, making it once.
func (s *EmbedderSet) cached(key embedderKey, make func() (ai.Embedder, error)) (ai.Embedder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if emb, ok := s.cache[key]; ok {
		return emb, nil
	}
	emb, err := make()
	if err != nil {
		return nil, err
	}
	s.cache[key] = emb
	return emb, nil
}

// embedder returns a knowledge base's embedder, with its own key opened.
func (s *Service) embedder(ctx context.Context, tenantID string, kb KnowledgeBase) (ai.Embedder, error) {
	key, err := s.Catalog.APIKey(tenantID, kb)
	if err != nil {
		return nil, err
	}
	return s.embedders.For(ctx, tenantID, kb.EmbeddingSettings, key)
}

// Service runs what spans the catalog and the vector store: indexing,
// reindexing, search, and deletes that must reach both databases.
type Service struct {
	Catalog   *Catalog
	Store     *Store
	chunker   *Chunker
	embedders Embedders
	log       *slog.Logger
}

// NewService returns a Service.
func NewService(catalog *Catalog, store *Store, chunker *Chunker, embedders Embedders, log *slog.Logger) *Service {
	return &Service{Catalog: catalog, Store: store, chunker: chunker, embedders: embedders, log: log}
}

// Progress receives an indexing job's progress, 0 to 100, with a note.
type Progress func(percent int, message string)

func (p Progress) report(percent int, message string) {
	if p != nil {
		p(percent, message)
	}
}

// IndexResult is what indexing did, for the job result and credits.
type IndexResult struct {
	Documents int    `json:"documents"`
	Failed    int    `json:"failed"`
	Chunks    int    `json:"chunks"`
	Tokens    int    `json:"tokens"`
	Model     string `json:"model"`
	// Usage is what the embedding provider billed.
	Usage ai.Usage `json:"usage"`
}

func (r IndexResult) add(o IndexResult) IndexResult {
	r.Documents += o.Documents
	r.Failed += o.Failed
	r.Chunks += o.Chunks
	r.Tokens += o.Tokens
	r.Usage = r.Usage.Add(o.Usage)
	if o.Model != "" {
		r.Model = o.Model
	}
	return r
}

// EmbeddingText is what is embedded for a chunk: its heading path, then
// its text, so a passage deep in a section keeps its context.
func EmbeddingText(c Chunk) string {
	if len(c.HeadingPath) == 0 {
		return c.Text
	}
	return strings.Join(c.HeadingPath, " > ") + "\n\n" + c.Text
}

// IndexDocument chunks, embeds and stores a document, replacing any chunks
// it had, and records the outcome on the document: ready with its counts,
// or failed with the error's code and message. Running it twice leaves one
// set of chunks. The returned usage counts what was billed even on failure.
func (s *Service) IndexDocument(ctx context.Context, tenantID, docID string, progress Progress) (IndexResult, error) {
	doc, err := s.Catalog.GetDocument(ctx, tenantID, docID)
	if err != nil {
		return IndexResult{}, err
	}
	kb, err := s.Catalog.GetKnowledgeBase(ctx, tenantID, doc.KnowledgeBaseID)
	if err != nil {
		return IndexResult{}, err
	}
	if err := s.Catalog.markIndexing(ctx, tenantID, docID); err != nil {
		return IndexResult{}, err
	}
	res, err := s.index(ctx, tenantID, kb, doc, progress)
	if err != nil {
		if markErr := s.Catalog.markFailed(context.WithoutCancel(ctx), tenantID, docID, docError(err)); markErr != nil {
			s.log.Error("record indexing failure", "document", docID, "err", markErr)
		}
		return res, fmt.Errorf("index document %s: %w", docID, err)
	}
	if err := s.Catalog.markReady(ctx, tenantID, docID, res); errors.Is(err, ErrDocumentNotFound) {
		// Deleted while we indexed: take its chunks away again.
		_, err = s.Store.DeleteDocument(ctx, tenantID, docID)
		return res, errors.Join(ErrDocumentNotFound, err)
	} else if err != nil {
		return res, err
	}
	progress.report(100, fmt.Sprintf("indexed %d chunks", res.Chunks))
	return res, nil
}

// index does IndexDocument's work between the status updates.
func (s *Service) index(ctx context.Context, tenantID string, kb KnowledgeBase, doc Document, progress Progress) (IndexResult, error) {
	res := IndexResult{Documents: 1, Model: kb.Model}
	if strings.TrimSpace(doc.Content) == "" {
		return res, problem.New(problem.Invalid, "document_empty", "the document has no text to index; for a PDF, it may hold only images")
	}
	progress.report(5, "chunking")
	chunks, err := s.chunker.Chunk(doc.Content, kb.ChunkOptions())
	if err != nil {
		return res, err
	}
	res.Chunks = len(chunks)
	for _, c := range chunks {
		res.Tokens += c.Tokens
	}
	emb, err := s.embedder(ctx, tenantID, kb)
	if err != nil {
		return res, err
	}
	progress.report(15, fmt.Sprintf("embedding %d chunks", len(chunks)))
	vecs, err := s.embed(ctx, emb, chunks, &res)
	if err != nil {
		return res, err
	}
	progress.report(85, "storing")
	meta, err := metadataMap(doc.Metadata)
	if err != nil {
		return res, err
	}
	return res, s.Store.ReplaceDocument(ctx, DocumentChunks{
		TenantID: tenantID, KnowledgeBaseID: kb.ID, DocumentID: doc.ID, Model: emb.Model(),
		TextSearchConfig: TextSearchConfig(kb.Language), Metadata: meta, Chunks: chunks, Embeddings: vecs,
	})
}

// embed embeds the chunks' texts, adding the provider's usage to res.
func (s *Service) embed(ctx context.Context, emb ai.Embedder, chunks []Chunk, res *IndexResult) ([][]float32, error) {
	texts := make([]string, len(chunks))
	for i, c := range chunks {
		texts[i] = EmbeddingText(c)
	}
	vecs, usage, err := emb.Embed(ctx, texts)
	res.Usage = res.Usage.Add(usage)
	return vecs, err
}

// docError is the code and message a failed document shows.
func docError(err error) DocError {
	if p, ok := problem.As(err); ok {
		return DocError{Code: p.Code, Message: p.Message}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return DocError{Code: "index_interrupted", Message: "indexing was interrupted; it is retried"}
	}
	return DocError{Code: "index_failed", Message: "indexing failed because of an internal error; it is retried"}
}

// ReindexKnowledgeBase indexes every document of the knowledge base again,
// with its current settings, reporting progress per document. A document
// that fails for its own reasons is marked failed and the others go on;
// an unavailable store or provider, or a canceled context, stops the run
// with an error, so the job is retried (already reindexed documents are
// simply redone).
func (s *Service) ReindexKnowledgeBase(ctx context.Context, tenantID, kbID string, progress Progress) (IndexResult, error) {
	if _, err := s.Catalog.GetKnowledgeBase(ctx, tenantID, kbID); err != nil {
		return IndexResult{}, err
	}
	docs, err := s.Catalog.DocumentIDs(ctx, tenantID, kbID)
	if err != nil {
		return IndexResult{}, err
	}
	var total IndexResult
	for i, id := range docs {
		res, err := s.IndexDocument(ctx, tenantID, id, nil)
		total = total.add(res)
		if err != nil && stopsReindex(err) {
			return total, fmt.Errorf("reindex knowledge base %s: %w", kbID, err)
		}
		if err != nil {
			total.Failed++
			s.log.Warn("document failed to reindex", "document", id, "err", err)
		}
		progress.report(100*(i+1)/len(docs), fmt.Sprintf("%d of %d documents", i+1, len(docs)))
	}
	return total, nil
}

// stopsReindex reports whether err will hit every document, not just one.
func stopsReindex(err error) bool {
	return errors.Is(err, ErrVectorUnavailable) || ai.IsTransient(err) || errors.Is(err, ai.ErrProviderAuthFailed) ||
		errors.Is(err, ErrProviderNotConfigured) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// DeleteDocument deletes a document's chunks, then the document. If the
// second step fails, the document remains (without chunks) and can be
// deleted again or reindexed.
func (s *Service) DeleteDocument(ctx context.Context, tenantID, docID string) error {
	if _, err := s.Catalog.GetDocument(ctx, tenantID, docID); err != nil {
		return err
	}
	if _, err := s.Store.DeleteDocument(ctx, tenantID, docID); err != nil {
		return err
	}
	return s.Catalog.DeleteDocument(ctx, tenantID, docID)
}

// DeleteKnowledgeBase deletes a knowledge base's chunks, then the knowledge
// base with its documents.
func (s *Service) DeleteKnowledgeBase(ctx context.Context, tenantID, kbID string) error {
	if _, err := s.Catalog.GetKnowledgeBase(ctx, tenantID, kbID); err != nil {
		return err
	}
	if _, err := s.Store.DeleteKnowledgeBase(ctx, tenantID, kbID); err != nil {
		return err
	}
	return s.Catalog.DeleteKnowledgeBase(ctx, tenantID, kbID)
}

// UpdateDocumentMetadata changes a document's metadata in the catalog and
// on its chunks, so filters see it at once.
func (s *Service) UpdateDocumentMetadata(ctx context.Context, tenantID, docID string, metadata []byte) (Document, error) {
	doc, err := s.Catalog.UpdateDocumentMetadata(ctx, tenantID, docID, metadata)
	if err != nil {
		return Document{}, err
	}
	meta, err := metadataMap(doc.Metadata)
	if err != nil {
		return Document{}, err
	}
	return doc, s.Store.SetDocumentMetadata(ctx, tenantID, docID, meta)
}

// SearchRequest is a search as the API takes it.
type SearchRequest struct {
	Query          string  `json:"query"`
	TopK           int     `json:"top_k"`
	Mode           Mode    `json:"mode"`
	Filters        Filters `json:"filters"`
	ScoreThreshold float64 `json:"score_threshold"`
}

// SearchResponse holds the results and what embedding the query cost.
type SearchResponse struct {
	Results []Result `json:"results"`
	Usage   ai.Usage `json:"usage"`
}

// SearchKnowledgeBase searches one of the tenant's knowledge bases.
func (s *Service) SearchKnowledgeBase(ctx context.Context, tenantID, kbID string, req SearchRequest) (SearchResponse, error) {
	kb, err := s.Catalog.GetKnowledgeBase(ctx, tenantID, kbID)
	if err != nil {
		return SearchResponse{}, err
	}
	return s.search(ctx, tenantID, []KnowledgeBase{kb}, req)
}

// SearchAgent searches all of the agent's knowledge bases together.
func (s *Service) SearchAgent(ctx context.Context, tenantID, agentID string, req SearchRequest) (SearchResponse, error) {
	kbs, err := s.Catalog.AgentKnowledgeBases(ctx, tenantID, agentID)
	if err != nil {
		return SearchResponse{}, err
	}
	if len(kbs) == 0 {
		return SearchResponse{Results: []Result{}}, nil
	}
	return s.search(ctx, tenantID, kbs, req)
}

// searchGroup is knowledge bases that one query vector and one text search
// configuration can search together.
type searchGroup struct {
	groupKey
	kbIDs []string
	// first is the group's first knowledge base, whose endpoint embeds
	// the query.
	first KnowledgeBase
}

type groupKey struct {
	embedding EmbeddingSettings
	tsConfig  string
}

// search runs req over kbs: one store query per group of knowledge bases
// sharing an embedder and a language, merged by score.
func (s *Service) search(ctx context.Context, tenantID string, kbs []KnowledgeBase, req SearchRequest) (SearchResponse, error) {
	if err := s.Store.Err(); err != nil {
		return SearchResponse{}, err
	}
	var resp SearchResponse
	vectors := map[EmbeddingSettings][]float32{}
	for _, g := range groups(kbs) {
		q := Query{TenantID: tenantID, KnowledgeBaseIDs: g.kbIDs, Text: req.Query, Mode: req.Mode, TopK: req.TopK,
			ScoreThreshold: req.ScoreThreshold, Filters: req.Filters, TextSearchConfig: g.tsConfig}
		if err := s.queryVector(ctx, &q, g.first, vectors, &resp.Usage); err != nil {
			return resp, err
		}
		res, err := s.Store.Search(ctx, q)
		if err != nil {
			return resp, err
		}
		resp.Results = append(resp.Results, res...)
	}
	sort.SliceStable(resp.Results, func(i, j int) bool { return resp.Results[i].Score > resp.Results[j].Score })
	resp.Results = resp.Results[:min(len(resp.Results), topK(req.TopK))]
	return resp, nil
}

// queryVector embeds the query for q when its mode needs it, once per
// embedder.
func (s *Service) queryVector(ctx context.Context, q *Query, kb KnowledgeBase, cache map[EmbeddingSettings][]float32, usage *ai.Usage) error {
	e := kb.EmbeddingSettings
	if mode, _ := ParseMode(string(q.Mode)); mode == ModeKeyword || strings.TrimSpace(q.Text) == "" {
		return nil
	}
	if v, ok := cache[e]; ok {
		q.Vector = v
		return nil
	}
	emb, err := s.embedder(ctx, q.TenantID, kb)
	if err != nil {
		return err
	}
	vecs, u, err := emb.Embed(ctx, []string{q.Text})
	*usage = usage.Add(u)
	if err != nil {
		return fmt.Errorf("embed the query: %w", err)
	}
	cache[e], q.Vector = vecs[0], vecs[0]
	return nil
}

func groups(kbs []KnowledgeBase) []searchGroup {
	var out []searchGroup
	index := map[groupKey]int{}
	for _, kb := range kbs {
		key := groupKey{embedding: kb.EmbeddingSettings, tsConfig: TextSearchConfig(kb.Language)}
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, searchGroup{groupKey: key, first: kb})
		}
		out[i].kbIDs = append(out[i].kbIDs, kb.ID)
	}
	return out
}

func topK(k int) int {
	if k <= 0 {
		return DefaultTopK
	}
	return k
}

// SettingsEndpoint is the TenantEndpoint of the settings service: the
// tenant's openai integration over the deployment's.
func SettingsEndpoint(st *settings.Service) TenantEndpoint {
	return func(ctx context.Context, tenantID string) (Endpoint, error) {
		in, err := st.Integration(ctx, tenantID, settings.OpenAI)
		return Endpoint{BaseURL: in.BaseURL, APIKey: in.APIKey, Tenant: in.TenantURL}, err
	}
}
