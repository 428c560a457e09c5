package webpage

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// flag switches one of the grabber's filters; attempts that find too
// little text are retried with fewer filters.
type flag uint8

const (
	flagStripUnlikely flag = 1 << iota
	flagWeightClasses
	flagCleanConditionally
	allFlags = flagStripUnlikely | flagWeightClasses | flagCleanConditionally
)

const (
	// charThreshold is the text length an attempt must reach to be kept
	// without retrying with fewer filters.
	charThreshold = 500
	// topCandidates is how many best-scored nodes are weighed against
	// each other when choosing the article container.
	topCandidates = 5
	// minParagraphLen is the shortest text a block must have to be scored.
	minParagraphLen = 25
	// junkMaxText is the longest text a cookie banner or newsletter box
	// may hold and still be removed whatever the filters.
	junkMaxText = 500
	// ctxCheckEvery is how many nodes a walk visits between context checks.
	ctxCheckEvery = 512
)

// tagsToScore are the elements whose text is scored and credited to
// their ancestors.
var tagsToScore = map[string]bool{
	"section": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
	"p": true, "td": true, "pre": true,
}

// blockInDiv are the elements that stop a <div> from being treated as a paragraph.
var blockInDiv = map[string]bool{
	"blockquote": true, "dl": true, "div": true, "img": true, "ol": true, "p": true,
	"pre": true, "table": true, "ul": true, "figure": true, "section": true, "article": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
}

// keepSiblingTag are the tags a joined sibling keeps; others become <div>.
var keepSiblingTag = map[string]bool{
	"div": true, "article": true, "section": true, "p": true, "ul": true, "ol": true,
	"table": true, "blockquote": true, "pre": true, "figure": true, "dl": true,
	"h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
}

// grabber holds the state of one extraction attempt.
type grabber struct {
	ctx        context.Context
	flags      flag
	title      string
	wantByline bool
	byline     string
	scores     map[*html.Node]float64
	dataTables map[*html.Node]bool
	visited    int
}

// grabResult is the outcome of the content pass.
type grabResult struct {
	article *html.Node // a <div> holding the main content
	byline  string     // an author line found (and removed) in the page
}

// grabArticle finds the main content under doc (a prepared document),
// retrying with fewer filters while the result is shorter than
// charThreshold, and keeping the longest attempt if none reaches it. doc
// is not modified.
func grabArticle(ctx context.Context, doc *html.Node, title string, wantByline bool) (grabResult, error) {
	var best grabResult
	bestLen := 0
	for flags := allFlags; ; flags = dropFlag(flags) {
		res, n, err := grabOnce(ctx, doc, flags, title, wantByline)
		if err != nil {
			return grabResult{}, err
		}
		if n >= charThreshold {
			return res, nil
		}
		if n > bestLen {
			best, bestLen = res, n
		}
		if flags == 0 {
			break
		}
	}
	if bestLen == 0 {
		return grabResult{}, ErrNoContent
	}
	return best, nil
}

// grabOnce runs one attempt with flags on a copy of doc and returns its
// result and text length.
func grabOnce(ctx context.Context, doc *html.Node, flags flag, title string, wantByline bool) (grabResult, int, error) {
	g := &grabber{ctx: ctx, flags: flags, title: title, wantByline: wantByline,
		scores: map[*html.Node]float64{}, dataTables: map[*html.Node]bool{}}
	article, err := g.attempt(cloneTree(doc))
	if err != nil || article == nil {
		return grabResult{}, 0, err
	}
	return grabResult{article: article, byline: g.byline}, textLength(article), nil
}

// dropFlag removes the next filter in order: unlikely-stripping, class
// weights, conditional cleaning.
func dropFlag(f flag) flag {
	for _, x := range []flag{flagStripUnlikely, flagWeightClasses, flagCleanConditionally} {
		if f&x != 0 {
			return f &^ x
		}
	}
	return 0
}

// has reports whether filter f is on.
func (g *grabber) has(f flag) bool {
	return g.flags&f != 0
}

// tick counts a visited node and checks the context now and then.
func (g *grabber) tick() error {
	g.visited++
	if g.visited%ctxCheckEvery == 0 {
		if err := g.ctx.Err(); err != nil {
			return fmt.Errorf("extracting content: %w", err)
		}
	}
	return nil
}

// attempt runs one pass over doc, which it consumes.
func (g *grabber) attempt(doc *html.Node) (*html.Node, error) {
	body := findFirst(doc, "body")
	if body == nil {
		return nil, nil
	}
	toScore, err := g.prune(body)
	if err != nil {
		return nil, err
	}
	candidates, err := g.score(toScore)
	if err != nil {
		return nil, err
	}
	top := g.pickTop(candidates, body)
	article := g.joinSiblings(top)
	if err := g.ctx.Err(); err != nil {
		return nil, fmt.Errorf("extracting content: %w", err)
	}
	g.prepArticle(article)
	return article, nil
}

