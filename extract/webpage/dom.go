package webpage

import (
	"strings"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// This file holds small helpers over golang.org/x/net/html nodes. The
// extractor works on the node tree directly: goquery selections allocate on
// every step, and the scoring passes touch every node several times.

// isElement reports whether n is an element node.
func isElement(n *html.Node) bool {
	return n != nil && n.Type == html.ElementNode
}

// tagName is n's lower-case tag name, or "" for non-elements.
func tagName(n *html.Node) string {
	if !isElement(n) {
		return ""
	}
	return n.Data
}

// getAttr returns the value of n's attribute key, or "".
func getAttr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
}

// hasAttr reports whether n carries attribute key.
func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return true
		}
	}
	return false
}

// setAttr sets n's attribute key to val, adding it when missing.
func setAttr(n *html.Node, key, val string) {
	for i, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			n.Attr[i].Val = val
			return
		}
	}
	n.Attr = append(n.Attr, html.Attribute{Key: key, Val: val})
}

// removeAttr deletes n's attribute key.
func removeAttr(n *html.Node, key string) {
	kept := n.Attr[:0]
	for _, a := range n.Attr {
		if a.Namespace != "" || a.Key != key {
			kept = append(kept, a)
		}
	}
	n.Attr = kept
}

// classAndID is the "class id" string matched against the word lists.
func classAndID(n *html.Node) string {
	return getAttr(n, "class") + " " + getAttr(n, "id")
}

// setTag renames element n in place, keeping its children and attributes.
func setTag(n *html.Node, tag string) {
	n.Data = tag
	n.DataAtom = atom.Lookup([]byte(tag))
}

// newElement creates a detached element.
func newElement(tag string) *html.Node {
	return &html.Node{Type: html.ElementNode, Data: tag, DataAtom: atom.Lookup([]byte(tag))}
}

// detach removes n from its parent, if it has one.
func detach(n *html.Node) {
	if n.Parent != nil {
		n.Parent.RemoveChild(n)
	}
}

// replaceNode puts repl where old is; repl must be detached.
func replaceNode(old, repl *html.Node) {
	old.Parent.InsertBefore(repl, old)
	old.Parent.RemoveChild(old)
}

// unwrap replaces n with its children.
func unwrap(n *html.Node) {
	for c := n.FirstChild; c != nil; c = n.FirstChild {
		n.RemoveChild(c)
		n.Parent.InsertBefore(c, n)
	}
	n.Parent.RemoveChild(n)
}

// elementChildren lists n's element children.
func elementChildren(n *html.Node) []*html.Node {
	var out []*html.Node
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			out = append(out, c)
		}
	}
	return out
}

// countElementChildren counts n's element children.
func countElementChildren(n *html.Node) int {
	count := 0
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			count++
		}
	}
	return count
}

// firstElementChild is n's first element child, or nil.
func firstElementChild(n *html.Node) *html.Node {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			return c
		}
	}
	return nil
}

// nextElementSibling is the next element after n, or nil.
func nextElementSibling(n *html.Node) *html.Node {
	for c := n.NextSibling; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			return c
		}
	}
	return nil
}

// nextElement walks the element tree depth first: n's first child unless
// skipChildren, else the next sibling of n or of its nearest ancestor.
func nextElement(n *html.Node, skipChildren bool) *html.Node {
	if !skipChildren {
		if c := firstElementChild(n); c != nil {
			return c
		}
	}
	for ; n != nil; n = n.Parent {
		if s := nextElementSibling(n); s != nil {
			return s
		}
	}
	return nil
}

// removeAndNext detaches n and returns the element the walk goes on with.
func removeAndNext(n *html.Node) *html.Node {
	next := nextElement(n, true)
	detach(n)
	return next
}

// descendants lists the elements under root (not root itself) whose tag is
// one of tags, in document order.
func descendants(root *html.Node, tags ...string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode {
				continue
			}
			for _, t := range tags {
				if c.Data == t {
					out = append(out, c)
					break
				}
			}
			walk(c)
		}
	}
	walk(root)
	return out
}

// countDescendants counts the elements under root named tag.
func countDescendants(root *html.Node, tag string) int {
	count := 0
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode {
				if c.Data == tag {
					count++
				}
				walk(c)
			}
		}
	}
	walk(root)
	return count
}

