package webpage

import (
	"strings"

	"golang.org/x/net/html"
)

// breakKind is the separation owed before the next piece of text.
type breakKind uint8

const (
	breakNone breakKind = iota
	breakSpace
	breakLine
	breakParagraph
)

// paragraphTags separate their content from what surrounds it by a blank line.
var paragraphTags = map[string]bool{
	"address": true, "article": true, "aside": true, "blockquote": true, "body": true,
	"details": true, "dialog": true, "div": true, "dl": true, "fieldset": true,
	"figure": true, "footer": true, "form": true, "h1": true, "h2": true, "h3": true,
	"h4": true, "h5": true, "h6": true, "header": true, "hgroup": true, "hr": true,
	"main": true, "nav": true, "ol": true, "p": true, "pre": true, "section": true,
	"table": true, "ul": true, "summary": true, "center": true, "menu": true,
}

// lineTags start on a new line.
var lineTags = map[string]bool{
	"li": true, "dt": true, "dd": true, "tr": true, "figcaption": true, "caption": true,
	"thead": true, "tbody": true, "tfoot": true, "option": true, "legend": true,
}

// cellTags are kept apart from their neighbours by a space.
var cellTags = map[string]bool{"td": true, "th": true}

// skipTextTags hold no readable text.
var skipTextTags = map[string]bool{
	"script": true, "style": true, "noscript": true, "template": true, "head": true,
	"title": true, "meta": true, "link": true,
}

// textWriter renders a node tree as plain text: whitespace collapsed as a
// browser would, blocks as paragraphs separated by blank lines, list items
// and rows on their own lines, and <pre> kept as is.
type textWriter struct {
	b       strings.Builder
	pending breakKind
	inPre   int
}

// plainText renders the text of n.
func plainText(n *html.Node) string {
	var w textWriter
	w.node(n)
	return w.b.String()
}

// owe raises the separation owed before the next text to at least k.
func (w *textWriter) owe(k breakKind) {
	if k > w.pending {
		w.pending = k
	}
}

// node renders n and its subtree.
func (w *textWriter) node(n *html.Node) {
	switch n.Type {
	case html.TextNode:
		w.text(n.Data)
		return
	case html.ElementNode, html.DocumentNode:
	default:
		return
	}
	if skipTextTags[n.Data] {
		return
	}
	if n.Data == "br" {
		w.owe(breakLine)
		return
	}
	k := blockBreak(n.Data)
	w.owe(k)
	if n.Data == "pre" {
		w.inPre++
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		w.node(c)
	}
	if n.Data == "pre" {
		w.inPre--
	}
	w.owe(k)
	if n.Data == "img" {
		w.owe(breakSpace)
	}
}

// blockBreak is the separation a tag puts around its content.
func blockBreak(tag string) breakKind {
	switch {
	case paragraphTags[tag]:
		return breakParagraph
	case lineTags[tag]:
		return breakLine
	case cellTags[tag]:
		return breakSpace
	}
	return breakNone
}

// text writes a text node, collapsing whitespace outside <pre>.
func (w *textWriter) text(s string) {
	if w.inPre > 0 {
		w.flush()
		w.b.WriteString(s)
		return
	}
	if s == "" {
		return
	}
	if isSpaceByte(s[0]) {
		w.owe(breakSpace)
	}
	fields := strings.Fields(s)
	for i, f := range fields {
		if i > 0 {
			w.owe(breakSpace)
		}
		w.flush()
		w.b.WriteString(f)
	}
	if len(fields) > 0 && isSpaceByte(s[len(s)-1]) {
		w.owe(breakSpace)
	}
}

// flush writes the separation owed, unless nothing has been written yet.
func (w *textWriter) flush() {
	if w.b.Len() > 0 {
		switch w.pending {
		case breakSpace:
			w.b.WriteByte(' ')
		case breakLine:
			w.b.WriteByte('\n')
		case breakParagraph:
			w.b.WriteString("\n\n")
		}
	}
	w.pending = breakNone
}

// isSpaceByte reports ASCII whitespace, which is what HTML collapses.
func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}
