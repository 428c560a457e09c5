package rag

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"

	"github.com/kilnhq/kiln/internal/problem"
)

var (
	chunkerOnce sync.Once
	chunkerVal  *Chunker
	chunkerErr  error
)

// testChunker shares one chunker (its tokenizer takes 0.2 s to build)
// across the package's tests.
func testChunker(t testing.TB) *Chunker {
	t.Helper()
	chunkerOnce.Do(func() { chunkerVal, chunkerErr = NewChunker(nil) })
	if chunkerErr != nil {
		t.Fatal(chunkerErr)
	}
	return chunkerVal
}

// paragraphs makes n paragraphs of about words words each, numbered so
// every sentence is distinct.
func paragraphs(n, words int) string {
	var b strings.Builder
	for p := range n {
		if p > 0 {
			b.WriteString("\n\n")
		}
		for w := range words {
			if w > 0 {
				b.WriteString(" ")
			}
			b.WriteString([]string{"alpha", "beta", "gamma", "delta", "epsilon"}[(p+w)%5])
			if w%12 == 11 {
				b.WriteString(".")
			}
		}
		b.WriteString(".")
	}
	return b.String()
}

const markdownDoc = `Preface before any heading.

# Install

Download the binary.

## On Linux

Run the installer. It needs root.

` + "```sh\n# this is a comment, not a heading\nsudo ./install\n```" + `

## On macOS

Use Homebrew.

# Use

### Deep

Deep text.

# Trailing hashes ##

Closing text.
`

func TestChunkHeadingPaths(t *testing.T) {
	chunks, err := testChunker(t).Chunk(markdownDoc, ChunkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		Path  []string
		First string
	}
	var gots []got
	for _, c := range chunks {
		gots = append(gots, got{c.HeadingPath, strings.SplitN(c.Text, "\n", 2)[0]})
	}
	want := []got{
		{[]string{}, "Preface before any heading."},
		{[]string{"Install"}, "# Install"},
		{[]string{"Install", "On Linux"}, "## On Linux"},
		{[]string{"Install", "On macOS"}, "## On macOS"},
		{[]string{"Use"}, "# Use"},
		{[]string{"Use", "Deep"}, "### Deep"},
		{[]string{"Trailing hashes"}, "# Trailing hashes ##"},
	}
	if diff := cmp.Diff(want, gots); diff != "" {
		t.Fatalf("sections (-want +got):\n%s", diff)
	}
	if !strings.Contains(chunks[2].Text, "# this is a comment, not a heading") {
		t.Fatalf("the fenced code block was split off its section: %q", chunks[2].Text)
	}
	checkChunks(t, markdownDoc, chunks, ChunkOptions{}.WithDefaults())
}

func TestChunkInvariants(t *testing.T) {
	tests := []struct {
		name       string
		text       string
		opts       ChunkOptions
		wantChunks int // 0: any number above zero
	}{
		{"short text is one chunk", "Just one sentence.", ChunkOptions{}, 1},
		{"long prose", paragraphs(40, 120), ChunkOptions{}, 0},
		{"small chunks with overlap", paragraphs(10, 60), ChunkOptions{MaxTokens: 32, Overlap: 8}, 0},
		{"no overlap", paragraphs(10, 60), ChunkOptions{MaxTokens: 64, Overlap: -1}, 0},
		{"one long word", strings.Repeat("x", 20000), ChunkOptions{MaxTokens: 100}, 0},
		{"Czech with diacritics", strings.Repeat("Příliš žluťoučký kůň úpěl ďábelské ódy. ", 200), ChunkOptions{MaxTokens: 50}, 0},
		{"Chinese without spaces", strings.Repeat("海外留学生看两会，出国前后关注点大不同。", 100), ChunkOptions{MaxTokens: 40, Overlap: 10}, 0},
		{"emoji and mixed scripts", strings.Repeat("🚀 launch día 日本 ", 300), ChunkOptions{MaxTokens: 30}, 0},
		{"custom separators", strings.Repeat("field one|field two|field three|", 50), ChunkOptions{MaxTokens: 20, Separators: []string{"|"}}, 0},
		{"markdown", markdownDoc, ChunkOptions{MaxTokens: 16, Overlap: 4}, 0},
		{"empty", "", ChunkOptions{}, -1},
		{"whitespace only", " \n\n\t  \n", ChunkOptions{}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunks, err := testChunker(t).Chunk(tt.text, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.wantChunks < 0 && len(chunks) != 0:
				t.Fatalf("got %d chunks, want none", len(chunks))
			case tt.wantChunks > 0 && len(chunks) != tt.wantChunks:
				t.Fatalf("got %d chunks, want %d", len(chunks), tt.wantChunks)
			case tt.wantChunks == 0 && len(chunks) < 2:
				t.Fatalf("got %d chunks, want several", len(chunks))
			}
			checkChunks(t, tt.text, chunks, tt.opts.WithDefaults())
			again, _ := testChunker(t).Chunk(tt.text, tt.opts)
			if diff := cmp.Diff(chunks, again); diff != "" {
				t.Fatalf("chunking is not deterministic:\n%s", diff)
			}
		})
	}
}

