package rag

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/ids"
)

// BenchOptions size a benchmark run. Zero values take the defaults.
type BenchOptions struct {
	// Chunks to index (100,000).
	Chunks int
	// ChunksPerDocument (50): each document is one ReplaceDocument call.
	ChunksPerDocument int
	// Queries timed per search mode (200).
	Queries int
	// RecallQueries compared between the HNSW index and exact search (100).
	RecallQueries int
	// IncrementalChunks are written after the index exists, to time
	// inserts that keep the index up to date (1,000).
	IncrementalChunks int
	// Seed makes the synthetic corpus; the same seed, the same corpus.
	Seed uint64
	// Log receives progress lines; nil discards.
	Log *slog.Logger
}

func (o BenchOptions) withDefaults() BenchOptions {
	o.Chunks = orDefault(o.Chunks, 100_000)
	o.ChunksPerDocument = orDefault(o.ChunksPerDocument, 50)
	o.Queries = orDefault(o.Queries, 200)
	o.RecallQueries = orDefault(o.RecallQueries, 100)
	o.IncrementalChunks = orDefault(o.IncrementalChunks, 1000)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// Latency summarises the timings of one search mode.
type Latency struct {
	P50, P99, Mean time.Duration
}

// BenchReport is the outcome of Bench.
type BenchReport struct {
	Chunks int
	Model  string
	Dims   int
	// Load is the time to embed and insert the corpus; Embed the part spent
	// embedding. LoadWithIndex tells whether the HNSW index already existed
	// (then every insert kept it up to date); if not, IndexBuild is the
	// time to build it afterwards in one pass.
	Load, Embed     time.Duration
	ChunksPerSecond float64
	LoadWithIndex   bool
	IndexBuild      time.Duration
	// IncrementalChunksPerSecond is the rate of inserts (with embedding)
	// once the index exists, as when documents come one by one.
	IncrementalChunksPerSecond float64
	Latency                    map[Mode]Latency
	// RecallAt10 is the share of the HNSW index's top 10 (at the store's
	// ef_search) that belongs in the exact top 10 by cosine distance,
	// counting ties with the 10th as ann-benchmarks does.
	RecallAt10 float64
	EfSearch   int
	// RecallByEfSearch is the same measure at other ef_search values.
	RecallByEfSearch map[int]float64
	// UsesIndex tells whether the planner chooses the HNSW index for the
	// semantic query by itself (it prefers exact search on small tables);
	// the recall is measured with the index either way.
	UsesIndex bool
	Plan      string
}

// Print writes the report.
func (r BenchReport) Print(w io.Writer) {
	fmt.Fprintf(w, "RAG benchmark: %d chunks, embedder %s (%d dims)\n", r.Chunks, r.Model, r.Dims)
	if r.LoadWithIndex {
		fmt.Fprintf(w, "load: %.0f chunks/s with HNSW upkeep (%s in all, %s of it embedding)\n", r.ChunksPerSecond, r.Load.Round(time.Millisecond), r.Embed.Round(time.Millisecond))
	} else {
		fmt.Fprintf(w, "bulk load: %.0f chunks/s (%s in all, %s of it embedding), then the HNSW index built in %s\n",
			r.ChunksPerSecond, r.Load.Round(time.Millisecond), r.Embed.Round(time.Millisecond), r.IndexBuild.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "incremental indexing with the HNSW index: %.0f chunks/s\n", r.IncrementalChunksPerSecond)
	for _, m := range []Mode{ModeSemantic, ModeKeyword, ModeHybrid} {
		l := r.Latency[m]
		fmt.Fprintf(w, "search %-8s p50 %7.2f ms  p99 %7.2f ms  mean %7.2f ms\n", m, ms(l.P50), ms(l.P99), ms(l.Mean))
	}
	fmt.Fprintf(w, "HNSW recall@10 vs exact at ef_search %d: %.3f (planner picks the index by itself: %v)\n", r.EfSearch, r.RecallAt10, r.UsesIndex)
	efs := make([]int, 0, len(r.RecallByEfSearch))
	for ef := range r.RecallByEfSearch {
		efs = append(efs, ef)
	}
	slices.Sort(efs)
	fmt.Fprint(w, "recall@10 by ef_search:")
	for _, ef := range efs {
		fmt.Fprintf(w, " %d: %.3f", ef, r.RecallByEfSearch[ef])
	}
	fmt.Fprintln(w)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Bench measures the store with a synthetic corpus of opts.Chunks chunks
// under a tenant of its own, deleted afterwards: load throughput
// (embedding and insert) in bulk, that is with the automatic index build
// held back and the HNSW index built once at the end, as a large first
// load should go (unless the index already exists); the throughput of
// inserts that keep the index up to date; search latency per mode (each
// query embedded too); and the index's recall@10 against exact search.
func Bench(ctx context.Context, store *Store, emb ai.Embedder, opts BenchOptions) (BenchReport, error) {
	opts = opts.withDefaults()
	if store.Err() != nil {
		return BenchReport{}, store.Err()
	}
	c := newCorpus(opts.Seed, opts.Chunks/opts.ChunksPerDocument/documentsPerTopic)
	tenant, kb := ids.New("ten"), ids.New("kb")
	defer store.DeleteTenant(context.WithoutCancel(ctx), tenant) //nolint:errcheck // best effort cleanup
	r := BenchReport{Chunks: opts.Chunks, Model: emb.Model(), Dims: emb.Dimensions(), EfSearch: store.opts.EfSearch, Latency: map[Mode]Latency{}}
	texts, err := benchLoad(ctx, store, emb, c, tenant, kb, opts, &r)
	if err != nil {
		return r, err
	}
	queries := c.queries(texts, opts.Queries)
	for _, m := range []Mode{ModeSemantic, ModeKeyword, ModeHybrid} {
		if r.Latency[m], err = benchLatency(ctx, store, emb, tenant, kb, queries, m); err != nil {
			return r, err
		}
		opts.Log.Info("bench: timed searches", "mode", m, "p50", r.Latency[m].P50)
	}
	err = benchRecall(ctx, store, emb, tenant, kb, c.queries(texts, opts.RecallQueries), &r)
	return r, err
}

// benchLoad writes the corpus in bulk, builds the index, then times
// incremental inserts; it returns the corpus's chunk texts.
func benchLoad(ctx context.Context, store *Store, emb ai.Embedder, c *corpus, tenant, kb string, opts BenchOptions, r *BenchReport) ([]string, error) {
	store.mu.Lock()
	r.LoadWithIndex = store.indexed[emb.Dimensions()]
	store.holdIndex = true // build the index once, after the load
	store.mu.Unlock()
	defer func() {
		store.mu.Lock()
		store.holdIndex = false
		store.mu.Unlock()
	}()
	start := time.Now()
	texts, err := benchWrite(ctx, store, emb, c, tenant, kb, 0, opts.Chunks, opts, r)
	if err != nil {
		return nil, err
	}
	r.Load = time.Since(start)
	r.ChunksPerSecond = float64(len(texts)) / r.Load.Seconds()
	start = time.Now()
	if err := store.EnsureIndex(ctx, emb.Dimensions()); err != nil {
		return nil, err
	}
	r.IndexBuild = time.Since(start)
	opts.Log.Info("bench: index ready", "build", r.IndexBuild)
	var scratch BenchReport
	start = time.Now()
	more, err := benchWrite(ctx, store, emb, c, tenant, kb, opts.Chunks, opts.IncrementalChunks, opts, &scratch)
	if err != nil {
		return nil, err
	}
	r.IncrementalChunksPerSecond = float64(len(more)) / time.Since(start).Seconds()
	return append(texts, more...), nil
}

// benchWrite writes n chunks of the corpus, numbering documents from
// first/ChunksPerDocument, and returns their texts.
func benchWrite(ctx context.Context, store *Store, emb ai.Embedder, c *corpus, tenant, kb string, first, n int, opts BenchOptions, r *BenchReport) ([]string, error) {
	texts := make([]string, 0, n)
	for doc := first / opts.ChunksPerDocument; len(texts) < n; doc++ {
		batch := make([]string, min(opts.ChunksPerDocument, n-len(texts)))
		chunks := make([]Chunk, len(batch))
		for i := range chunks {
			batch[i] = c.paragraph(doc/documentsPerTopic, 60)
			chunks[i] = Chunk{Position: i, Text: batch[i], HeadingPath: []string{fmt.Sprint("Document ", doc)}, End: len(batch[i]), Tokens: 80}
		}
		t := time.Now()
		vecs, _, err := emb.Embed(ctx, batch)
		r.Embed += time.Since(t)
		if err != nil {
			return nil, fmt.Errorf("bench: embed: %w", err)
		}
		if err := store.ReplaceDocument(ctx, DocumentChunks{TenantID: tenant, KnowledgeBaseID: kb, DocumentID: fmt.Sprintf("doc_bench_%06d", doc),
			Model: emb.Model(), TextSearchConfig: "english", Chunks: chunks, Embeddings: vecs}); err != nil {
			return nil, fmt.Errorf("bench: insert: %w", err)
		}
		texts = append(texts, batch...)
		if len(texts)%5000 == 0 {
			opts.Log.Info("bench: writing", "chunks", len(texts))
		}
	}
	return texts, nil
}

// benchLatency times each query, embedding included.
func benchLatency(ctx context.Context, store *Store, emb ai.Embedder, tenant, kb string, queries []string, mode Mode) (Latency, error) {
	times := make([]time.Duration, 0, len(queries))
	for _, text := range queries {
		start := time.Now()
		q := Query{TenantID: tenant, KnowledgeBaseIDs: []string{kb}, Text: text, Mode: mode, TextSearchConfig: "english"}
		if mode != ModeKeyword {
			vecs, _, err := emb.Embed(ctx, []string{text})
			if err != nil {
				return Latency{}, err
			}
			q.Vector = vecs[0]
		}
		if _, err := store.Search(ctx, q); err != nil {
			return Latency{}, fmt.Errorf("bench: %s search: %w", mode, err)
		}
		times = append(times, time.Since(start))
	}
	return summarise(times), nil
}

func summarise(times []time.Duration) Latency {
	slices.Sort(times)
	var sum time.Duration
	for _, t := range times {
		sum += t
	}
	at := func(p float64) time.Duration { return times[min(len(times)-1, int(p*float64(len(times))))] }
	return Latency{P50: at(0.50), P99: at(0.99), Mean: sum / time.Duration(len(times))}
}

// recallEfSearch are the hnsw.ef_search values Bench measures recall at,
// besides the store's.
func recallEfSearch() []int { return []int{40, 100, 200, 400, 800} }

// benchRecall compares the index's top 10 with exact search's, at the
// store's ef_search and at each of recallEfSearch.
func benchRecall(ctx context.Context, store *Store, emb ai.Embedder, tenant, kb string, queries []string, r *BenchReport) error {
	efs := append([]int{store.opts.EfSearch}, recallEfSearch()...)
	found := make([]int, len(efs))
	wanted := 0
	for i, text := range queries {
		vecs, _, err := emb.Embed(ctx, []string{text})
		if err != nil {
			return err
		}
		q := Query{TenantID: tenant, KnowledgeBaseIDs: []string{kb}, Text: text, Vector: vecs[0], Mode: ModeSemantic, TopK: 10}
		if i == 0 {
			if err := explainRecall(ctx, store, q, r); err != nil {
				return err
			}
		}
		q.Exact = true
		exact, err := store.Search(ctx, q)
		if err != nil {
			return err
		}
		wanted += len(exact)
		q.Exact, q.ForceIndex = false, true
		for j, ef := range efs {
			q.EfSearch = ef
			approx, err := store.Search(ctx, q)
			if err != nil {
				return err
			}
			found[j] += withinExact(approx, exact)
		}
	}
	r.RecallByEfSearch = map[int]float64{}
	for j, ef := range efs {
		if wanted > 0 {
			r.RecallByEfSearch[ef] = float64(found[j]) / float64(wanted)
		}
	}
	r.RecallAt10 = r.RecallByEfSearch[store.opts.EfSearch]
	return nil
}

// explainRecall records whether the planner picks the index for q by
// itself, and the plan of the forced query the recall is measured with.
func explainRecall(ctx context.Context, store *Store, q Query, r *BenchReport) error {
	var err error
	if r.UsesIndex, err = usesIndex(ctx, store, q); err != nil {
		return err
	}
	q.ForceIndex = true
	r.Plan, err = store.ExplainSemantic(ctx, q)
	return err
}

// usesIndex reports whether the planner uses the HNSW index for q unforced.
func usesIndex(ctx context.Context, store *Store, q Query) (bool, error) {
	plan, err := store.ExplainSemantic(ctx, q)
	return strings.Contains(plan, "rag_chunks_embedding_"), err
}

// withinExact counts the approximate results that belong in the exact
// top k: those no farther than the exact k-th result (with a relative
// tolerance of 1e-3, as ann-benchmarks counts), so a neighbour tied with
// the k-th is not a miss.
func withinExact(approx, exact []Result) int {
	if len(exact) == 0 {
		return 0
	}
	limit := exact[len(exact)-1].Score // similarity of the k-th
	tol := 1e-3 * max(1e-6, 1-limit)   // relative to the cosine distance
	n := 0
	for _, r := range approx[:min(len(approx), len(exact))] {
		if r.Score >= limit-tol {
			n++
		}
	}
	return n
}

// corpus makes synthetic prose with the structure of real collections:
// words built from syllables, drawn half from a Zipf distribution over the
// whole vocabulary (common words, as in any text) and half from the
// vocabulary of the document's topic, so documents on one topic are near
// each other, as texts on one subject are under any embedding.
type corpus struct {
	rng    *rand.Rand
	zipf   *rand.Zipf
	words  []string
	topics [][]string
}

// Corpus shape: vocabulary size, words per topic, documents per topic.
const (
	corpusWords       = 20_000
	topicWords        = 60
	documentsPerTopic = 4
)

func newCorpus(seed uint64, topics int) *corpus {
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6e))
	syllables := strings.Fields("ka lo mi ne ra tu si po de ba ve ri zo fa gu le mo ni sa te wo ha ju ko pe")
	c := &corpus{rng: rng, words: make([]string, corpusWords), topics: make([][]string, max(1, topics))}
	for i := range c.words {
		var b strings.Builder
		for range 2 + rng.IntN(3) {
			b.WriteString(syllables[rng.IntN(len(syllables))])
		}
		c.words[i] = b.String()
	}
	for t := range c.topics {
		for range topicWords {
			c.topics[t] = append(c.topics[t], c.words[200+rng.IntN(corpusWords-200)]) // not among the most common
		}
	}
	c.zipf = rand.NewZipf(rng, 1.1, 2, uint64(corpusWords-1))
	return c
}

// paragraph returns n words on topic t, in sentences.
func (c *corpus) paragraph(t, n int) string {
	topic := c.topics[t%len(c.topics)]
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		if c.rng.IntN(2) == 0 {
			b.WriteString(topic[c.rng.IntN(len(topic))])
		} else {
			b.WriteString(c.words[c.zipf.Uint64()])
		}
		if i%12 == 11 || i == n-1 {
			b.WriteByte('.')
		}
	}
	return b.String()
}

// queries picks n queries: eight consecutive words of random chunks.
func (c *corpus) queries(texts []string, n int) []string {
	out := make([]string, n)
	for i := range out {
		words := strings.Fields(texts[c.rng.IntN(len(texts))])
		from := c.rng.IntN(max(1, len(words)-8))
		out[i] = strings.Join(words[from:min(len(words), from+8)], " ")
	}
	return out
}
