package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/config"
	"github.com/kilnhq/kiln/internal/testdata"
	"github.com/kilnhq/kiln/rag"
)

// runRAG runs `kiln rag eval` (retrieval recall on the shared web-page
// corpus) or `kiln rag bench` (indexing throughput, search latency and
// HNSW recall at 100,000 chunks) against VECTOR_DATABASE_URL, with the hash
// embedder. Both work in tenants of their own and remove their chunks.
func runRAG(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "eval" && args[0] != "bench") {
		return errors.New("usage: kiln rag eval | kiln rag bench [-chunks N]")
	}
	cfg, err := loadConfig(config.ModeDev)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel)
	store, err := rag.ConnectStore(ctx, cfg.VectorDatabaseURL, log, rag.StoreOptions{HNSWM: cfg.HNSWM,
		HNSWEfConstruction: cfg.HNSWEfConstruction, EfSearch: cfg.HNSWEfSearch})
	if err != nil {
		return fmt.Errorf("VECTOR_DATABASE_URL: %w", err)
	}
	defer store.Close()
	emb := ai.NewHash(ai.DefaultHashDimensions)
	if args[0] == "eval" {
		return ragEval(ctx, store, emb)
	}
	return ragBench(ctx, store, emb, args[1:])
}

func ragEval(ctx context.Context, store *rag.Store, emb ai.Embedder) error {
	dir, err := testdata.Dir("html")
	if err != nil {
		return err
	}
	rep, err := rag.Eval(ctx, store, emb, dir)
	if err != nil {
		return err
	}
	rep.Print(os.Stdout)
	return nil
}

func ragBench(ctx context.Context, store *rag.Store, emb ai.Embedder, args []string) error {
	fs := flag.NewFlagSet("rag bench", flag.ContinueOnError)
	chunks := fs.Int("chunks", 100_000, "chunks to index")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rep, err := rag.Bench(ctx, store, emb, rag.BenchOptions{Chunks: *chunks})
	if err != nil {
		return err
	}
	rep.Print(os.Stdout)
	return nil
}
