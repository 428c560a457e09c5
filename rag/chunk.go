package rag

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/problem"
)

// Chunking defaults and limits.
const (
	DefaultMaxTokens = 512
	DefaultOverlap   = 64
	MinMaxTokens     = 16
	MaxMaxTokens     = 8191 // what OpenAI's embedding models take
	maxSeparators    = 32
)

// DefaultSeparators are the places a section may be cut, strongest first:
// paragraphs, lines, sentences, clauses, words. A cut falls on the
// strongest separator that leaves the chunk at least half full.
func DefaultSeparators() []string {
	return []string{"\n\n", "\n", ". ", "! ", "? ", "。", "！", "？", "; ", ": ", ", ", "、", " "}
}

// ChunkOptions are a knowledge base's chunk settings. Zero values take the
// defaults.
type ChunkOptions struct {
	// MaxTokens caps a chunk's text, in cl100k_base tokens.
	MaxTokens int `json:"max_tokens"`
	// Overlap is how many tokens, at most, a chunk repeats from the end of
	// the previous chunk of the same section. Zero takes DefaultOverlap (or
	// a quarter of MaxTokens, if less); a negative value means none.
	Overlap int `json:"overlap"`
	// Separators, strongest first; empty takes DefaultSeparators.
	Separators []string `json:"separators"`
}

// WithDefaults fills the zero fields.
func (o ChunkOptions) WithDefaults() ChunkOptions {
	if o.MaxTokens == 0 {
		o.MaxTokens = DefaultMaxTokens
	}
	switch {
	case o.Overlap == 0:
		o.Overlap = min(DefaultOverlap, o.MaxTokens/4)
	case o.Overlap < 0:
		o.Overlap = 0
	}
	if len(o.Separators) == 0 {
		o.Separators = DefaultSeparators()
	}
	return o
}

// Check reports invalid settings as a validation problem naming the fields
// as the API does (max_tokens, overlap, separators).
func (o ChunkOptions) Check() error {
	var f problem.FieldErrors
	f.Check(o.MaxTokens != 0 && (o.MaxTokens < MinMaxTokens || o.MaxTokens > MaxMaxTokens), "max_tokens",
		fmt.Sprintf("must be between %d and %d", MinMaxTokens, MaxMaxTokens))
	max := o.WithDefaults().MaxTokens
	f.Check(o.Overlap > max/2, "overlap", "must be at most half of max_tokens")
	f.Check(len(o.Separators) > maxSeparators, "separators", fmt.Sprintf("must be at most %d", maxSeparators))
	for _, s := range o.Separators {
		f.Check(s == "" || len(s) > 16, "separators", "must each be 1 to 16 bytes")
	}
	return f.Err()
}

// Chunk is a piece of a document, as indexed and as found by search.
type Chunk struct {
	// Position is the chunk's index in its document, from 0.
	Position int `json:"position"`
	// Text is the source text from Start to End.
	Text string `json:"text"`
	// HeadingPath holds the Markdown headings the chunk sits under,
	// outermost first; empty before the first heading and for plain text.
	HeadingPath []string `json:"heading_path"`
	// Start and End are offsets into the document text in characters
	// (Unicode code points), End exclusive.
	Start int `json:"start"`
	End   int `json:"end"`
	// Tokens is the length of Text in cl100k_base tokens.
	Tokens int `json:"tokens"`
}

// Chunker splits documents into chunks of a bounded number of tokens,
// following their structure: Markdown headings first (a chunk never spans
// two sections), then the separators. It is safe for concurrent use.
type Chunker struct {
	enc *tiktoken.Tiktoken
}

// NewChunker returns a chunker counting tokens with enc, the cl100k_base
// encoding (ai.CL100K); nil builds one, which takes about 0.2 s.
func NewChunker(enc *tiktoken.Tiktoken) (*Chunker, error) {
	if enc == nil {
		var err error
		if enc, err = ai.CL100K(); err != nil {
			return nil, fmt.Errorf("new chunker: %w", err)
		}
	}
	return &Chunker{enc: enc}, nil
}

