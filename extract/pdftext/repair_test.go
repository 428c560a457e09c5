package pdftext

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJoinLines(t *testing.T) {
	cases := []struct {
		name, text, line, want string
	}{
		{"first line", "", "Hello", "Hello"},
		{"plain", "Hello", "world", "Hello world"},
		{"hyphenated word", "an exam-", "ple here", "an example here"},
		{"hyphen before a capital stays", "Jean-", "Paul", "Jean-Paul"},
		{"hyphen before a digit stays", "COVID-", "19", "COVID-19"},
		{"dash after a space is not a hyphen", "pages 3 -", "five", "pages 3 - five"},
		{"unicode hyphen", "exam\u2010", "ple", "example"},
		{"soft hyphen", "exam\u00ad", "Ple", "examPle"},
		{"trailing and leading spaces", "end  ", "  next", "end next"},
		{"CJK without spaces", "日本", "語です", "日本語です"},
		{"empty line", "text", "   ", "text"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := joinLines(c.text, c.line); got != c.want {
				t.Errorf("joinLines(%q, %q) = %q, want %q", c.text, c.line, got, c.want)
			}
		})
	}
}

// glyphs makes characters of size 10 from words placed with the given
// start positions, each character 5 points wide.
func glyphRow(starts []float64, words ...string) []char {
	var out []char
	for i, w := range words {
		x := starts[i]
		for _, r := range w {
			out = append(out, char{s: string(r), x0: x, x1: x + 5, y: 100, size: 10, space: r == ' '})
			x += 5
		}
	}
	return out
}

func TestSpaceWords(t *testing.T) {
	cases := []struct {
		name  string
		chars []char
		want  string
	}{
		{"touching glyphs are one word", glyphRow([]float64{0}, "word"), "word"},
		{"kerning is not a space", glyphRow([]float64{0, 10.5}, "wo", "rd"), "word"},
		{"gap over the threshold", glyphRow([]float64{0, 23}, "one", "two"), "one two"},
		{"gap under the threshold", glyphRow([]float64{0, 16}, "one", "two"), "onetwo"},
		{"explicit space", glyphRow([]float64{0}, "one two"), "one two"},
		{"several spaces collapse", glyphRow([]float64{0}, "a   b"), "a b"},
		{"leading and trailing spaces go", glyphRow([]float64{0}, " a "), "a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := spaceWords(c.chars); got != c.want {
				t.Errorf("spaceWords = %q, want %q", got, c.want)
			}
		})
	}
}

// ln makes a line of size 10 in col.
func ln(col *column, x0, x1, y float64, text string) line {
	return line{text: text, x0: x0, x1: x1, y: y, size: 10, col: col, chars: len(text)}
}

