package webpage

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/JohannesKaufmann/html-to-markdown/v2/converter"
	"github.com/JohannesKaufmann/html-to-markdown/v2/plugin/base"
	"github.com/JohannesKaufmann/html-to-markdown/v2/plugin/commonmark"
	"github.com/JohannesKaufmann/html-to-markdown/v2/plugin/table"
	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
)

// blankLinesRe matches three or more line breaks (with blanks between).
var blankLinesRe = regexp.MustCompile(`\n[ \t]*\n(?:[ \t]*\n)+`)

// postProcess finishes the article tree: absolute URLs, no wrapper divs
// nested for nothing, no SVG drawings.
func postProcess(article *html.Node, r resolver) {
	r.fixURLs(article)
	for _, svg := range descendants(article, "svg") {
		detach(svg)
	}
	simplifyNesting(article)
	dropBlankBetweenBlocks(article)
}

// dropBlankBetweenBlocks replaces whitespace-only text that only separates
// blocks (source indentation) by one line break between blocks and
// nothing at the edges, outside <pre>.
func dropBlankBetweenBlocks(n *html.Node) {
	if n.Data == "pre" {
		return
	}
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		switch {
		case isBlankText(c):
			tidyBlank(c)
		case c.Type == html.ElementNode:
			dropBlankBetweenBlocks(c)
		}
		c = next
	}
}

// tidyBlank handles one blank text node for dropBlankBetweenBlocks.
func tidyBlank(c *html.Node) {
	prev, next := c.PrevSibling, c.NextSibling
	for prev != nil && isBlankText(prev) {
		prev = prev.PrevSibling
	}
	for next != nil && isBlankText(next) {
		next = next.NextSibling
	}
	if !isBlockOrNone(prev) || !isBlockOrNone(next) {
		return
	}
	if prev == nil || next == nil || isBlankText(c.PrevSibling) {
		c.Parent.RemoveChild(c)
		return
	}
	c.Data = "\n"
}

// isBlankText reports whether n is a whitespace-only text node.
func isBlankText(n *html.Node) bool {
	return n.Type == html.TextNode && isBlank(n.Data)
}

// isBlockOrNone reports whether n is nil or an element laid out as a block.
func isBlockOrNone(n *html.Node) bool {
	return n == nil || isElement(n) && blockBreak(n.Data) >= breakLine
}

// simplifyNesting removes empty <div>/<section> wrappers under root and
// collapses a wrapper holding a single other wrapper.
func simplifyNesting(root *html.Node) {
	for n := nextElement(root, false); n != nil && n != root; {
		if n.Data != "div" && n.Data != "section" {
			n = nextElement(n, false)
			continue
		}
		if isEmptyElement(n) && len(descendants(n, "img")) == 0 {
			n = removeAndNext(n)
			continue
		}
		child := singleChildTag(n, "div")
		if child == nil {
			child = singleChildTag(n, "section")
		}
		if child == nil {
			n = nextElement(n, false)
			continue
		}
		for _, a := range n.Attr {
			setAttr(child, a.Key, a.Val)
		}
		n.RemoveChild(child)
		replaceNode(n, child)
		n = child
	}
}

// renderChildren serialises the children of n as HTML.
func renderChildren(n *html.Node) (string, error) {
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if err := html.Render(&b, c); err != nil {
			return "", fmt.Errorf("rendering article HTML: %w", err)
		}
	}
	return b.String(), nil
}

// sanitizePolicy allows the structure of an article (headings, lists,
// tables, figures, code, quotes, links and images) and nothing that runs
// or styles: no scripts, event handlers, style attributes, forms, frames,
// or javascript: URLs.
func sanitizePolicy() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowElements("figure", "figcaption", "picture", "main", "center")
	p.AllowAttrs("title").Globally()
	p.AllowDataURIImages()
	p.RequireNoFollowOnLinks(false)
	return p
}

// toMarkdown converts sanitised article HTML to CommonMark with tables.
func toMarkdown(ctx context.Context, articleHTML string) (string, error) {
	conv := converter.NewConverter(converter.WithPlugins(
		base.NewBasePlugin(),
		commonmark.NewCommonmarkPlugin(),
		table.NewTablePlugin(),
	))
	md, err := conv.ConvertString(articleHTML, converter.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("converting article to markdown: %w", err)
	}
	return strings.TrimSpace(md), nil
}

// tidyText trims every line and keeps at most one blank line in a row.
func tidyText(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	s = strings.Join(lines, "\n")
	return strings.TrimSpace(blankLinesRe.ReplaceAllString(s, "\n\n"))
}
