package webpage

import (
	"strconv"
	"strings"

	"golang.org/x/net/html"
)

// shareMaxText is the longest text a share bar may hold and still be removed.
const shareMaxText = 500

// prepArticle cleans the joined article: lazy images get a source; forms,
// embeds, asides, share bars and input controls go; headings, tables,
// lists and divs that look like furniture are removed; empty paragraphs
// and one-cell layout tables are undone.
func (g *grabber) prepArticle(article *html.Node) {
	g.markDataTables(article)
	fixLazyImages(article)
	g.cleanConditionally(article, "form")
	g.cleanConditionally(article, "fieldset")
	for _, tag := range []string{"object", "embed", "footer", "link", "aside"} {
		removeTag(article, tag)
	}
	for _, child := range elementChildren(article) {
		removeShareBars(child)
	}
	for _, tag := range []string{"iframe", "input", "textarea", "select", "button", "nav"} {
		removeTag(article, tag)
	}
	g.cleanHeaders(article)
	g.cleanConditionally(article, "table")
	g.cleanConditionally(article, "ul")
	g.cleanConditionally(article, "div")
	for _, h := range descendants(article, "h1") {
		setTag(h, "h2")
	}
	removeEmptyParagraphs(article)
	removeBrBeforeParagraph(article)
	unwrapSingleCellTables(article)
}

// removeTag removes every element named tag under root, keeping embeds of
// known video players.
func removeTag(root *html.Node, tag string) {
	embed := tag == "object" || tag == "embed" || tag == "iframe"
	for _, n := range descendants(root, tag) {
		if embed && isVideoEmbed(n) {
			continue
		}
		detach(n)
	}
}

// isVideoEmbed reports whether an embed points at a known video player.
func isVideoEmbed(n *html.Node) bool {
	for _, a := range n.Attr {
		if videoRe.MatchString(a.Val) {
			return true
		}
	}
	return n.Data == "object" && videoRe.MatchString(renderInner(n))
}

// renderInner serialises n's children.
func renderInner(n *html.Node) string {
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		_ = html.Render(&b, c)
	}
	return b.String()
}

// removeShareBars removes the short share/social elements under root
// (root itself stays).
func removeShareBars(root *html.Node) {
	end := nextElement(root, true)
	for n := nextElement(root, false); n != nil && n != end; {
		if shareMarkers.match(classAndID(n)) && textLength(n) < shareMaxText {
			n = removeAndNext(n)
			continue
		}
		n = nextElement(n, false)
	}
}

// cleanHeaders removes h1/h2 headings whose class looks like furniture.
func (g *grabber) cleanHeaders(root *html.Node) {
	for _, h := range descendants(root, "h1", "h2") {
		if g.classWeight(h) < 0 {
			detach(h)
		}
	}
}

// removeEmptyParagraphs drops paragraphs with neither text nor media.
func removeEmptyParagraphs(root *html.Node) {
	for _, p := range descendants(root, "p") {
		if hasText(p) {
			continue
		}
		if len(descendants(p, "img", "embed", "object", "iframe", "picture", "video")) == 0 {
			detach(p)
		}
	}
}

// removeBrBeforeParagraph drops a <br> directly followed by a paragraph.
func removeBrBeforeParagraph(root *html.Node) {
	for _, br := range descendants(root, "br") {
		if next := nextNonBlank(br.NextSibling); next != nil && tagName(next) == "p" {
			detach(br)
		}
	}
}

// unwrapSingleCellTables replaces a table of one cell by the cell's
// content, as a <p> when it is all phrasing, else a <div>.
func unwrapSingleCellTables(root *html.Node) {
	for _, table := range descendants(root, "table") {
		if table.Parent == nil {
			continue
		}
		body := table
		if tb := singleChildTag(table, "tbody"); tb != nil {
			body = tb
		}
		row := singleChildTag(body, "tr")
		if row == nil {
			continue
		}
		cell := singleChildTag(row, "td")
		if cell == nil {
			continue
		}
		setTag(cell, "div")
		if allPhrasing(cell) {
			setTag(cell, "p")
		}
		cell.Attr = nil
		row.RemoveChild(cell)
		replaceNode(table, cell)
	}
}

// allPhrasing reports whether every child of n is phrasing content.
func allPhrasing(n *html.Node) bool {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if !isPhrasing(c) {
			return false
		}
	}
	return true
}

// markDataTables records which tables under root hold data rather than
// layout, so that cleaning keeps them.
func (g *grabber) markDataTables(root *html.Node) {
	for _, t := range descendants(root, "table") {
		g.dataTables[t] = isDataTable(t)
	}
}

// isDataTable judges a table by its role, summary, caption, header cells
// and size.
func isDataTable(t *html.Node) bool {
	if getAttr(t, "role") == "presentation" || getAttr(t, "datatable") == "0" {
		return false
	}
	if getAttr(t, "summary") != "" {
		return true
	}
	if c := findFirst(t, "caption"); c != nil && c.FirstChild != nil {
		return true
	}
	if len(descendants(t, "col", "colgroup", "tfoot", "thead", "th")) > 0 {
		return true
	}
	if len(descendants(t, "table")) > 0 {
		return false
	}
	rows, cols := tableSize(t)
	if rows == 1 || cols == 1 {
		return false
	}
	if rows >= 10 || cols > 4 {
		return true
	}
	return rows*cols > 10
}

// tableSize counts a table's rows and its widest row's columns.
func tableSize(t *html.Node) (rows, cols int) {
	for _, tr := range descendants(t, "tr") {
		rows += max(1, atoiAttr(tr, "rowspan"))
		inRow := 0
		for _, td := range descendants(tr, "td") {
			inRow += max(1, atoiAttr(td, "colspan"))
		}
		cols = max(cols, inRow)
	}
	return rows, cols
}

// atoiAttr reads a numeric attribute, 0 when absent or malformed.
func atoiAttr(n *html.Node, key string) int {
	v, err := strconv.Atoi(strings.TrimSpace(getAttr(n, key)))
	if err != nil {
		return 0
	}
	return v
}
