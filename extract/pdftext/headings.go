package pdftext

import (
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Heading thresholds.
const (
	headingRatio    = 1.15 // a heading's size over the body size, at least
	headingMinDelta = 1.0  // ... and points over the body size, at least
	headingMaxLines = 3    // a heading is a short paragraph
	headingMaxRunes = 200
	boldHeadingMax  = 80  // the longest bold body-size line taken for a heading
	levelTolerance  = 0.6 // sizes this close (points) share a heading level
	maxLevel        = 3
)

// bodySize returns the font size that most characters of the lines have,
// rounded to half a point.
func bodySize(lines []line) float64 {
	sizes := map[float64]int{}
	for _, l := range lines {
		sizes[math.Round(l.size*2)/2] += l.chars
	}
	return modeSize(sizes)
}

// markHeadings sets the heading level of paragraphs. A short paragraph set
// larger than the body text is a heading; distinct larger sizes give levels
// 1, 2 and 3 from the largest down. A short line entirely in bold at about
// the body size is a heading one level below the size-based ones.
func markHeadings(ps []para, body float64) {
	var sizes []float64
	for i := range ps {
		if isLargeHeading(&ps[i], body) {
			sizes = append(sizes, ps[i].size())
		}
	}
	levels := headingLevels(sizes)
	boldLevel := min(len(distinctLevels(levels))+1, maxLevel)
	for i := range ps {
		switch {
		case isLargeHeading(&ps[i], body):
			ps[i].level = levels[ps[i].size()]
		case isBoldHeading(ps, i, body):
			ps[i].level = boldLevel
		}
	}
}

// isLargeHeading reports whether p is short and set larger than body.
func isLargeHeading(p *para, body float64) bool {
	s := p.size()
	return s >= body*headingRatio && s-body >= headingMinDelta && shortHeading(p.lines, p.text, headingMaxRunes)
}

// isBoldHeading reports whether paragraph i is one short bold line at about
// the body size, followed by a paragraph that is not bold and starts a
// sentence. A list item, a line ending with punctuation or a hyphen, and
// an entry of a table of contents do not count.
func isBoldHeading(ps []para, i int, body float64) bool {
	p := &ps[i]
	if !p.bold() || len(p.lines) != 1 || p.size() < 0.85*body || p.size() > body*headingRatio {
		return false
	}
	if !shortHeading(p.lines, p.text, boldHeadingMax) || strings.ContainsRune(".,;:-", lastRune(p.text)) || startsItem(p.text) {
		return false
	}
	if i+1 >= len(ps) {
		return false
	}
	next := &ps[i+1]
	first, _ := utf8.DecodeRuneInString(next.text)
	return !next.bold() && next.level == 0 && !unicode.IsLower(first) && !isTOCEntry(next.lines[0].text)
}

// shortHeading reports whether lines with text are short enough for a
// heading and hold a word: two letters in a row, so that the labels of a
// figure ("P", "s2", "α β") are not taken for headings.
func shortHeading(lines []line, text string, maxRunes int) bool {
	return len(lines) <= headingMaxLines && utf8.RuneCountInString(text) <= maxRunes && hasWord(text)
}

// hasWord reports whether text has two letters in a row.
func hasWord(text string) bool {
	prev := false
	for _, r := range text {
		letter := unicode.IsLetter(r) && !unicode.Is(unicode.Lm, r)
		if letter && prev {
			return true
		}
		prev = letter
	}
	return false
}

// lastRune returns the last rune of s, or 0.
func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(strings.TrimSpace(s))
	return r
}

// headingLevels maps heading sizes to levels: sizes within levelTolerance
// of the next larger one share its level; the largest is level 1 and
// levels stop at maxLevel.
func headingLevels(sizes []float64) map[float64]int {
	sorted := append([]float64(nil), sizes...)
	sort.Sort(sort.Reverse(sort.Float64Slice(sorted)))
	levels := map[float64]int{}
	level := 0
	for i, s := range sorted {
		if i == 0 || sorted[i-1]-s > levelTolerance {
			level = min(level+1, maxLevel)
		}
		levels[s] = level
	}
	return levels
}

// distinctLevels returns the set of levels in use.
func distinctLevels(levels map[float64]int) map[int]bool {
	out := map[int]bool{}
	for _, l := range levels {
		out[l] = true
	}
	return out
}