// prune walks the page removing hidden and unlikely elements, the byline
// and the title heading, turns text-only <div>s into paragraphs, and
// returns the elements to score.
func (g *grabber) prune(body *html.Node) ([]*html.Node, error) {
	var toScore []*html.Node
	titleHeaderLeft := true
	for node := body; node != nil; {
		if err := g.tick(); err != nil {
			return nil, err
		}
		if g.shouldRemove(node, body) {
			node = removeAndNext(node)
			continue
		}
		if titleHeaderLeft && g.title != "" && headerDuplicatesTitle(node, g.title) {
			titleHeaderLeft = false
			node = removeAndNext(node)
			continue
		}
		if isContainerTag(node.Data) && isEmptyElement(node) {
			node = removeAndNext(node)
			continue
		}
		if tagsToScore[node.Data] {
			toScore = append(toScore, node)
		}
		if node.Data == "div" {
			node, toScore = g.divToParagraph(node, toScore)
		}
		node = nextElement(node, false)
	}
	return toScore, nil
}

// shouldRemove decides whether prune drops node: hidden, a dialog, the
// byline, or (when stripping) an unlikely candidate.
func (g *grabber) shouldRemove(node, body *html.Node) bool {
	if node != body && !isProbablyVisible(node) {
		return true
	}
	if getAttr(node, "aria-modal") == "true" && getAttr(node, "role") == "dialog" {
		return true
	}
	match := classAndID(node)
	if g.checkByline(node, match) {
		return true
	}
	if node != body && alwaysJunk.match(match) && textLength(node) < junkMaxText {
		return true
	}
	if !g.has(flagStripUnlikely) || node == body {
		return false
	}
	if unlikelyRoles[getAttr(node, "role")] {
		return true
	}
	if node.Data == "nav" {
		return true
	}
	return node.Data != "a" && unlikely.match(match) && !maybeCandidate.match(match) &&
		!hasAncestor(node, "table", 3, nil) && !hasAncestor(node, "code", 3, nil)
}

// isContainerTag reports the tags removed by prune when empty.
func isContainerTag(tag string) bool {
	switch tag {
	case "div", "section", "header", "h1", "h2", "h3", "h4", "h5", "h6":
		return true
	}
	return false
}

// isEmptyElement reports whether n has no text and no children other than
// <br> and <hr>.
func isEmptyElement(n *html.Node) bool {
	if hasText(n) {
		return false
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.Data != "br" && c.Data != "hr" {
			return false
		}
	}
	return true
}

// isProbablyVisible reports whether n is shown: not display:none,
// visibility:hidden, hidden, or aria-hidden (save Wikimedia's fallback
// images).
func isProbablyVisible(n *html.Node) bool {
	if style := getAttr(n, "style"); style != "" && hiddenStyleRe.MatchString(style) {
		return false
	}
	if hasAttr(n, "hidden") {
		return false
	}
	if getAttr(n, "aria-hidden") == "true" && !strings.Contains(getAttr(n, "class"), "fallback-image") {
		return false
	}
	return true
}

// checkByline records node's text as the byline when the page metadata
// had none and node looks like an author line; the caller removes it.
func (g *grabber) checkByline(node *html.Node, match string) bool {
	if !g.wantByline || g.byline != "" {
		return false
	}
	if getAttr(node, "rel") != "author" && !strings.Contains(getAttr(node, "itemprop"), "author") &&
		!bylineMarkers.match(match) {
		return false
	}
	text := innerText(node)
	if text == "" || utf8.RuneCountInString(text) >= 100 {
		return false
	}
	g.byline = text
	return true
}

// divToParagraph wraps a <div>'s loose phrasing content into paragraphs,
// then replaces a div holding a single paragraph by that paragraph, or
// renames a div without blocks to <p>. It returns the node the walk goes
// on from.
func (g *grabber) divToParagraph(div *html.Node, toScore []*html.Node) (*html.Node, []*html.Node) {
	wrapPhrasing(div)
	if only := singleChildTag(div, "p"); only != nil && linkDensity(div) < 0.25 {
		div.RemoveChild(only)
		replaceNode(div, only)
		return only, append(toScore, only)
	}
	if !hasBlockChild(div) {
		setTag(div, "p")
		return div, append(toScore, div)
	}
	return div, toScore
}

// wrapPhrasing groups runs of phrasing children of n into <p> elements.
func wrapPhrasing(n *html.Node) {
	var p *html.Node
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		switch {
		case isPhrasing(c) && p != nil:
			n.RemoveChild(c)
			p.AppendChild(c)
		case isPhrasing(c) && !isWhitespaceNode(c) && c.Type != html.CommentNode:
			p = newElement("p")
			n.InsertBefore(p, c)
			n.RemoveChild(c)
			p.AppendChild(c)
		case !isPhrasing(c) && p != nil:
			trimTrailingWhitespace(p)
			p = nil
		}
		c = next
	}
	if p != nil {
		trimTrailingWhitespace(p)
	}
}

// trimTrailingWhitespace removes blank text and <br> at the end of p.
func trimTrailingWhitespace(p *html.Node) {
	for p.LastChild != nil && isWhitespaceNode(p.LastChild) {
		p.RemoveChild(p.LastChild)
	}
}

// singleChildTag returns n's only element child when it is named tag and
// n holds no other text; else nil.
func singleChildTag(n *html.Node, tag string) *html.Node {
	var only *html.Node
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		switch c.Type {
		case html.ElementNode:
			if only != nil || c.Data != tag {
				return nil
			}
			only = c
		case html.TextNode:
			if strings.TrimSpace(c.Data) != "" {
				return nil
			}
		}
	}
	return only
}

// hasBlockChild reports whether any descendant of n is a block element.
func hasBlockChild(n *html.Node) bool {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && (blockInDiv[c.Data] || hasBlockChild(c)) {
			return true
		}
	}
	return false
}