// checkChunks verifies what every chunking must hold: offsets that cut the
// text out exactly, token counts that are exact and within the limit,
// positions in order, overlap within its budget, and every non-space
// character of the text in some chunk.
func checkChunks(t *testing.T, text string, chunks []Chunk, opts ChunkOptions) {
	t.Helper()
	runes := []rune(text)
	covered := make([]bool, len(runes))
	c := testChunker(t)
	for i, ch := range chunks {
		if ch.Position != i {
			t.Fatalf("chunk %d has position %d", i, ch.Position)
		}
		if got := string(runes[ch.Start:ch.End]); got != ch.Text {
			t.Fatalf("chunk %d: text[%d:%d] = %q, chunk text %q", i, ch.Start, ch.End, got, ch.Text)
		}
		if n := c.CountTokens(ch.Text); n != ch.Tokens || n > opts.MaxTokens || n == 0 {
			t.Fatalf("chunk %d: %d tokens, says %d, limit %d", i, n, ch.Tokens, opts.MaxTokens)
		}
		if strings.TrimSpace(ch.Text) != ch.Text {
			t.Fatalf("chunk %d has surrounding whitespace: %q", i, ch.Text)
		}
		for j := ch.Start; j < ch.End; j++ {
			covered[j] = true
		}
		if i > 0 && cmp.Equal(chunks[i-1].HeadingPath, ch.HeadingPath) && ch.Start < chunks[i-1].End {
			over := c.CountTokens(string(runes[ch.Start:chunks[i-1].End]))
			if opts.Overlap == 0 || over > opts.Overlap+1 {
				t.Fatalf("chunks %d and %d overlap by %d tokens, budget %d", i-1, i, over, opts.Overlap)
			}
		}
		if i > 0 && ch.Start <= chunks[i-1].Start {
			t.Fatalf("chunk %d starts at %d, not after chunk %d at %d", i, ch.Start, i-1, chunks[i-1].Start)
		}
	}
	for j, r := range runes {
		if !covered[j] && !unicode.IsSpace(r) {
			t.Fatalf("character %d (%q) is in no chunk", j, r)
		}
	}
}

func TestChunkPrefersStrongSeparators(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		opts  ChunkOptions
		endAt string // every chunk but the last ends right before this
	}{
		{"paragraphs", paragraphs(12, 70), ChunkOptions{MaxTokens: 200, Overlap: -1}, "\n\n"},
		{"sentences", strings.Repeat("This sentence has exactly eight short words. ", 60), ChunkOptions{MaxTokens: 50, Overlap: -1}, " This"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunks, err := testChunker(t).Chunk(tt.text, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			runes := []rune(tt.text)
			for i, ch := range chunks[:len(chunks)-1] {
				if rest := string(runes[ch.End:]); !strings.HasPrefix(rest, tt.endAt) {
					t.Fatalf("chunk %d ends before %q, not %q", i, rest[:min(20, len(rest))], tt.endAt)
				}
			}
			if len(chunks) < 3 {
				t.Fatalf("only %d chunks", len(chunks))
			}
		})
	}
}

func TestChunkOverlapStartsAtASentence(t *testing.T) {
	text := strings.Repeat("One two three four five six. ", 80)
	chunks, err := testChunker(t).Chunk(text, ChunkOptions{MaxTokens: 60, Overlap: 20})
	if err != nil {
		t.Fatal(err)
	}
	for i, ch := range chunks[1:] {
		if !strings.HasPrefix(ch.Text, "One two") {
			t.Fatalf("chunk %d starts mid-sentence: %q", i+1, ch.Text[:20])
		}
		if ch.Start >= chunks[i].End {
			t.Fatalf("chunk %d does not overlap the one before", i+1)
		}
	}
}

func TestChunkOptionsCheck(t *testing.T) {
	tests := []struct {
		name      string
		opts      ChunkOptions
		badFields []string
	}{
		{"defaults", ChunkOptions{}, nil},
		{"explicit", ChunkOptions{MaxTokens: 256, Overlap: 32, Separators: []string{"\n\n", " "}}, nil},
		{"too small", ChunkOptions{MaxTokens: 8}, []string{"max_tokens"}},
		{"too large", ChunkOptions{MaxTokens: 9000}, []string{"max_tokens"}},
		{"overlap too large", ChunkOptions{MaxTokens: 100, Overlap: 60}, []string{"overlap"}},
		{"no overlap", ChunkOptions{Overlap: -1}, nil},
		{"overlap above half the default", ChunkOptions{Overlap: 300}, []string{"overlap"}},
		{"empty separator", ChunkOptions{Separators: []string{"\n", ""}}, []string{"separators"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Check()
			if tt.badFields == nil {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			p, ok := problem.As(err)
			if !ok || p.Kind != problem.Invalid {
				t.Fatalf("Check() = %v, want a validation problem", err)
			}
			var fields []string
			for f := range p.Fields {
				fields = append(fields, f)
			}
			if diff := cmp.Diff(tt.badFields, fields); diff != "" {
				t.Fatalf("fields (-want +got):\n%s", diff)
			}
			if _, err := testChunker(t).Chunk("text", tt.opts); !errors.Is(err, p) {
				t.Fatalf("Chunk with bad options: err = %v", err)
			}
		})
	}
}
