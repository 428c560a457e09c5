package seo

import (
	"regexp"
	"strings"
	"unicode"
)

// words splits plain text into words: runs of letters and digits, with
// inner apostrophes, hyphens and dots kept ("don't", "e-mail", "3.5",
// "e.g").
func words(text string) []string {
	var out []string
	var b strings.Builder
	runes := []rune(text)
	for i, r := range runes {
		inner := (r == '\'' || r == '’' || r == '-' || r == '.') && b.Len() > 0 && i+1 < len(runes) && isWordRune(runes[i+1])
		if isWordRune(r) || inner {
			b.WriteRune(r)
			continue
		}
		if b.Len() > 0 {
			out = append(out, b.String())
			b.Reset()
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// sentenceEnd ends a sentence: terminal punctuation, then space or the end.
var sentenceEnd = regexp.MustCompile(`[.!?…]+["'”’)\]]*(\s+|$)`)

// abbreviations do not end a sentence.
var abbreviations = map[string]bool{"e.g": true, "i.e": true, "mr": true, "mrs": true, "ms": true, "dr": true,
	"vs": true, "etc": true, "prof": true, "inc": true, "st": true, "no": true, "fig": true, "approx": true}

// sentences splits a paragraph into sentences; a paragraph without
// terminal punctuation (a list item, say) is one sentence.
func sentences(para string) []string {
	var out []string
	start := 0
	for _, loc := range sentenceEnd.FindAllStringIndex(para, -1) {
		candidate := para[start:loc[1]]
		if endsWithAbbreviation(para[start:loc[0]]) || startsLower(para[loc[1]:]) {
			continue
		}
		if len(words(candidate)) > 0 {
			out = append(out, strings.TrimSpace(candidate))
		}
		start = loc[1]
	}
	if rest := strings.TrimSpace(para[start:]); len(words(rest)) > 0 {
		out = append(out, rest)
	}
	return out
}

func endsWithAbbreviation(s string) bool {
	f := strings.Fields(s)
	if len(f) == 0 {
		return false
	}
	last := strings.ToLower(strings.TrimRight(f[len(f)-1], "."))
	return abbreviations[last] || (len([]rune(last)) == 1 && unicode.IsLetter([]rune(last)[0]))
}

// startsLower reports whether the text after a full stop goes on in lower
// case, as after "approx." or a decimal mark: then no sentence ended.
func startsLower(rest string) bool {
	for _, r := range rest {
		return unicode.IsLower(r)
	}
	return false
}

// syllables estimates the syllables of an English word: groups of vowels,
// less a silent final e, at least one.
func syllables(word string) int {
	w := strings.ToLower(word)
	if len(w) <= 3 {
		return 1
	}
	count, prevVowel := 0, false
	for _, r := range w {
		vowel := strings.ContainsRune("aeiouy", r)
		if vowel && !prevVowel {
			count++
		}
		prevVowel = vowel
	}
	if strings.HasSuffix(w, "e") && !strings.HasSuffix(w, "le") && !strings.HasSuffix(w, "ee") && count > 1 {
		count--
	}
	if strings.HasSuffix(w, "ed") && !strings.HasSuffix(w, "ted") && !strings.HasSuffix(w, "ded") && count > 1 {
		count--
	}
	return max(count, 1)
}

// fleschReadingEase is Flesch's score of English text (higher is easier;
// 60-70 is plain English).
func fleschReadingEase(nWords, nSentences, nSyllables int) float64 {
	if nWords == 0 || nSentences == 0 {
		return 0
	}
	return 206.835 - 1.015*float64(nWords)/float64(nSentences) - 84.6*float64(nSyllables)/float64(nWords)
}

// normalize lowercases text and keeps only its words, space-separated,
// for phrase matching.
func normalize(text string) string {
	return " " + strings.ToLower(strings.Join(words(text), " ")) + " "
}

// countPhrase counts the occurrences of phrase in text, as whole words,
// case-insensitively.
func countPhrase(text, phrase string) int {
	p := strings.TrimSpace(normalize(phrase))
	if p == "" {
		return 0
	}
	t, n := normalize(text), 0
	for i := 0; ; {
		j := strings.Index(t[i:], " "+p+" ")
		if j < 0 {
			return n
		}
		n++
		i += j + len(p) + 1 // the space after a match starts the next
	}
}