// Tokenizer is the chunker's cl100k_base encoding, to share with
// ai.OpenAIConfig.Tokenizer.
func (c *Chunker) Tokenizer() *tiktoken.Tiktoken { return c.enc }

// CountTokens returns the number of cl100k_base tokens in s.
func (c *Chunker) CountTokens(s string) int { return len(c.enc.EncodeOrdinary(s)) }

// Chunk splits text. Chunks come in document order; chunks of one section
// overlap by up to opts.Overlap tokens, starting at the strongest separator
// available. Whitespace-only text gives no chunk.
func (c *Chunker) Chunk(text string, opts ChunkOptions) ([]Chunk, error) {
	if err := opts.Check(); err != nil {
		return nil, err
	}
	opts = opts.WithDefaults()
	conv := &runeCursor{text: text}
	var out []Chunk
	for _, sec := range sections(text) {
		spans, err := c.splitSection(text, sec, opts)
		if err != nil {
			return nil, err
		}
		for _, sp := range spans {
			out = append(out, Chunk{
				Position: len(out), Text: text[sp.start:sp.end], HeadingPath: sec.path,
				Start: conv.at(sp.start), End: conv.at(sp.end), Tokens: sp.tokens,
			})
		}
	}
	return out, nil
}

// span is a byte range of the text with its token count.
type span struct{ start, end, tokens int }

// splitSection packs a section's text into spans of at most MaxTokens.
func (c *Chunker) splitSection(text string, sec section, opts ChunkOptions) ([]span, error) {
	toks, err := c.tokenize(text, sec.start, sec.end)
	if err != nil {
		return nil, err
	}
	cuts := boundaries(text, sec.start, sec.end, opts.Separators)
	var out []span
	pos := skipSpace(text, sec.start, sec.end)
	for pos < sec.end {
		cut := c.cutAfter(text, pos, sec.end, toks, cuts, opts.MaxTokens)
		sp, shrunk := c.trimmed(text, pos, cut, opts.MaxTokens)
		if sp.end > sp.start {
			out = append(out, sp)
		}
		if shrunk {
			cut = sp.end
		}
		if cut >= sec.end {
			break
		}
		pos = skipSpace(text, overlapStart(pos, cut, toks, cuts, opts.Overlap), sec.end)
	}
	return out, nil
}

// trimmed is [start, end) without surrounding whitespace, counted exactly.
// In the rare case where the exact count exceeds max (tokens merge
// differently at the edges), the end moves back and shrunk is set.
func (c *Chunker) trimmed(text string, start, end, max int) (sp span, shrunk bool) {
	for {
		s, e := start, end
		for s < e && isSpaceAt(text, s) {
			_, n := utf8.DecodeRuneInString(text[s:])
			s += n
		}
		e = s + len(strings.TrimRightFunc(text[s:e], unicode.IsSpace))
		n := c.CountTokens(text[s:e])
		if n <= max || e-s <= 1 {
			return span{s, e, n}, shrunk
		}
		shrunk = true
		toks := c.enc.EncodeOrdinary(text[s:e])
		end = s + len(c.enc.Decode(toks[:max]))
		end = snapRune(text, end, s)
	}
}

// tokenOffsets holds the byte offset of each token of a section.
type tokenOffsets []int

// index is the number of tokens starting before byte offset b.
func (t tokenOffsets) index(b int) int { return sort.SearchInts(t, b) }

// tokenize encodes text[start:end] and returns where each token starts.
func (c *Chunker) tokenize(text string, start, end int) (tokenOffsets, error) {
	toks := c.enc.EncodeOrdinary(text[start:end])
	offs := make(tokenOffsets, len(toks))
	pos := start
	for i, tk := range toks {
		offs[i] = pos
		pos += len(c.enc.Decode([]int{tk}))
	}
	if pos != end {
		return nil, fmt.Errorf("chunk: tokens cover %d of %d bytes", pos-start, end-start)
	}
	return offs, nil
}

