// Package textmetric scores an extracted text against a reference text with
// token-level precision, recall and F1, the figures Kiln's extraction
// quality reports print.
package textmetric

import (
	"strings"
	"unicode"
)

// Score is the token overlap of an extraction with its reference.
type Score struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
}

// Tokens splits text into lower-case words: runs of letters and digits.
// Punctuation and whitespace separate tokens and are dropped.
func Tokens(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r)
	})
}

// Compare scores got against want as multisets of tokens: a token counts
// as matched as many times as it occurs in both. Two empty texts score 1.
func Compare(got, want string) Score {
	g, w := Tokens(got), Tokens(want)
	if len(g) == 0 && len(w) == 0 {
		return Score{Precision: 1, Recall: 1, F1: 1}
	}
	counts := make(map[string]int, len(w))
	for _, t := range w {
		counts[t]++
	}
	matched := 0
	for _, t := range g {
		if counts[t] > 0 {
			counts[t]--
			matched++
		}
	}
	var s Score
	if len(g) > 0 {
		s.Precision = float64(matched) / float64(len(g))
	}
	if len(w) > 0 {
		s.Recall = float64(matched) / float64(len(w))
	}
	if s.Precision+s.Recall > 0 {
		s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
	}
	return s
}
