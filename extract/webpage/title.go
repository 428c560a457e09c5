package webpage

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/net/html"
)

// titleSepRe finds a separator between a title and a site name or section.
var titleSepRe = regexp.MustCompile(` [|\-–—\\/>»] `)

// titleHierSepRe finds separators that mark a hierarchy (Site > Section).
var titleHierSepRe = regexp.MustCompile(` [\\/>»] `)

// titleFirstPartRe matches a title's first part up to its first separator.
var titleFirstPartRe = regexp.MustCompile(`^[^|\-–—\\/>»]*[|\-–—\\/>»]`)

// titleSepCharsRe matches runs of separator characters.
var titleSepCharsRe = regexp.MustCompile(`[|\-–—\\/>»]+`)

// documentTitle is the text of the page's <title> (not an SVG one).
func documentTitle(doc *goquery.Document) string {
	title := ""
	doc.Find("title").EachWithBreak(func(_ int, s *goquery.Selection) bool {
		if s.Nodes[0].Namespace != "" {
			return true
		}
		title = strings.TrimSpace(s.Text())
		return false
	})
	return title
}

// cleanTitle derives the article title from <title>, dropping a site name
// or section joined by a separator (" | Site", "Site - ") or a colon when
// what is left is still a real title, readability-style.
func cleanTitle(doc *goquery.Document) string {
	orig := documentTitle(doc)
	cur := orig
	hierarchical := false
	switch {
	case titleSepRe.MatchString(orig):
		hierarchical = titleHierSepRe.MatchString(orig)
		cur = withoutLastPart(orig)
	case strings.Contains(orig, ": "):
		cur = withoutColonPrefix(doc, orig)
	case utf8.RuneCountInString(orig) > 150 || utf8.RuneCountInString(orig) < 15:
		if h1s := doc.Find("h1"); h1s.Length() == 1 {
			cur = h1s.Text()
		}
	}
	cur = collapseSpace(cur)
	words := wordCount(cur)
	if words <= 4 && (!hierarchical || words != wordCount(titleSepCharsRe.ReplaceAllString(orig, ""))-1) {
		return collapseSpace(orig)
	}
	return cur
}

// withoutLastPart drops the part after the last separator, or the first
// part when that leaves fewer than three words.
func withoutLastPart(title string) string {
	seps := titleSepRe.FindAllStringIndex(title, -1)
	cur := title[:seps[len(seps)-1][0]]
	if wordCount(cur) < 3 {
		cur = titleFirstPartRe.ReplaceAllString(title, "")
	}
	return cur
}

// withoutColonPrefix handles "Section: Title": unless a heading repeats the
// whole title, keep the part after the colon when it is long enough.
func withoutColonPrefix(doc *goquery.Document, title string) string {
	matched := false
	doc.Find("h1, h2").EachWithBreak(func(_ int, s *goquery.Selection) bool {
		matched = strings.TrimSpace(s.Text()) == title
		return !matched
	})
	if matched {
		return title
	}
	cur := title[strings.LastIndex(title, ":")+1:]
	if wordCount(cur) < 3 {
		return title[strings.Index(title, ":")+1:]
	}
	if wordCount(title[:strings.Index(title, ":")]) > 5 {
		return title
	}
	return cur
}

// wordCount counts whitespace-separated words, at least one.
func wordCount(s string) int {
	return max(1, len(strings.Fields(s)))
}

// similarityTokens splits s into lower-case letter/digit words.
func similarityTokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// textSimilarity says how much of b is already in a: 1 when every word of
// b occurs in a, 0 when none does, weighted by word length.
func textSimilarity(a, b string) float64 {
	ta, tb := similarityTokens(a), similarityTokens(b)
	if len(ta) == 0 || len(tb) == 0 {
		return 0
	}
	inA := make(map[string]bool, len(ta))
	for _, t := range ta {
		inA[t] = true
	}
	var uniq []string
	for _, t := range tb {
		if !inA[t] {
			uniq = append(uniq, t)
		}
	}
	distance := float64(len(strings.Join(uniq, " "))) / float64(len(strings.Join(tb, " ")))
	return 1 - distance
}

// headerDuplicatesTitle reports whether n is an h1/h2 repeating the title.
func headerDuplicatesTitle(n *html.Node, title string) bool {
	if tag := tagName(n); tag != "h1" && tag != "h2" {
		return false
	}
	return textSimilarity(title, innerText(n)) > 0.75
}
