package rag

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	htmltomarkdown "github.com/JohannesKaufmann/html-to-markdown/v2"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/ids"
)

// evalDepth is how many chunks each eval query fetches, to rank at least
// five distinct documents.
const evalDepth = 40

// EvalReport is the outcome of Eval: recall of the right document for
// each query set and search mode.
type EvalReport struct {
	Documents int
	Chunks    int
	Model     string
	Dims      int
	Rows      []EvalRow
}

// EvalRow is the recall of one query set ("title", "excerpt" or "all")
// under one mode.
type EvalRow struct {
	Queries   string
	Mode      Mode
	N         int
	RecallAt1 float64
	RecallAt5 float64
}

// Row returns the row for a query set and mode.
func (r EvalReport) Row(queries string, mode Mode) (EvalRow, bool) {
	for _, row := range r.Rows {
		if row.Queries == queries && row.Mode == mode {
			return row, true
		}
	}
	return EvalRow{}, false
}

// Print writes the report as a table.
func (r EvalReport) Print(w io.Writer) {
	fmt.Fprintf(w, "RAG retrieval eval: %d documents, %d chunks, semantic embedder %s (%d dims)\n", r.Documents, r.Chunks, r.Model, r.Dims)
	fmt.Fprintf(w, "%-8s %-9s %8s %9s %9s\n", "queries", "mode", "n", "recall@1", "recall@5")
	for _, row := range r.Rows {
		fmt.Fprintf(w, "%-8s %-9s %8d %9.3f %9.3f\n", row.Queries, row.Mode, row.N, row.RecallAt1, row.RecallAt5)
	}
}

// evalPage is one test page: its document id, the text it was indexed
// with, and its queries.
type evalPage struct {
	id, text         string
	title, excerpt   string
	equivalentDocIDs map[string]bool // pages with the very same text count as right too
}

// Eval measures retrieval. It indexes the expected content of every page
// in dir (dir/NAME/expected.html, converted to Markdown, default chunk
// settings) into store with embedder, under a tenant of its own that it
// deletes afterwards. It then queries each page's title and excerpt (from
// expected-metadata.json) in keyword, semantic and hybrid mode, and
// reports how often the page's document is the first document found
// (recall@1) or among the first five (recall@5). Pages with identical text
// are one answer. Titles are not indexed: title queries must find the page
// by its body.
func Eval(ctx context.Context, store *Store, embedder ai.Embedder, dir string) (EvalReport, error) {
	pages, err := loadEvalPages(dir)
	if err != nil {
		return EvalReport{}, err
	}
	chunker, err := NewChunker(nil)
	if err != nil {
		return EvalReport{}, err
	}
	tenant, kb := ids.New("ten"), ids.New("kb")
	defer store.DeleteTenant(context.WithoutCancel(ctx), tenant) //nolint:errcheck // best effort cleanup
	report := EvalReport{Documents: len(pages), Model: embedder.Model(), Dims: embedder.Dimensions()}
	for _, p := range pages {
		n, err := evalIndex(ctx, store, embedder, chunker, tenant, kb, p)
		if err != nil {
			return EvalReport{}, err
		}
		report.Chunks += n
	}
	for _, set := range []string{"title", "excerpt", "all"} {
		for _, mode := range []Mode{ModeKeyword, ModeSemantic, ModeHybrid} {
			row, err := evalRow(ctx, store, embedder, tenant, kb, pages, set, mode)
			if err != nil {
				return EvalReport{}, err
			}
			report.Rows = append(report.Rows, row)
		}
	}
	return report, nil
}

// loadEvalPages reads the pages of dir, sorted by name.
func loadEvalPages(dir string) ([]evalPage, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*", "expected.html"))
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("eval: no */expected.html under %s (%v)", dir, err)
	}
	sort.Strings(paths)
	var pages []evalPage
	byText := map[string][]int{}
	for _, path := range paths {
		p, err := loadEvalPage(path)
		if err != nil {
			return nil, err
		}
		byText[p.text] = append(byText[p.text], len(pages))
		pages = append(pages, p)
	}
	for _, group := range byText {
		for _, i := range group {
			pages[i].equivalentDocIDs = map[string]bool{}
			for _, j := range group {
				pages[i].equivalentDocIDs[pages[j].id] = true
			}
		}
	}
	return pages, nil
}

