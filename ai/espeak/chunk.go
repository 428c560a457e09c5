package espeak

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// splitText cuts text into chunks of at most limit runes, cutting at
// sentence ends where it can, else at spaces, else inside a word. Sentences
// are packed greedily, so a chunk holds as many whole sentences as fit.
// Whitespace-only text gives no chunks.
func splitText(text string, limit int) []string {
	var chunks []string
	var cur strings.Builder
	curLen := 0
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			chunks = append(chunks, s)
		}
		cur.Reset()
		curLen = 0
	}
	for _, s := range sentences(text) {
		for _, piece := range splitLong(s, limit) {
			n := utf8.RuneCountInString(piece)
			if curLen > 0 && curLen+1+n > limit {
				flush()
			}
			if curLen > 0 {
				cur.WriteByte(' ')
				curLen++
			}
			cur.WriteString(piece)
			curLen += n
		}
	}
	flush()
	return chunks
}

// sentences splits text after sentence-ending punctuation that is followed
// by a space or the end, and at line breaks. The pieces are trimmed and
// empty ones dropped.
func sentences(text string) []string {
	var out []string
	start := 0
	runes := []rune(text)
	for i, r := range runes {
		end := r == '\n' || (isSentenceEnd(r) && (i+1 == len(runes) || unicode.IsSpace(runes[i+1])))
		if !end && !isWideSentenceEnd(r) {
			continue
		}
		if s := strings.TrimSpace(string(runes[start : i+1])); s != "" {
			out = append(out, s)
		}
		start = i + 1
	}
	if s := strings.TrimSpace(string(runes[start:])); s != "" {
		out = append(out, s)
	}
	return out
}

func isSentenceEnd(r rune) bool {
	return r == '.' || r == '!' || r == '?' || r == '…' || r == ';'
}

// isWideSentenceEnd reports the full-width stops of CJK text, which end a
// sentence without a following space.
func isWideSentenceEnd(r rune) bool {
	return r == '。' || r == '！' || r == '？'
}

// splitLong cuts a sentence longer than limit runes at the last space that
// keeps a piece within limit, or inside a word when there is none.
func splitLong(s string, limit int) []string {
	var out []string
	runes := []rune(s)
	for len(runes) > limit {
		cut := limit
		for i := limit; i > 0; i-- {
			if unicode.IsSpace(runes[i]) {
				cut = i
				break
			}
		}
		if p := strings.TrimSpace(string(runes[:cut])); p != "" {
			out = append(out, p)
		}
		runes = []rune(strings.TrimLeftFunc(string(runes[cut:]), unicode.IsSpace))
	}
	if p := strings.TrimSpace(string(runes)); p != "" {
		out = append(out, p)
	}
	return out
}
