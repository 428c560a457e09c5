package ai

import (
	"context"
	"math"
	"testing"
)

func cosine(a, b []float32) float64 {
	var dot float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
	}
	return dot // vectors are unit length
}

func TestHashVectorsAreUnitLengthAndDeterministic(t *testing.T) {
	tests := []struct {
		name string
		dims int
		text string
		want int
	}{
		{"default size", 0, "The quick brown fox", DefaultHashDimensions},
		{"custom size", 64, "The quick brown fox", 64},
		{"empty text", 0, "", DefaultHashDimensions},
		{"punctuation only", 32, "?!  --- ...", 32},
		{"Chinese", 0, "海外留学生看两会", DefaultHashDimensions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHash(tt.dims)
			v := h.Vector(tt.text)
			if len(v) != tt.want || h.Dimensions() != tt.want {
				t.Fatalf("len = %d, Dimensions() = %d, want %d", len(v), h.Dimensions(), tt.want)
			}
			var norm float64
			for _, x := range v {
				norm += float64(x) * float64(x)
			}
			if math.Abs(norm-1) > 1e-5 {
				t.Fatalf("squared norm = %v, want 1", norm)
			}
			again := NewHash(tt.dims).Vector(tt.text)
			for i := range v {
				if v[i] != again[i] {
					t.Fatalf("dimension %d differs between runs: %v vs %v", i, v[i], again[i])
				}
			}
		})
	}
}

func TestHashIsLexical(t *testing.T) {
	tests := []struct {
		name          string
		query, near   string
		far           string
		wantNearAbove float64 // the near text's similarity exceeds the far one's by this much
	}{
		{"shared words", "cat sat on the mat", "the cat is on a mat", "quarterly stock market report", 0.2},
		{"inflections share n-grams", "profiling", "profiler profiles", "baking bread", 0.05},
		{"word order matters a little", "new york city", "new york city", "city york new", 0.01},
		{"Chinese characters", "海外留学生", "留学生看两会", "Lorem ipsum dolor", 0.1},
		{"case is ignored", "PostgreSQL Vector Search", "postgresql vector search", "gardening tips", 0.9},
	}
	h := NewHash(0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := h.Vector(tt.query)
			near, far := cosine(q, h.Vector(tt.near)), cosine(q, h.Vector(tt.far))
			if near-far < tt.wantNearAbove {
				t.Fatalf("similarity to near %q = %.3f, to far %q = %.3f; want a gap of at least %.2f", tt.near, near, tt.far, far, tt.wantNearAbove)
			}
		})
	}
}

func TestHashIsNotSemantic(t *testing.T) {
	h := NewHash(0)
	if s := cosine(h.Vector("car"), h.Vector("automobile")); s > 0.3 {
		t.Fatalf("car vs automobile = %.3f; the hash embedder should not know synonyms (docs say lexical)", s)
	}
}

func TestHashEmbed(t *testing.T) {
	h := NewHash(16)
	vecs, usage, err := h.Embed(context.Background(), []string{"a b", "c d", ""})
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != 3 || usage != (Usage{}) || h.Model() != HashModel {
		t.Fatalf("got %d vectors, usage %+v, model %q", len(vecs), usage, h.Model())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := h.Embed(ctx, []string{"x"}); err == nil {
		t.Fatal("Embed with a canceled context succeeded")
	}
}