func TestParagraphs(t *testing.T) {
	col := &column{x0: 72, x1: 300}
	other := &column{x0: 320, x1: 548}
	cases := []struct {
		name  string
		lines []line
		want  []string
	}{
		{"lines of one paragraph join", []line{
			ln(col, 72, 300, 700, "one two three"), ln(col, 72, 300, 688, "four five six"), ln(col, 72, 200, 676, "seven")},
			[]string{"one two three four five six seven"}},
		{"extra vertical gap", []line{
			ln(col, 72, 300, 700, "first paragraph"), ln(col, 72, 300, 688, "goes on"), ln(col, 72, 300, 664, "second one")},
			[]string{"first paragraph goes on", "second one"}},
		{"first-line indent", []line{
			ln(col, 72, 300, 700, "first paragraph"), ln(col, 72, 300, 688, "ends here"),
			ln(col, 84, 300, 676, "indented start"), ln(col, 72, 300, 664, "of the second")},
			[]string{"first paragraph ends here", "indented start of the second"}},
		{"short line ending a sentence", []line{
			ln(col, 72, 300, 700, "a full line of text"), ln(col, 72, 150, 688, "ends early."), ln(col, 72, 300, 676, "Next paragraph")},
			[]string{"a full line of text ends early.", "Next paragraph"}},
		{"list items", []line{
			ln(col, 72, 300, 700, "Items:"), ln(col, 72, 300, 688, "• one"), ln(col, 72, 300, 676, "• two")},
			[]string{"Items:", "• one", "• two"}},
		{"size change", []line{
			{text: "Heading", x0: 72, x1: 150, y: 700, size: 14, col: col, chars: 7}, ln(col, 72, 300, 684, "body text")},
			[]string{"Heading", "body text"}},
		{"sentence continues in the next column", []line{
			ln(col, 72, 300, 100, "the sentence goes"), ln(other, 320, 548, 700, "on over there.")},
			[]string{"the sentence goes on over there."}},
		{"new paragraph in the next column", []line{
			ln(col, 72, 300, 100, "it ended."), ln(other, 320, 548, 700, "Another starts.")},
			[]string{"it ended.", "Another starts."}},
		{"table of contents entries", []line{
			ln(col, 72, 300, 700, "1 Intro . . . . . . 3"), ln(col, 72, 300, 688, "2 Methods . . . . . 17")},
			[]string{"1 Intro … 3", "2 Methods … 17"}},
		{"indented second line of a heading", []line{
			{text: "2 Manifolds and", x0: 72, x1: 200, y: 720, size: 20, col: col, chars: 14},
			{text: "Complexes", x0: 96, x1: 200, y: 696, size: 20, col: col, chars: 9},
			ln(col, 72, 300, 660, "body text of the chapter that is long enough to count"),
			ln(col, 72, 300, 648, "as the body of the document")},
			[]string{"2 Manifolds and Complexes", "body text of the chapter that is long enough to count as the body of the document"}},
		{"hyphenated across a page", []line{
			ln(col, 72, 300, 100, "a bro-"), {text: "ken word", x0: 72, x1: 300, y: 700, size: 10, col: col, page: 1, chars: 8}},
			[]string{"a broken word"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, p := range paragraphs(c.lines) {
				got = append(got, p.text)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("paragraphs (-want +got):\n%s", d)
			}
		})
	}
}

func TestHeadingLevels(t *testing.T) {
	cases := []struct {
		name  string
		sizes []float64
		want  map[float64]int
	}{
		{"none", nil, map[float64]int{}},
		{"one size", []float64{14, 14}, map[float64]int{14: 1}},
		{"largest first", []float64{12, 17.3, 14.4}, map[float64]int{17.3: 1, 14.4: 2, 12: 3}},
		{"close sizes share a level", []float64{14.4, 14.0, 12}, map[float64]int{14.4: 1, 14.0: 1, 12: 2}},
		{"levels stop at 3", []float64{30, 24, 20, 16, 13}, map[float64]int{30: 1, 24: 2, 20: 3, 16: 3, 13: 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if d := cmp.Diff(c.want, headingLevels(c.sizes)); d != "" {
				t.Errorf("headingLevels (-want +got):\n%s", d)
			}
		})
	}
}

func TestMarkHeadings(t *testing.T) {
	col := &column{x0: 72, x1: 540}
	mk := func(size float64, bold bool, texts ...string) para {
		var p para
		for _, s := range texts {
			p.lines = append(p.lines, line{text: s, size: size, bold: bold, col: col, chars: len(s)})
			p.text = joinLines(p.text, s)
		}
		return p
	}
	long := strings.Repeat("word ", 50)
	ps := []para{
		mk(20, true, "Title"),
		mk(14, true, "Section"),
		mk(10, false, "Body text.", "More body."),
		mk(10, true, "Bold lead"),
		mk(10, false, "Body after it."),
		mk(14, false, long, long, long, long),
		mk(10, true, "Bold sentence."),
		mk(10, false, "Body."),
		mk(16, false, "12"),
		mk(16, false, "P"),
		mk(16, false, "α β s2"),
	}
	markHeadings(ps, 10)
	var got []int
	for _, p := range ps {
		got = append(got, p.level)
	}
	want := []int{1, 2, 0, 3, 0, 0, 0, 0, 0, 0, 0}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("levels (-want +got):\n%s", d)
	}
}

