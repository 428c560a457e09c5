package pdftext

import (
	"strings"
)

// assemble turns the lines of every page into a Document's text fields:
// running headers and footers go, lines join into paragraphs and headings
// are marked.
func assemble(pages [][]line) (text, markdown, firstHeading string) {
	var lines []line
	for _, ls := range dropFurniture(pages) {
		lines = append(lines, ls...)
	}
	ps := paragraphs(lines)
	markHeadings(ps, bodySize(lines))
	return plainText(ps), markdownText(ps), titleHeading(ps)
}

// plainText writes paragraphs separated by blank lines.
func plainText(ps []para) string {
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		if t := strings.TrimSpace(p.text); t != "" {
			parts = append(parts, t)
		}
	}
	return strings.Join(parts, "\n\n")
}

// markdownText writes paragraphs as Markdown: headings with #, ## and ###,
// bulleted items as "- " list items, other paragraphs as they are, with a
// leading character that Markdown would read as markup escaped.
func markdownText(ps []para) string {
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		t := strings.TrimSpace(p.text)
		switch {
		case t == "":
			continue
		case p.level > 0:
			t = strings.Repeat("#", p.level) + " " + t
		case isBullet(t):
			_, rest, _ := strings.Cut(t, " ")
			t = "- " + strings.TrimSpace(rest)
		default:
			t = escapeMarkdownStart(t)
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, "\n\n")
}

// isBullet reports whether text starts with a bullet character and a space.
func isBullet(text string) bool {
	for _, b := range []string{"• ", "◦ ", "▪ ", "‣ ", "∙ ", "● ", "○ ", "■ ", "□ ", "– "} {
		if strings.HasPrefix(text, b) {
			return true
		}
	}
	return false
}

// escapeMarkdownStart escapes a first character that would make a plain
// paragraph a Markdown heading, quote, list item or rule.
func escapeMarkdownStart(t string) string {
	if t == "" || !strings.ContainsRune("#>+-*=", rune(t[0])) {
		return t
	}
	return `\` + t
}

// titleHeading returns the text of the first heading of the highest level
// in use, the document's title when its metadata has none.
func titleHeading(ps []para) string {
	best := -1
	for i, p := range ps {
		if p.level > 0 && (best < 0 || p.level < ps[best].level) {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return strings.TrimSpace(ps[best].text)
}
