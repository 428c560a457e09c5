package seo

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	md := strings.Join([]string{
		"# Title #",
		"",
		"Intro with a [link](https://a.example/1 \"t\") and <https://auto.example>.",
		"",
		"Setext two",
		"----------",
		"",
		"```go",
		"# not a heading",
		"[not a link](https://code.example)",
		"```",
		"",
		"- item with ![alt text](/img/1.png)",
		"- [![](/img/2.png)](https://wrapped.example)",
		"",
		"> quoted [ref link][r]",
		"",
		"[r]: https://ref.example/path",
		"[unused]: https://unused.example",
		"",
		"<p>HTML <a href=\"https://html.example/?a=1&amp;b=2\">anchor</a> <img src=\"/img/3.png\"></p>",
		"",
		"Setext one",
		"===",
		"",
		"###### six",
	}, "\n")
	d := Parse(md)
	wantHeadings := []Heading{{1, "Title"}, {2, "Setext two"}, {1, "Setext one"}, {6, "six"}}
	if diff := cmp.Diff(wantHeadings, d.Headings); diff != "" {
		t.Errorf("headings (-want +got):\n%s", diff)
	}
	wantLinks := []Link{{Text: "link", URL: "https://a.example/1"}, {Text: "https://auto.example", URL: "https://auto.example"},
		{Text: "", URL: "https://wrapped.example", Image: true}, {Text: "ref link", URL: "https://ref.example/path"},
		{Text: "anchor", URL: "https://html.example/?a=1&b=2"}, {Text: "unused", URL: "https://unused.example"}}
	if diff := cmp.Diff(wantLinks, d.Links); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
	wantImages := []Image{{"alt text", "/img/1.png"}, {"", "/img/2.png"}, {"", "/img/3.png"}}
	if diff := cmp.Diff(wantImages, d.Images); diff != "" {
		t.Errorf("images (-want +got):\n%s", diff)
	}
	// The item that is only a linked image has no text.
	wantParas := []string{"Intro with a link and https://auto.example.", "item with alt text", "quoted ref link", "HTML anchor"}
	if diff := cmp.Diff(wantParas, d.Paragraphs); diff != "" {
		t.Errorf("paragraphs (-want +got):\n%s", diff)
	}
}

func TestSentencesAndWords(t *testing.T) {
	cases := []struct {
		text      string
		sentences int
		words     int
	}{
		{"One. Two! Three?", 3, 3},
		{"Mr. Smith met Dr. Jones, e.g. at 3.5 p.m. yesterday. Then he left.", 2, 13},
		{"It costs approx. ten euros. Really.", 2, 6},
		{"No terminal punctuation here", 1, 4},
		{"Don't split e-mail or co-op words.", 1, 6},
		{"“Quoted.” Next one.", 2, 3},
	}
	for _, c := range cases {
		if got := len(sentences(c.text)); got != c.sentences {
			t.Errorf("sentences(%q) = %d %q, want %d", c.text, got, sentences(c.text), c.sentences)
		}
		if got := len(words(c.text)); got != c.words {
			t.Errorf("words(%q) = %d %q, want %d", c.text, got, words(c.text), c.words)
		}
	}
}

func TestSyllablesAndFlesch(t *testing.T) {
	for word, want := range map[string]int{"cat": 1, "make": 1, "simple": 2, "jumped": 1, "table": 2, "readability": 5, "banana": 3} {
		if got := syllables(word); got != want {
			t.Errorf("syllables(%q) = %d, want %d", word, got, want)
		}
	}
	// "The cat sat on the mat.": 6 words, 1 sentence, 6 syllables.
	if got := fleschReadingEase(6, 1, 6); math.Abs(got-116.145) > 0.001 {
		t.Errorf("Flesch of the cat sentence = %.3f, want 116.145", got)
	}
	if fleschReadingEase(0, 0, 0) != 0 {
		t.Error("Flesch of nothing is not 0")
	}
}

func TestCountPhrase(t *testing.T) {
	cases := []struct {
		text, phrase string
		want         int
	}{
		{"Sourdough bread. sourdough-bread? SOURDOUGH BREAD!", "sourdough bread", 2},
		{"bread breads breadth", "bread", 1},
		{"anything", "", 0},
	}
	for _, c := range cases {
		if got := countPhrase(c.text, c.phrase); got != c.want {
			t.Errorf("countPhrase(%q, %q) = %d, want %d", c.text, c.phrase, got, c.want)
		}
	}
}