// hasAncestor reports whether an ancestor of n within maxDepth levels
// (0 for any depth) is named tag and passes keep (nil keeps all).
func hasAncestor(n *html.Node, tag string, maxDepth int, keep func(*html.Node) bool) bool {
	depth := 0
	for p := n.Parent; p != nil; p = p.Parent {
		if maxDepth > 0 && depth > maxDepth {
			return false
		}
		if p.Type == html.ElementNode && p.Data == tag && (keep == nil || keep(p)) {
			return true
		}
		depth++
	}
	return false
}

// textContent concatenates the text under n, like the DOM's textContent.
func textContent(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			switch c.Type {
			case html.TextNode:
				b.WriteString(c.Data)
			case html.ElementNode:
				walk(c)
			}
		}
	}
	walk(n)
	return b.String()
}

// innerText is n's text content trimmed, with whitespace runs collapsed.
func innerText(n *html.Node) string {
	return collapseSpace(textContent(n))
}

// collapseSpace trims s and turns every whitespace run into one space.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// textLength is len(innerText(n)) in runes without building the string.
func textLength(n *html.Node) int {
	var c spaceCounter
	c.node(n)
	return c.count
}

// textStats is textLength(n) and the number of commas (of any script)
// in n's text.
func textStats(n *html.Node) (length, commas int) {
	var c spaceCounter
	c.node(n)
	return c.count, c.commas
}

// spaceCounter counts the runes of text as innerText would render it.
type spaceCounter struct {
	count       int
	commas      int
	pendingOpen bool // a whitespace run was seen after some text
	started     bool
}

// node feeds every text node under n.
func (c *spaceCounter) node(n *html.Node) {
	if n.Type == html.TextNode {
		c.text(n.Data)
		return
	}
	for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
		if ch.Type == html.TextNode || ch.Type == html.ElementNode {
			c.node(ch)
		}
	}
}

// text feeds one string.
func (c *spaceCounter) text(s string) {
	for _, r := range s {
		if unicode.IsSpace(r) {
			if c.started {
				c.pendingOpen = true
			}
			continue
		}
		if c.pendingOpen {
			c.count++
			c.pendingOpen = false
		}
		if isComma(r) {
			c.commas++
		}
		c.count++
		c.started = true
	}
}

// isBlank reports whether s is empty or only whitespace.
func isBlank(s string) bool {
	return strings.TrimSpace(s) == ""
}

// hasText reports whether any non-space text lies under n.
func hasText(n *html.Node) bool {
	if n.Type == html.TextNode {
		return strings.TrimSpace(n.Data) != ""
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if hasText(c) {
			return true
		}
	}
	return false
}

// isWhitespaceNode reports whether n is blank text or a <br>.
func isWhitespaceNode(n *html.Node) bool {
	switch n.Type {
	case html.TextNode:
		return strings.TrimSpace(n.Data) == ""
	case html.ElementNode:
		return n.Data == "br"
	}
	return false
}

// nextNonBlank returns n or the first following sibling that is not blank
// text or a comment.
func nextNonBlank(n *html.Node) *html.Node {
	for n != nil && n.Type != html.ElementNode && strings.TrimSpace(textOf(n)) == "" {
		n = n.NextSibling
	}
	return n
}

// textOf is a text node's data, "" for comments and other nodes.
func textOf(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	return ""
}

// cloneTree deep-copies n (without parent or siblings).
func cloneTree(n *html.Node) *html.Node {
	c := &html.Node{Type: n.Type, DataAtom: n.DataAtom, Data: n.Data, Namespace: n.Namespace}
	if len(n.Attr) > 0 {
		c.Attr = append([]html.Attribute(nil), n.Attr...)
	}
	for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
		c.AppendChild(cloneTree(ch))
	}
	return c
}

// findFirst returns the first element under root (inclusive) named tag.
func findFirst(root *html.Node, tag string) *html.Node {
	if isElement(root) && root.Data == tag {
		return root
	}
	for c := root.FirstChild; c != nil; c = c.NextSibling {
		if f := findFirst(c, tag); f != nil {
			return f
		}
	}
	return nil
}
