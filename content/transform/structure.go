package transform

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/kilnhq/kiln/content/seo"
)

// StructureError says how a transformed body lost the structure of the
// original: it is empty, its headings do not hold the original's in
// order at the same levels, or link or image URLs are gone.
type StructureError struct {
	Empty bool
	// HeadingsBefore and HeadingsAfter are the heading levels, in order.
	HeadingsBefore, HeadingsAfter []int
	// LostHeadings is set when HeadingsBefore is not a subsequence of
	// HeadingsAfter (a heading was dropped, merged or changed level).
	LostHeadings bool
	// MissingURLs are link and image URLs of the original not in the new
	// body.
	MissingURLs []string
}

// Error says what was lost.
func (e *StructureError) Error() string {
	if e.Empty {
		return "the model's answer is empty"
	}
	var parts []string
	if e.LostHeadings {
		parts = append(parts, fmt.Sprintf("the headings went from %d (levels %s) to %d (levels %s)",
			len(e.HeadingsBefore), levels(e.HeadingsBefore), len(e.HeadingsAfter), levels(e.HeadingsAfter)))
	}
	if n := len(e.MissingURLs); n > 0 {
		shown := e.MissingURLs[:min(n, 5)]
		more := ""
		if n > len(shown) {
			more = fmt.Sprintf(" and %d more", n-len(shown))
		}
		parts = append(parts, fmt.Sprintf("%d link or image URLs are missing (%s%s)", n, strings.Join(shown, ", "), more))
	}
	return strings.Join(parts, "; ")
}

func levels(ls []int) string {
	if len(ls) == 0 {
		return "none"
	}
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = fmt.Sprintf("H%d", l)
	}
	return strings.Join(s, " ")
}

// CheckStructure checks that after, a transformation of before, kept its
// structure: every heading of before is still there, in order and at the
// same level (headings may be reworded, and new ones added), and every
// link and image URL of before is present. It returns nil or a
// *StructureError.
func CheckStructure(before, after string) error {
	if strings.TrimSpace(after) == "" {
		return &StructureError{Empty: true}
	}
	b, a := seo.Parse(before), seo.Parse(after)
	e := &StructureError{HeadingsBefore: b.HeadingLevels(), HeadingsAfter: a.HeadingLevels()}
	e.LostHeadings = !subsequence(e.HeadingsBefore, e.HeadingsAfter)
	have := map[string]bool{}
	for _, u := range urlsOf(a) {
		have[u] = true
	}
	for _, u := range urlsOf(b) {
		if !have[u] {
			e.MissingURLs = append(e.MissingURLs, u)
		}
	}
	if !e.LostHeadings && len(e.MissingURLs) == 0 {
		return nil
	}
	return e
}

// subsequence reports whether want appears in have in order, not
// necessarily next to each other.
func subsequence(want, have []int) bool {
	i := 0
	for _, h := range have {
		if i < len(want) && want[i] == h {
			i++
		}
	}
	return i == len(want)
}

// urlsOf lists a document's link and image URLs once each, in order.
func urlsOf(d seo.Document) []string {
	var out []string
	seen := map[string]bool{}
	add := func(u string) {
		u = strings.TrimSpace(u)
		if u != "" && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	for _, l := range d.Links {
		add(l.URL)
	}
	for _, img := range d.Images {
		add(img.URL)
	}
	return out
}

// wrapped is an answer the model put in a Markdown code fence.
var wrapped = regexp.MustCompile("(?s)^```(?:markdown|md)?[ \t]*\n(.*)\n```$")

// cleanAnswer trims the model's answer and unwraps a body it fenced as a
// whole (unless the original itself is one fenced block).
func cleanAnswer(answer, original string) string {
	answer = strings.TrimSpace(answer)
	if m := wrapped.FindStringSubmatch(answer); m != nil && !strings.HasPrefix(strings.TrimSpace(original), "```") {
		answer = strings.TrimSpace(m[1])
	}
	return answer
}
