package pdftext

import (
	"math"
	"strings"
	"unicode"
)

// char is a glyph turned upright: it runs left to right from x0 to x1 on a
// horizontal baseline y.
type char struct {
	s      string
	x0, x1 float64
	y      float64
	size   float64
	bold   bool
	space  bool // whitespace: it separates words and is not drawn
}

// uprightChars turns a page's glyphs so that its main writing direction
// runs left to right, normalises their text, and drops control characters
// and glyphs overprinted at the same spot (fake bold, shadows).
func uprightChars(gs []glyph) []char {
	turns := mainDirection(gs)
	out := make([]char, 0, len(gs))
	for _, g := range gs {
		s := normalizeGlyphText(g.s)
		if s == "" {
			continue
		}
		x0, y := rotate(g.x, g.y, turns)
		x1, _ := rotate(g.ex, g.ey, turns)
		if x1 < x0 {
			x0, x1 = x1, x0
		}
		c := char{s: s, x0: x0, x1: x1, y: y, size: g.size, bold: g.bold, space: strings.TrimSpace(s) == ""}
		if c.space {
			c.s = " "
		}
		if !overprinted(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// mainDirection returns the writing direction most glyphs of a page share.
func mainDirection(gs []glyph) int {
	var n [4]int
	for _, g := range gs {
		n[g.dir]++
	}
	best := 0
	for d := 1; d < 4; d++ {
		if n[d] > n[best] {
			best = d
		}
	}
	return best
}

// rotate turns the point (x, y) clockwise by the given quarter turns, so
// that text written in that direction comes out left to right.
func rotate(x, y float64, turns int) (float64, float64) {
	switch turns {
	case 1:
		return y, -x
	case 2:
		return -x, -y
	case 3:
		return -y, x
	}
	return x, y
}

// overprinted reports whether c repeats one of the last few characters at
// (nearly) the same place, as producers do to fake bold type.
func overprinted(prev []char, c char) bool {
	tol := c.size * 0.1
	for i := len(prev) - 1; i >= 0 && i >= len(prev)-8; i-- {
		p := prev[i]
		if p.s == c.s && !c.space && math.Abs(p.x0-c.x0) < tol && math.Abs(p.y-c.y) < tol {
			return true
		}
	}
	return false
}

// ligatures maps the Unicode ligature characters to the letters they join.
var ligatures = strings.NewReplacer(
	"\ufb00", "ff", "\ufb01", "fi", "\ufb02", "fl", "\ufb03", "ffi",
	"\ufb04", "ffl", "\ufb05", "st", "\ufb06", "st",
)

// normalizeGlyphText expands ligatures, turns every kind of space into a
// plain space and drops control and replacement characters.
func normalizeGlyphText(s string) string {
	s = ligatures.Replace(s)
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\u00a0' || unicode.Is(unicode.Zs, r):
			return ' '
		case r == unicode.ReplacementChar:
			return -1
		case unicode.IsControl(r) || r == '\ufeff' || r == '\u200b':
			return -1
		}
		return r
	}, s)
}
