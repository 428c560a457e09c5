package webpage

import (
	"strings"

	"golang.org/x/net/html"
)

// textishTags are the elements whose text counts towards text density.
var textishTags = []string{"span", "li", "td", "blockquote", "dl", "div", "img", "ol", "p", "pre", "table", "ul"}

// headingTags are h1 to h6.
var headingTags = []string{"h1", "h2", "h3", "h4", "h5", "h6"}

// cleanConditionally removes the elements named tag under root that look
// like furniture: a negative class weight, or (when they have few commas)
// more images than paragraphs, list items outside lists, forms, very
// short linked text, high link density or lone embeds. Data tables, code
// and lists of images are kept. It does nothing when conditional cleaning
// is off.
func (g *grabber) cleanConditionally(root *html.Node, tag string) {
	if !g.has(flagCleanConditionally) {
		return
	}
	nodes := descendants(root, tag)
	for i := len(nodes) - 1; i >= 0; i-- {
		if n := nodes[i]; n.Parent != nil && g.isFishy(n, tag) {
			detach(n)
		}
	}
}

// isFishy applies cleanConditionally's tests to one element.
func (g *grabber) isFishy(n *html.Node, tag string) bool {
	if g.isProtected(n, tag) {
		return false
	}
	weight := g.classWeight(n)
	if weight < 0 {
		return true
	}
	text := innerText(n)
	if strings.Count(text, ",") >= 10 {
		return false
	}
	isList := tag == "ul" || tag == "ol" || listShare(n, text) > 0.9
	if hasVideoEmbed(n) {
		return false
	}
	if adWordsRe.MatchString(text) || loadingWordsRe.MatchString(text) {
		return true
	}
	remove := g.looksLikeFurniture(n, text, weight, isList)
	if remove && isList && isImageList(n) {
		return false
	}
	return remove
}

// isProtected reports whether n is, is inside, or holds a data table, or
// sits in code.
func (g *grabber) isProtected(n *html.Node, tag string) bool {
	if tag == "table" && g.dataTables[n] {
		return true
	}
	if hasAncestor(n, "table", 0, func(t *html.Node) bool { return g.dataTables[t] }) {
		return true
	}
	if hasAncestor(n, "code", 3, nil) {
		return true
	}
	for _, t := range descendants(n, "table") {
		if g.dataTables[t] {
			return true
		}
	}
	return false
}

// listShare is the share of n's text that lies in lists.
func listShare(n *html.Node, text string) float64 {
	total := len([]rune(text))
	if total == 0 {
		return 0
	}
	inLists := 0
	for _, l := range descendants(n, "ul", "ol") {
		inLists += textLength(l)
	}
	return float64(inLists) / float64(total)
}

// hasVideoEmbed reports whether an embed under n plays a known video.
func hasVideoEmbed(n *html.Node) bool {
	for _, e := range descendants(n, "object", "embed", "iframe") {
		if isVideoEmbed(e) {
			return true
		}
	}
	return false
}

// looksLikeFurniture holds the shape tests of cleanConditionally.
func (g *grabber) looksLikeFurniture(n *html.Node, text string, weight int, isList bool) bool {
	p := countDescendants(n, "p")
	img := countDescendants(n, "img")
	li := countDescendants(n, "li") - 100
	input := countDescendants(n, "input")
	embeds := len(descendants(n, "object", "embed", "iframe"))
	length := len([]rune(text))
	density := linkDensity(n)
	inFigure := hasAncestor(n, "figure", 3, nil)
	switch {
	case !inFigure && img > 1 && float64(p)/float64(img) < 0.5:
		return true
	case !isList && li > p:
		return true
	case input > p/3:
		return true
	case !isList && !inFigure && textDensity(n, headingTags) < 0.9 && length < 25 && (img == 0 || img > 2) && density > 0:
		return true
	case !isList && weight < 25 && density > 0.2:
		return true
	case weight >= 25 && density > 0.5:
		return true
	case embeds == 1 && length < 75 || embeds > 1:
		return true
	case img == 0 && textDensity(n, textishTags) == 0:
		return true
	}
	return false
}

// textDensity is the share of n's text inside elements named by tags.
func textDensity(n *html.Node, tags []string) float64 {
	total := textLength(n)
	if total == 0 {
		return 0
	}
	inside := 0
	for _, c := range descendants(n, tags...) {
		inside += textLength(c)
	}
	return float64(inside) / float64(total)
}

// isImageList reports whether every item of list n is a lone image.
func isImageList(n *html.Node) bool {
	for _, c := range elementChildren(n) {
		if countElementChildren(c) > 1 {
			return false
		}
	}
	return countDescendants(n, "img") == countDescendants(n, "li")
}
