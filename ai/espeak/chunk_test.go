package espeak

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestSplitText(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		limit int
		want  []string
	}{
		{"empty", "  \n\t ", 100, nil},
		{"fits", "One. Two!", 100, []string{"One. Two!"}},
		{"packs sentences", "Aa bb. Cc dd? Ee ff! Gg hh.", 14,
			[]string{"Aa bb. Cc dd?", "Ee ff! Gg hh."}},
		{"line breaks end sentences", "Title\nBody text here", 12, []string{"Title", "Body text", "here"}},
		{"decimal point is not an end", "Pi is 3.14 today. Yes.", 18, []string{"Pi is 3.14 today.", "Yes."}},
		{"long sentence at spaces", "alpha beta gamma delta", 11, []string{"alpha beta", "gamma delta"}},
		{"long word cut", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"runes not bytes", "ééé. ààà.", 4, []string{"ééé.", "ààà."}},
		{"cjk stops", "你好。再见。", 3, []string{"你好。", "再见。"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := splitText(tc.text, tc.limit)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("splitText(%q, %d) mismatch (-want +got):\n%s", tc.text, tc.limit, diff)
			}
		})
	}
}

func TestSplitTextKeepsEveryWord(t *testing.T) {
	text := strings.Repeat("The quick brown fox jumps over the lazy dog. Does it? ", 200)
	chunks := splitText(text, 300)
	if len(chunks) < 30 {
		t.Fatalf("got %d chunks, want at least 30", len(chunks))
	}
	for i, c := range chunks {
		if n := utf8.RuneCountInString(c); n > 300 {
			t.Errorf("chunk %d has %d runes, over the limit", i, n)
		}
		if !strings.HasSuffix(c, ".") && !strings.HasSuffix(c, "?") {
			t.Errorf("chunk %d does not end at a sentence: %q", i, c[len(c)-20:])
		}
	}
	if got, want := strings.Fields(strings.Join(chunks, " ")), strings.Fields(text); !cmp.Equal(got, want) {
		t.Errorf("words changed by splitting: got %d words, want %d", len(got), len(want))
	}
}