// cutAfter picks where a chunk starting at pos ends: the end of the section
// if it fits, else the strongest separator that leaves the chunk at least
// half full (the latest of equals), else any separator, else a token
// boundary.
func (c *Chunker) cutAfter(text string, pos, end int, toks tokenOffsets, cuts []cut, max int) int {
	first := toks.index(pos)
	if first+max >= len(toks) {
		return end
	}
	limit := toks[first+max]
	half := toks[first+max/2]
	if b, ok := strongest(cuts, half, limit, true); ok {
		return b
	}
	if b, ok := strongest(cuts, pos+1, limit, true); ok {
		return b
	}
	return snapRune(text, limit, pos)
}

// overlapStart is where the chunk after [pos, cut) starts: the strongest
// separator at most overlap tokens before cut (the earliest of equals),
// else exactly overlap tokens back; always after pos.
func overlapStart(pos, cut int, toks tokenOffsets, cuts []cut, overlap int) int {
	if overlap == 0 {
		return cut
	}
	i := max(toks.index(cut)-overlap, toks.index(pos)+1)
	if i >= len(toks) || toks[i] >= cut {
		return cut
	}
	from := toks[i]
	if b, ok := strongest(cuts, from, cut-1, false); ok {
		return b
	}
	return from
}

// cut is a place a chunk may end, with the index of the separator that
// makes it (lower is stronger).
type cut struct{ at, level int }

// boundaries finds every separator occurrence in text[start:end]. A cut
// falls after a separator's visible part and before its whitespace, so
// the whitespace starts the next piece as tokenizers expect.
func boundaries(text string, start, end int, seps []string) []cut {
	level := map[int]int{}
	for li, sep := range seps {
		keep := len(strings.TrimRightFunc(sep, unicode.IsSpace))
		for i := start; i < end; {
			j := strings.Index(text[i:end], sep)
			if j < 0 {
				break
			}
			at := i + j + keep
			if at > start && at < end {
				if l, ok := level[at]; !ok || li < l {
					level[at] = li
				}
			}
			i += j + len(sep)
		}
	}
	out := make([]cut, 0, len(level))
	for at, l := range level {
		out = append(out, cut{at, l})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].at < out[j].at })
	return out
}

// strongest returns the cut in [from, to] of the lowest level, the latest
// of equals when latest is set, else the earliest.
func strongest(cuts []cut, from, to int, latest bool) (int, bool) {
	i := sort.Search(len(cuts), func(i int) bool { return cuts[i].at >= from })
	best := -1
	for ; i < len(cuts) && cuts[i].at <= to; i++ {
		if best < 0 || cuts[i].level < cuts[best].level || (latest && cuts[i].level == cuts[best].level) {
			best = i
		}
	}
	if best < 0 {
		return 0, false
	}
	return cuts[best].at, true
}

func isSpaceAt(text string, i int) bool {
	r, _ := utf8.DecodeRuneInString(text[i:])
	return unicode.IsSpace(r)
}

func skipSpace(text string, i, end int) int {
	for i < end && isSpaceAt(text, i) {
		_, n := utf8.DecodeRuneInString(text[i:])
		i += n
	}
	return i
}

// snapRune moves b back to the start of a UTF-8 character (tokens may end
// inside one), or forward when that would reach floor.
func snapRune(text string, b, floor int) int {
	s := b
	for s > floor && s < len(text) && !utf8.RuneStart(text[s]) {
		s--
	}
	if s > floor {
		return s
	}
	for b < len(text) && !utf8.RuneStart(text[b]) {
		b++
	}
	return b
}

// runeCursor converts byte offsets to character offsets, cheaply for
// offsets that move little between calls.
type runeCursor struct {
	text        string
	byte, runes int
}

func (r *runeCursor) at(b int) int {
	if b >= r.byte {
		r.runes += utf8.RuneCountInString(r.text[r.byte:b])
	} else {
		r.runes -= utf8.RuneCountInString(r.text[b:r.byte])
	}
	r.byte = b
	return r.runes
}