// bodyText returns text for line i of page p, different on every line.
func bodyText(p, i int) string {
	return strings.Repeat("ab", p+1) + " body " + strings.Repeat("cd", i+1)
}

func TestDropFurniture(t *testing.T) {
	col := &column{x0: 72, x1: 540}
	page := func(n int, header, footer string) []line {
		ls := []line{}
		if header != "" {
			ls = append(ls, ln(col, 72, 300, 760, header))
		}
		for i := 0; i < 4; i++ {
			ls = append(ls, ln(col, 72, 540, float64(700-12*i), bodyText(n, i)))
		}
		if footer != "" {
			ls = append(ls, ln(col, 300, 310, 40, footer))
		}
		for i := range ls {
			ls[i].page = n
		}
		return ls
	}
	cases := []struct {
		name  string
		pages [][]line
		gone  []string
	}{
		{"page numbers", [][]line{page(0, "", "1"), page(1, "", "- 2 -")}, []string{"1", "- 2 -"}},
		{"roman and 'Page n of m'", [][]line{page(0, "", "iv"), page(1, "", "Page 2 of 9")}, []string{"iv", "Page 2 of 9"}},
		{"repeated header with changing numbers", [][]line{
			page(0, "Chapter 1 Intro", ""), page(1, "Chapter 1 Intro", ""), page(2, "Chapter 1 Intro", "")},
			[]string{"Chapter 1 Intro"}},
		{"header on half of a short document", [][]line{page(0, "Report 2024", ""), page(1, "Report 2025", "")}, []string{"Report 2024", "Report 2025"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kept := map[string]bool{}
			n := 0
			for _, ls := range dropFurniture(c.pages) {
				for _, l := range ls {
					kept[l.text] = true
					n++
				}
			}
			for _, g := range c.gone {
				if kept[g] {
					t.Errorf("kept %q", g)
				}
			}
			if n != 4*len(c.pages) {
				t.Errorf("kept %d lines, want the %d body lines", n, 4*len(c.pages))
			}
		})
	}
}

func TestDropFurnitureKeepsUniqueLines(t *testing.T) {
	col := &column{x0: 72, x1: 540}
	var pages [][]line
	for p, title := range []string{"Introduction", "Methods", "Results"} {
		ls := []line{ln(col, 72, 300, 760, title)}
		for i := 0; i < 4; i++ {
			ls = append(ls, ln(col, 72, 540, float64(700-12*i), bodyText(p, i)))
		}
		ls = append(ls, ln(col, 72, 300, 40, "A closing remark on page "+title))
		for i := range ls {
			ls[i].page = p
		}
		pages = append(pages, ls)
	}
	got := dropFurniture(pages)
	for i := range pages {
		if len(got[i]) != len(pages[i]) {
			t.Errorf("page %d: kept %d of %d lines", i, len(got[i]), len(pages[i]))
		}
	}
}

func TestDropFurnitureNumbers(t *testing.T) {
	col := &column{x0: 72, x1: 540}
	cases := []struct {
		name    string
		headers map[int]string // page index: top line
		pages   int
		gone    bool
	}{
		{"header with the page number", map[int]string{0: "3 Methods and Data", 1: "4 Methods and Data", 2: "5 Methods and Data"}, 3, true},
		{"chapter headings far apart", map[int]string{0: "Chapter 1", 5: "Chapter 2", 9: "Chapter 3"}, 10, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pages := make([][]line, c.pages)
			for p := range pages {
				var ls []line
				if h, ok := c.headers[p]; ok {
					ls = append(ls, ln(col, 72, 300, 760, h))
				}
				for i := 0; i < 5; i++ {
					ls = append(ls, ln(col, 72, 540, float64(700-12*i), bodyText(p, i)))
				}
				pages[p] = ls
			}
			kept := map[string]bool{}
			for _, ls := range dropFurniture(pages) {
				for _, l := range ls {
					kept[l.text] = true
				}
			}
			for _, h := range c.headers {
				if kept[h] == c.gone {
					t.Errorf("header %q kept = %v, want %v", h, kept[h], !c.gone)
				}
			}
		})
	}
}
