package webpage

import (
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// imageURLRe spots an attribute value that names an image file.
var imageURLRe = regexp.MustCompile(`(?i)\.(jpe?g|png|webp|gif|avif)`)

// junkTags are removed with their content before anything else.
var junkTags = map[string]bool{
	"script": true, "noscript": true, "style": true, "template": true,
	"link": true, "meta": true,
}

// prepareDocument readies a parsed page for scoring: it brings images out
// of <noscript>, removes scripts, styles and comments, turns <br><br>
// chains into paragraphs and <font> into <span>.
func prepareDocument(root *html.Node) {
	unwrapNoscriptImages(root)
	removeJunk(root)
	for _, br := range descendants(root, "br") {
		replaceBrChain(br)
	}
	for _, f := range descendants(root, "font") {
		setTag(f, "span")
	}
}

// removeJunk drops comments and junkTags elements under n.
func removeJunk(n *html.Node) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		switch {
		case c.Type == html.CommentNode, c.Type == html.ElementNode && junkTags[c.Data]:
			n.RemoveChild(c)
		case c.Type == html.ElementNode:
			removeJunk(c)
		}
		c = next
	}
}

// unwrapNoscriptImages replaces a placeholder image followed by a
// <noscript> holding the real one with the real one, and drops <img>
// elements that carry no image at all (lazy-load placeholders).
func unwrapNoscriptImages(root *html.Node) {
	for _, img := range descendants(root, "img") {
		if !mayHoldImage(img) {
			detach(img)
		}
	}
	for _, ns := range descendants(root, "noscript") {
		swapNoscriptImage(ns)
	}
}

// mayHoldImage reports whether an <img> has a source, an attribute naming
// an image file, or <source> siblings in a <picture>.
func mayHoldImage(img *html.Node) bool {
	if tagName(img.Parent) == "picture" && len(descendants(img.Parent, "source")) > 0 {
		return true
	}
	for _, a := range img.Attr {
		switch a.Key {
		case "src", "srcset", "data-src", "data-srcset":
			return true
		}
		if imageURLRe.MatchString(a.Val) {
			return true
		}
	}
	return false
}

// swapNoscriptImage handles one <noscript>: when it holds a single image
// and follows an element that is a single image, that element is replaced
// by the noscript image.
func swapNoscriptImage(ns *html.Node) {
	content := parseNoscript(ns)
	if content == nil || !isSingleImage(content) {
		return
	}
	prev := ns.PrevSibling
	for prev != nil && prev.Type != html.ElementNode {
		prev = prev.PrevSibling
	}
	if prev == nil || !isSingleImage(prev) {
		return
	}
	newImg := findFirst(content, "img")
	oldImg := findFirst(prev, "img")
	for _, a := range oldImg.Attr {
		if a.Val == "" || getAttr(newImg, a.Key) == a.Val {
			continue
		}
		if a.Key == "src" || a.Key == "srcset" || imageURLRe.MatchString(a.Val) {
			key := a.Key
			if hasAttr(newImg, key) {
				key = "data-old-" + key
			}
			setAttr(newImg, key, a.Val)
		}
	}
	first := firstElementChild(content)
	content.RemoveChild(first)
	replaceNode(prev, first)
}

// parseNoscript parses a <noscript>'s raw text into a detached <div>.
func parseNoscript(ns *html.Node) *html.Node {
	raw := textContent(ns)
	if !strings.Contains(raw, "<img") {
		return nil
	}
	div := newElement("div")
	nodes, err := html.ParseFragment(strings.NewReader(raw), div)
	if err != nil {
		return nil
	}
	for _, n := range nodes {
		div.AppendChild(n)
	}
	return div
}

// isSingleImage reports whether n is an <img> or wraps exactly one image
// and no text.
func isSingleImage(n *html.Node) bool {
	for n != nil {
		if tagName(n) == "img" {
			return true
		}
		if countElementChildren(n) != 1 || hasText(n) {
			return false
		}
		n = firstElementChild(n)
	}
	return false
}

// replaceBrChain turns a run of two or more <br> starting at br into a
// <p> that takes the phrasing content following the run, up to the next
// <br><br> or block.
func replaceBrChain(br *html.Node) {
	if br.Parent == nil {
		return
	}
	replaced := false
	for next := nextNonBlank(br.NextSibling); next != nil && tagName(next) == "br"; next = nextNonBlank(br.NextSibling) {
		replaced = true
		for br.NextSibling != next {
			br.Parent.RemoveChild(br.NextSibling)
		}
		br.Parent.RemoveChild(next)
	}
	if !replaced {
		return
	}
	p := newElement("p")
	replaceNode(br, p)
	fillParagraph(p)
	if tagName(p.Parent) == "p" {
		setTag(p.Parent, "div")
	}
}

// fillParagraph moves the phrasing siblings after p into p.
func fillParagraph(p *html.Node) {
	for next := p.NextSibling; next != nil; next = p.NextSibling {
		if tagName(next) == "br" {
			if after := nextNonBlank(next.NextSibling); after != nil && tagName(after) == "br" {
				break
			}
		}
		if !isPhrasing(next) {
			break
		}
		p.Parent.RemoveChild(next)
		p.AppendChild(next)
	}
	for p.LastChild != nil && isWhitespaceNode(p.LastChild) {
		p.RemoveChild(p.LastChild)
	}
}

// phrasingTags are the inline elements that may live inside a paragraph.
var phrasingTags = map[string]bool{
	"abbr": true, "audio": true, "b": true, "bdo": true, "br": true, "button": true,
	"cite": true, "code": true, "data": true, "datalist": true, "dfn": true, "em": true,
	"embed": true, "i": true, "img": true, "input": true, "kbd": true, "label": true,
	"mark": true, "math": true, "meter": true, "noscript": true, "object": true,
	"output": true, "progress": true, "q": true, "ruby": true, "samp": true,
	"script": true, "select": true, "small": true, "span": true, "strong": true,
	"sub": true, "sup": true, "textarea": true, "time": true, "var": true, "wbr": true,
	"u": true, "s": true, "strike": true, "tt": true, "big": true, "font": true,
}

// isPhrasing reports whether n is phrasing (inline) content.
func isPhrasing(n *html.Node) bool {
	switch n.Type {
	case html.TextNode, html.CommentNode:
		return true
	case html.ElementNode:
	default:
		return false
	}
	if phrasingTags[n.Data] {
		return true
	}
	if n.Data == "a" || n.Data == "del" || n.Data == "ins" {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if !isPhrasing(c) {
				return false
			}
		}
		return true
	}
	return false
}
