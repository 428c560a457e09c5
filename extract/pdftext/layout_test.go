package pdftext

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rowChars places text at (x, y) in size 10, each character 5 points wide.
func rowChars(x, y float64, text string) []char {
	var out []char
	for _, r := range text {
		out = append(out, char{s: string(r), x0: x, x1: x + 5, y: y, size: 10, space: r == ' '})
		x += 5
	}
	return out
}

// pageText lays out runs of characters and returns the lines' text.
func pageText(runs ...[]char) []string {
	var cs []char
	for _, r := range runs {
		cs = append(cs, r...)
	}
	var out []string
	for _, l := range pageLines(cs, 0) {
		out = append(out, l.text)
	}
	return out
}

func TestPageLinesReadingOrder(t *testing.T) {
	col := func(x float64, texts ...string) [][]char {
		var out [][]char
		for i, s := range texts {
			out = append(out, rowChars(x, 600-12*float64(i), s))
		}
		return out
	}
	flat := func(parts ...[][]char) [][]char {
		var out [][]char
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	left := col(72, "left one is a long line", "left two is a long line", "left three is long too")
	right := col(300, "right one is long as well", "right two is long as well", "right three long as well")
	cases := []struct {
		name string
		runs [][]char
		want []string
	}{
		{"single column keeps its lines in order",
			col(72, "first", "second", "third"), []string{"first", "second", "third"}},
		{"two columns are read one after the other",
			flat(left, right),
			[]string{"left one is a long line", "left two is a long line", "left three is long too",
				"right one is long as well", "right two is long as well", "right three long as well"}},
		{"stream order does not matter",
			flat(right, left),
			[]string{"left one is a long line", "left two is a long line", "left three is long too",
				"right one is long as well", "right two is long as well", "right three long as well"}},
		{"a title above two columns comes first",
			flat(left, right, [][]char{rowChars(150, 640, "The Title")}),
			[]string{"The Title", "left one is a long line", "left two is a long line", "left three is long too",
				"right one is long as well", "right two is long as well", "right three long as well"}},
		{"table cells are read row by row",
			flat(col(72, "Name", "Alice", "Bob"), col(200, "Age", "31", "42")),
			[]string{"Name Age", "Alice 31", "Bob 42"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if d := cmp.Diff(c.want, pageText(c.runs...)); d != "" {
				t.Errorf("lines (-want +got):\n%s", d)
			}
		})
	}
}

func TestSegmentsJoinScripts(t *testing.T) {
	base := rowChars(72, 600, "E = mc")
	sup := []char{{s: "2", x0: 102, x1: 105, y: 604, size: 7}}
	got := pageText(base, sup)
	if d := cmp.Diff([]string{"E = mc2"}, got); d != "" {
		t.Errorf("lines (-want +got):\n%s", d)
	}
}

func TestUprightChars(t *testing.T) {
	cases := []struct {
		name string
		dir  int
		// origin and advance end of the two glyphs "a", "b"
		pts  [2][4]float64
		want string
	}{
		{"left to right", 0, [2][4]float64{{10, 20, 15, 20}, {15, 20, 20, 20}}, "ab"},
		{"upwards", 1, [2][4]float64{{20, 10, 20, 15}, {20, 15, 20, 20}}, "ab"},
		{"downwards", 3, [2][4]float64{{20, 20, 20, 15}, {20, 15, 20, 10}}, "ab"},
		{"upside down", 2, [2][4]float64{{20, 20, 15, 20}, {15, 20, 10, 20}}, "ab"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gs := []glyph{
				{s: "a", x: c.pts[0][0], y: c.pts[0][1], ex: c.pts[0][2], ey: c.pts[0][3], size: 10, dir: c.dir},
				{s: "b", x: c.pts[1][0], y: c.pts[1][1], ex: c.pts[1][2], ey: c.pts[1][3], size: 10, dir: c.dir},
			}
			cs := uprightChars(gs)
			if got := spaceWords(cs); got != c.want {
				t.Errorf("text = %q, want %q", got, c.want)
			}
			if len(cs) == 2 && (cs[0].x1 < cs[0].x0 || math.Abs(cs[0].y-cs[1].y) > 0.01) {
				t.Errorf("characters not upright on one baseline: %+v", cs)
			}
		})
	}
}

func TestUprightCharsCleansText(t *testing.T) {
	gs := []glyph{
		{s: "\ufb01", x: 0, ex: 10, size: 10},
		{s: "\u00a0", x: 10, ex: 13, size: 10},
		{s: "\x01", x: 13, ex: 13, size: 10},
		{s: "x", x: 13, ex: 18, size: 10},
		{s: "x", x: 13.2, ex: 18.2, size: 10}, // overprinted: fake bold
	}
	if got := spaceWords(uprightChars(gs)); got != "fi x" {
		t.Errorf("text = %q, want %q", got, "fi x")
	}
}

func TestQuarterTurns(t *testing.T) {
	cases := []struct {
		dx, dy float64
		want   int
	}{{1, 0, 0}, {0, 1, 1}, {-1, 0, 2}, {0, -1, 3}, {1, 0.2, 0}, {-0.1, -1, 3}}
	for _, c := range cases {
		if got := quarterTurns(c.dx, c.dy); got != c.want {
			t.Errorf("quarterTurns(%v, %v) = %d, want %d", c.dx, c.dy, got, c.want)
		}
	}
}
