package rag_test

import (
	"context"
	"strings"
	"testing"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/rag"
	"github.com/kilnhq/kiln/rag/ragtest"
)

// TestHNSWRecall indexes a synthetic corpus and holds the HNSW index to a
// recall@10 of at least 0.95 against exact search at the default
// ef_search, checking that the measured plan really uses the index.
func TestHNSWRecall(t *testing.T) {
	s := ragtest.Store(t, rag.StoreOptions{})
	r, err := rag.Bench(context.Background(), s, ai.NewHash(0), rag.BenchOptions{Chunks: 5000, Queries: 20, RecallQueries: 50, Log: testkit.Logger(t)})
	testkit.Must(t, "bench", err)
	var b strings.Builder
	r.Print(&b)
	t.Log("\n" + b.String())
	if !strings.Contains(r.Plan, "rag_chunks_embedding_384_idx") {
		t.Fatalf("recall was not measured on the HNSW index; plan:\n%s", r.Plan)
	}
	if r.RecallAt10 < 0.95 {
		t.Fatalf("HNSW recall@10 = %.3f at ef_search %d, want at least 0.95", r.RecallAt10, r.EfSearch)
	}
	// At 5,000 chunks the default ef_search explores most of the graph; a
	// low one shows whether the index itself is sound.
	if got := r.RecallByEfSearch[100]; got < 0.85 {
		t.Fatalf("HNSW recall@10 = %.3f at ef_search 100, want at least 0.85 on this small corpus", got)
	}
}

// BenchmarkRAG runs the full benchmark (100,000 chunks; several minutes on
// PGlite) and reports its figures: go test -run - -bench RAG ./rag/
func BenchmarkRAG(b *testing.B) {
	s := ragtest.Store(b, rag.StoreOptions{})
	for range b.N {
		r, err := rag.Bench(context.Background(), s, ai.NewHash(0), rag.BenchOptions{Log: testkit.Logger(b)})
		testkit.Must(b, "bench", err)
		var out strings.Builder
		r.Print(&out)
		b.Log("\n" + out.String())
		b.ReportMetric(r.ChunksPerSecond, "chunks/s")
		for _, m := range []rag.Mode{rag.ModeSemantic, rag.ModeKeyword, rag.ModeHybrid} {
			b.ReportMetric(float64(r.Latency[m].P50.Microseconds())/1000, string(m)+"-p50-ms")
			b.ReportMetric(float64(r.Latency[m].P99.Microseconds())/1000, string(m)+"-p99-ms")
		}
		b.ReportMetric(r.RecallAt10, "recall@10")
	}
}
