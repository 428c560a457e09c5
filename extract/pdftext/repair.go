package pdftext

import (
	"math"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// para is a paragraph (or heading) assembled from lines.
type para struct {
	lines []line
	text  string
	level int // heading level, 1 for the largest; 0 for body text
}

// size returns the font size most of the paragraph's characters have.
func (p *para) size() float64 {
	sizes := map[float64]int{}
	for _, l := range p.lines {
		sizes[l.size] += l.chars
	}
	return modeSize(sizes)
}

// bold reports whether most of the paragraph's characters are bold.
func (p *para) bold() bool {
	b, n := 0, 0
	for _, l := range p.lines {
		n += l.chars
		if l.bold {
			b += l.chars
		}
	}
	return n > 0 && b*2 > n
}

// Paragraph thresholds, in ems of the line's font size unless noted.
const (
	indentMin      = 0.7  // a first line indented this much starts a paragraph
	indentMax      = 6.0  // ... unless indented further (centred, tabular)
	atMargin       = 0.3  // a line starting this close to the column edge is flush
	extraGap       = 0.45 // baseline distance over the usual leading that starts a paragraph
	shortLineRatio = 0.65 // a line filling less of its column ends a paragraph if it ends a sentence
	sizeChange     = 0.1  // relative size change between lines that starts a paragraph
)

// layoutStats holds what paragraph breaking learns from the whole document.
type layoutStats struct {
	leading map[float64]float64 // usual baseline distance, by font size
	body    float64             // the size of the body text
}

// paragraphs joins lines in reading order into paragraphs.
func paragraphs(lines []line) []para {
	st := measure(lines)
	var out []para
	for i := range lines {
		var next *line
		if i+1 < len(lines) {
			next = &lines[i+1]
		}
		if len(out) == 0 || st.breaksBefore(out[len(out)-1], lines[i], next) {
			out = append(out, para{})
		}
		p := &out[len(out)-1]
		p.lines = append(p.lines, lines[i])
		p.text = joinLines(p.text, collapseLeaders(lines[i].text))
	}
	for i := range out {
		out[i].text = strings.ReplaceAll(out[i].text, "\u00ad", "")
	}
	return out
}

// measure finds the usual leading of each font size: the most common
// baseline distance between consecutive lines of that size in one column.
func measure(lines []line) layoutStats {
	counts := map[float64]map[float64]int{}
	for i := 1; i < len(lines); i++ {
		a, b := lines[i-1], lines[i]
		d := math.Round((a.y-b.y)*2) / 2
		if a.page != b.page || a.col != b.col || a.size != b.size || d < 0.9*a.size || d > 2.5*a.size {
			continue
		}
		if counts[a.size] == nil {
			counts[a.size] = map[float64]int{}
		}
		counts[a.size][d]++
	}
	st := layoutStats{leading: map[float64]float64{}, body: bodySize(lines)}
	for size, ds := range counts {
		st.leading[size] = modeDistance(ds)
	}
	return st
}

// modeDistance returns the most common distance; ties go to the smaller.
func modeDistance(ds map[float64]int) float64 {
	best, bestN := 0.0, 0
	for d, n := range ds {
		if n > bestN || n == bestN && d < best {
			best, bestN = d, n
		}
	}
	return best
}

// breaksBefore reports whether line cur starts a new paragraph after the
// paragraph p. next is the line after cur, or nil.
func (st layoutStats) breaksBefore(p para, cur line, next *line) bool {
	prev := p.lines[len(p.lines)-1]
	if flowBreak(prev, cur) {
		return !continues(p.text, prev, cur)
	}
	return sizeBreak(prev, cur) || prev.bold != cur.bold || st.gapBreak(prev, cur) ||
		st.isBody(cur) && indentBreak(prev, cur, next) || shortLineBreak(prev) || isTOCEntry(prev.text) ||
		startsItem(cur.text)
}

// isBody reports whether a line is set at about the body size: larger
// lines (headings) may be indented or centred without starting paragraphs.
func (st layoutStats) isBody(l line) bool {
	return l.size <= st.body*headingRatio
}

// flowBreak reports whether cur is on another page or column than prev, or
// above it: the text flow moved on, as from the foot of one column to the
// head of the next.
func flowBreak(prev, cur line) bool {
	return prev.page != cur.page || prev.col != cur.col || cur.y > prev.y+0.5*prev.size
}

// continues reports whether a paragraph ending with text (whose last line
// is prev) goes on with cur after a page or column break: it stops
// mid-sentence and cur carries on in lower case at the same size.
func continues(text string, prev, cur line) bool {
	r, _ := utf8.DecodeRuneInString(cur.text)
	return !endsSentence(text) && unicode.IsLower(r) && !sizeBreak(prev, cur) && prev.bold == cur.bold
}

// sizeBreak reports whether the font size changes between two lines.
func sizeBreak(prev, cur line) bool {
	return math.Abs(prev.size-cur.size) > sizeChange*math.Max(prev.size, cur.size)
}

// gapBreak reports whether the baseline distance from prev to cur is well
// over the usual leading of prev's size.
func (st layoutStats) gapBreak(prev, cur line) bool {
	lead, ok := st.leading[prev.size]
	if !ok {
		lead = 1.2 * prev.size
	}
	return prev.y-cur.y > lead+extraGap*prev.size
}

// indentBreak reports a first-line indent: cur starts indented while the
// lines before and after it are flush with the column edge.
func indentBreak(prev, cur line, next *line) bool {
	em, left := cur.size, cur.col.x0
	indented := cur.x0 > left+indentMin*em && cur.x0 < left+indentMax*em
	prevFlush := prev.x0 < left+atMargin*em
	nextFlush := next == nil || next.page != cur.page || next.col != cur.col || next.x0 < left+atMargin*em
	return indented && prevFlush && nextFlush
}

// shortLineBreak reports whether prev ends a sentence well before the
// right edge of its column, as the last line of a paragraph does.
func shortLineBreak(prev line) bool {
	width := prev.col.x1 - prev.col.x0
	return width > 0 && prev.x1-prev.col.x0 < shortLineRatio*width && endsSentence(prev.text)
}

// endsSentence reports whether text ends with sentence-final punctuation,
// possibly followed by closing quotes or brackets.
func endsSentence(text string) bool {
	t := strings.TrimRight(strings.TrimSpace(text), "\"'”’»)]")
	r, _ := utf8.DecodeLastRuneInString(t)
	return strings.ContainsRune(".!?:;。！？", r)
}

// tocEntry matches a line of a table of contents: a title, dot leaders and
// a page number.
var tocEntry = regexp.MustCompile(`^(.*?\S)\s*(?:\.\s?){3,}\s*(\d{1,5}|[ivxlc]{1,6})$`)

// isTOCEntry reports whether text is a table of contents entry, which is a
// paragraph of its own.
func isTOCEntry(text string) bool {
	return tocEntry.MatchString(text)
}

// collapseLeaders shortens the dot leaders of a table of contents entry to
// " … ".
func collapseLeaders(text string) string {
	return tocEntry.ReplaceAllString(text, "$1 … $2")
}

// itemStart matches the start of a list item: a bullet, or a number or
// letter with a dot or bracket, followed by a space.
var itemStart = regexp.MustCompile(`^(?:[•◦▪▫‣∙·●○■□–—*-]|\(?(?:\d{1,3}|[a-z]|[ivx]{1,4})[.)])\s`)

// startsItem reports whether text starts with a list item marker.
func startsItem(text string) bool {
	return itemStart.MatchString(text)
}

// joinLines appends line to text, repairing a word hyphenated across the
// line break: "exam-" + "ple" gives "example" when the next line starts in
// lower case; a hyphen before a capital or digit stays ("Jean-" + "Paul").
// Otherwise the lines are joined with a space (none between two CJK
// characters).
func joinLines(text, line string) string {
	line = strings.TrimSpace(line)
	text = strings.TrimRight(text, " ")
	if text == "" || line == "" {
		return text + line
	}
	last, n := utf8.DecodeLastRuneInString(text)
	first, _ := utf8.DecodeRuneInString(line)
	switch {
	case last == '\u00ad':
		return text[:len(text)-n] + line
	case last == '-' || last == '\u2010':
		before, _ := utf8.DecodeLastRuneInString(text[:len(text)-n])
		if unicode.IsLetter(before) && unicode.IsLower(first) {
			return text[:len(text)-n] + line
		}
		if unicode.IsLetter(before) {
			return text + line
		}
	case isCJK(last) && isCJK(first):
		return text + line
	}
	return text + " " + line
}

// isCJK reports whether r is written without spaces between words.
func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) ||
		r >= 0x3000 && r <= 0x303f
}
