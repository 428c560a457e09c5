package rag_test

import (
	"context"
	"strings"
	"testing"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/testdata"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/rag"
	"github.com/kilnhq/kiln/rag/ragtest"
)

// evalDir is the shared web-page corpus (found by internal/testdata).
func evalDir(t *testing.T) string {
	t.Helper()
	dir, err := testdata.Dir("html")
	testkit.Must(t, "find the eval pages", err)
	return dir
}

// TestEval runs the retrieval eval and holds hybrid search to matching or
// beating both keyword and semantic search at recall@5.
func TestEval(t *testing.T) {
	s := ragtest.Store(t, rag.StoreOptions{})
	report, err := rag.Eval(context.Background(), s, ai.NewHash(0), evalDir(t))
	testkit.Must(t, "eval", err)
	var b strings.Builder
	report.Print(&b)
	t.Log("\n" + b.String())
	if report.Documents < 40 || report.Chunks < report.Documents {
		t.Fatalf("indexed %d documents in %d chunks; the eval set has 45 pages", report.Documents, report.Chunks)
	}
	for _, set := range []string{"all"} {
		hybrid, _ := report.Row(set, rag.ModeHybrid)
		for _, other := range []rag.Mode{rag.ModeKeyword, rag.ModeSemantic} {
			row, _ := report.Row(set, other)
			if hybrid.RecallAt5 < row.RecallAt5 {
				t.Errorf("%s queries: hybrid recall@5 %.3f is below %s's %.3f", set, hybrid.RecallAt5, other, row.RecallAt5)
			}
		}
		if hybrid.N < 70 || hybrid.RecallAt5 < 0.5 {
			t.Errorf("%s queries: hybrid recall@5 %.3f over %d queries; expected at least 0.5 over 70+", set, hybrid.RecallAt5, hybrid.N)
		}
	}
}