func loadEvalPage(path string) (evalPage, error) {
	html, err := os.ReadFile(path)
	if err != nil {
		return evalPage{}, fmt.Errorf("eval: %w", err)
	}
	text, err := htmltomarkdown.ConvertString(string(html))
	if err != nil {
		return evalPage{}, fmt.Errorf("eval: convert %s: %w", path, err)
	}
	var meta struct {
		Title   string `json:"title"`
		Excerpt string `json:"excerpt"`
	}
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(path), "expected-metadata.json"))
	if err != nil {
		return evalPage{}, fmt.Errorf("eval: %w", err)
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return evalPage{}, fmt.Errorf("eval: %s: %w", path, err)
	}
	id := "doc_" + filepath.Base(filepath.Dir(path))
	return evalPage{id: id, text: text, title: strings.TrimSpace(meta.Title), excerpt: strings.TrimSpace(meta.Excerpt)}, nil
}

// evalIndex chunks, embeds and stores one page; it returns its chunk count.
func evalIndex(ctx context.Context, store *Store, emb ai.Embedder, chunker *Chunker, tenant, kb string, p evalPage) (int, error) {
	chunks, err := chunker.Chunk(p.text, ChunkOptions{})
	if err != nil {
		return 0, fmt.Errorf("eval: chunk %s: %w", p.id, err)
	}
	texts := make([]string, len(chunks))
	for i, c := range chunks {
		texts[i] = EmbeddingText(c)
	}
	vecs, _, err := emb.Embed(ctx, texts)
	if err != nil {
		return 0, fmt.Errorf("eval: embed %s: %w", p.id, err)
	}
	err = store.ReplaceDocument(ctx, DocumentChunks{TenantID: tenant, KnowledgeBaseID: kb, DocumentID: p.id, Model: emb.Model(),
		TextSearchConfig: "english", Chunks: chunks, Embeddings: vecs})
	return len(chunks), err
}

// evalRow runs one query set in one mode.
func evalRow(ctx context.Context, store *Store, emb ai.Embedder, tenant, kb string, pages []evalPage, set string, mode Mode) (EvalRow, error) {
	row := EvalRow{Queries: set, Mode: mode}
	var hits1, hits5 int
	for _, p := range pages {
		for _, q := range evalQueries(p, set) {
			docs, err := evalSearch(ctx, store, emb, tenant, kb, q, mode)
			if err != nil {
				return EvalRow{}, err
			}
			row.N++
			for rank, d := range docs[:min(5, len(docs))] {
				if p.equivalentDocIDs[d] {
					hits5++
					if rank == 0 {
						hits1++
					}
					break
				}
			}
		}
	}
	if row.N > 0 {
		row.RecallAt1, row.RecallAt5 = float64(hits1)/float64(row.N), float64(hits5)/float64(row.N)
	}
	return row, nil
}

func evalQueries(p evalPage, set string) []string {
	var out []string
	if (set == "title" || set == "all") && p.title != "" {
		out = append(out, p.title)
	}
	if (set == "excerpt" || set == "all") && p.excerpt != "" {
		out = append(out, p.excerpt)
	}
	return out
}

// evalSearch returns the distinct documents of a search's chunks, in order.
func evalSearch(ctx context.Context, store *Store, emb ai.Embedder, tenant, kb, text string, mode Mode) ([]string, error) {
	q := Query{TenantID: tenant, KnowledgeBaseIDs: []string{kb}, Text: text, Mode: mode, TopK: evalDepth, TextSearchConfig: "english"}
	if mode != ModeKeyword {
		vecs, _, err := emb.Embed(ctx, []string{text})
		if err != nil {
			return nil, fmt.Errorf("eval: embed query: %w", err)
		}
		q.Vector = vecs[0]
	}
	res, err := store.Search(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("eval: search %q: %w", text, err)
	}
	var docs []string
	seen := map[string]bool{}
	for _, r := range res {
		if !seen[r.DocumentID] {
			seen[r.DocumentID] = true
			docs = append(docs, r.DocumentID)
		}
	}
	return docs, nil
}
