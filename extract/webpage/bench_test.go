package webpage

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

// corpusPage is one decoded corpus page for benchmarks.
type corpusPage struct {
	name string
	html string
}

// loadCorpus decodes every source.html of the corpus.
func loadCorpus(b *testing.B) []corpusPage {
	b.Helper()
	dir := requireCorpus(b)
	paths, err := filepath.Glob(filepath.Join(dir, "*", "source.html"))
	if err != nil || len(paths) == 0 {
		b.Fatalf("no source.html under %s: %v", dir, err)
	}
	var pages []corpusPage
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			b.Fatalf("reading %s: %v", p, err)
		}
		page, err := Decode(raw, "")
		if err != nil {
			b.Fatalf("decoding %s: %v", p, err)
		}
		pages = append(pages, corpusPage{name: filepath.Base(filepath.Dir(p)), html: page})
	}
	return pages
}

// BenchmarkExtract extracts the whole corpus once per iteration and
// reports pages per second; bytes are the pages' HTML.
func BenchmarkExtract(b *testing.B) {
	pages := loadCorpus(b)
	u, err := url.Parse(CorpusPageURL)
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	for _, p := range pages {
		size += int64(len(p.html))
	}
	ctx := context.Background()
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, p := range pages {
			if _, err := Extract(ctx, p.html, u); err != nil {
				b.Fatalf("Extract %s: %v", p.name, err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(pages))/b.Elapsed().Seconds(), "pages/s")
}
