package pdftext

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kilnhq/kiln/extract/textmetric"
)

// BenchmarkExtract extracts each text PDF of the corpus (one that yields at
// least MinReferenceTokens tokens, the quality rule applied to this
// package's own output so that the benchmark needs no pdftotext) and
// reports pages per second besides time, bytes and allocations.
func BenchmarkExtract(b *testing.B) {
	names, err := pdfFiles(corpusDir)
	if err != nil {
		b.Fatalf("the PDF corpus is missing at %s: %v (%v)", corpusDir, err, corpusErr)
	}
	ran := 0
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(corpusDir, name))
		if err != nil {
			b.Fatal(err)
		}
		doc, err := Extract(context.Background(), bytes.NewReader(data), int64(len(data)), Limits{}, nil)
		if err != nil || len(textmetric.Tokens(doc.Text)) < MinReferenceTokens {
			continue
		}
		ran++
		b.Run(name, func(b *testing.B) { benchmarkFile(b, data, doc.Pages) })
	}
	if ran == 0 {
		b.Fatal("no text PDF in the corpus")
	}
}

// benchmarkFile extracts one file per iteration.
func benchmarkFile(b *testing.B, data []byte, pages int) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Extract(context.Background(), bytes.NewReader(data), int64(len(data)), Limits{}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(pages*b.N)/b.Elapsed().Seconds(), "pages/s")
}
