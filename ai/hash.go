package ai

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"unicode"
)

// DefaultHashDimensions is the size of the hash embedder's vectors unless
// told otherwise.
const DefaultHashDimensions = 384

// HashModel is the model name the hash embedder reports.
const HashModel = "kiln-hash-v1"

// Feature weights of the hash embedder. Whole words carry the most; word
// pairs reward phrases; character n-grams (3 to 5 runes, inside words, with
// word-boundary marks) give partial credit to inflections and compounds,
// spread over a word's n-grams so a long word does not outweigh a short one.
const (
	unigramWeight = 1.0
	bigramWeight  = 0.3
	ngramWeight   = 0.8
	minGram       = 3
	maxGram       = 5
)

// Hash is a local embedder: signed feature hashing of word unigrams, word
// bigrams and character n-grams into a fixed number of dimensions, with
// sublinear term frequency, L2-normalised.
//
// It is lexical, not semantic: texts are close when they share words or
// parts of words, not when they mean the same thing in other words
// ("car" and "automobile" are unrelated to it). It needs no network, no
// model files and no API key, is deterministic across runs and machines,
// and costs nothing, which makes RAG work offline from the first run.
type Hash struct {
	dims int
}

// NewHash returns a hash embedder making vectors of dims dimensions
// (DefaultHashDimensions when dims is zero or negative).
func NewHash(dims int) *Hash {
	if dims <= 0 {
		dims = DefaultHashDimensions
	}
	return &Hash{dims: dims}
}

// Dimensions is the length of the vectors.
func (h *Hash) Dimensions() int { return h.dims }

// Model is HashModel.
func (h *Hash) Model() string { return HashModel }

// Embed hashes each text; it fails only when ctx is done.
func (h *Hash) Embed(ctx context.Context, texts []string) ([][]float32, Usage, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if i%64 == 0 && ctx.Err() != nil {
			return nil, Usage{}, fmt.Errorf("hash embed: %w", ctx.Err())
		}
		out[i] = h.Vector(t)
	}
	return out, Usage{}, nil
}

// Vector returns the embedding of one text. A text without any word gets a
// fixed unit vector, never a zero one (cosine distance is undefined for it).
func (h *Hash) Vector(text string) []float32 {
	acc := make([]float64, h.dims)
	ws := words(text)
	var terms, uniq counter
	for i, w := range ws {
		terms.add("w\x00"+w, unigramWeight)
		if i > 0 {
			terms.add("b\x00"+ws[i-1]+" "+w, bigramWeight)
		}
		uniq.add(w, 1)
	}
	for i, key := range terms.keys {
		h.add(acc, key, sublinear(terms.weights[i]))
	}
	for i, w := range uniq.keys {
		h.addNgrams(acc, w, ngramWeight*sublinear(uniq.weights[i]))
	}
	if len(ws) == 0 {
		h.add(acc, "empty", 1)
	}
	return normalise(acc)
}

// counter sums weights per key and keeps keys in first-seen order, so the
// floating-point sums, and thus the vectors, are the same on every run.
type counter struct {
	index   map[string]int
	keys    []string
	weights []float64
}

func (c *counter) add(key string, w float64) {
	if c.index == nil {
		c.index = map[string]int{}
	}
	i, ok := c.index[key]
	if !ok {
		i = len(c.keys)
		c.index[key] = i
		c.keys = append(c.keys, key)
		c.weights = append(c.weights, 0)
	}
	c.weights[i] += w
}

// add hashes a feature into acc with a sign taken from the hash, so
// collisions cancel out on average instead of piling up.
func (h *Hash) add(acc []float64, feature string, w float64) {
	hv := fnv.New64a()
	hv.Write([]byte(feature))
	sum := hv.Sum64()
	if sum>>63 == 1 {
		w = -w
	}
	acc[sum%uint64(h.dims)] += w
}

// sublinear turns an accumulated weight into 1+ln(weight) for weights above
// one, so a word said ten times counts about 3.3 times, not ten.
func sublinear(w float64) float64 {
	if w <= 1 {
		return w
	}
	return 1 + math.Log(w)
}

// addNgrams adds the character n-grams of word, marked with word
// boundaries, sharing weight among them.
func (h *Hash) addNgrams(acc []float64, word string, weight float64) {
	runes := []rune("<" + word + ">")
	var grams []string
	for n := minGram; n <= maxGram; n++ {
		for i := 0; i+n <= len(runes); i++ {
			grams = append(grams, string(runes[i:i+n]))
		}
	}
	if len(grams) == 0 {
		return
	}
	each := weight / math.Sqrt(float64(len(grams)))
	for _, g := range grams {
		h.add(acc, "c\x00"+g, each)
	}
}

func normalise(acc []float64) []float32 {
	var sum float64
	for _, x := range acc {
		sum += x * x
	}
	out := make([]float32, len(acc))
	if sum == 0 {
		out[0] = 1
		return out
	}
	norm := math.Sqrt(sum)
	for i, x := range acc {
		out[i] = float32(x / norm)
	}
	return out
}

// words splits text into lowercase words: runs of letters, digits and
// marks. Han, Hiragana, Katakana and Thai characters, written without
// spaces, are words of one character each, so their n-grams still match.
func words(text string) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, b.String())
			b.Reset()
		}
	}
	for _, r := range strings.ToLower(text) {
		switch {
		case isUnspaced(r):
			flush()
			out = append(out, string(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			b.WriteRune(r)
		default:
			flush()
		}
	}
	flush()
	return out
}

func isUnspaced(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai)
}
