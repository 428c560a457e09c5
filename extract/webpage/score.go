package webpage

import (
	"unicode/utf8"

	"golang.org/x/net/html"
)

// score credits each scored element's text to its ancestors (up to five
// levels, less the further up) and returns the ancestors in the order
// they were first credited.
func (g *grabber) score(elements []*html.Node) ([]*html.Node, error) {
	var candidates []*html.Node
	for _, el := range elements {
		if err := g.tick(); err != nil {
			return nil, err
		}
		if !isElement(el.Parent) {
			continue
		}
		length, commas := textStats(el)
		if length < minParagraphLen {
			continue
		}
		points := 1 + float64(commas+1) + float64(min(length/100, 3))
		level := 0
		for anc := el.Parent; anc != nil && level < 5; anc = anc.Parent {
			if !isElement(anc) || !isElement(anc.Parent) {
				break
			}
			if _, ok := g.scores[anc]; !ok {
				g.initNode(anc)
				candidates = append(candidates, anc)
			}
			g.scores[anc] += points / scoreDivider(level)
			level++
		}
	}
	return candidates, nil
}

// scoreDivider is how much less an ancestor level levels up gets.
func scoreDivider(level int) float64 {
	switch level {
	case 0:
		return 1
	case 1:
		return 2
	}
	return float64(level * 3)
}

// initNode gives n its starting score from its tag and class weight.
func (g *grabber) initNode(n *html.Node) {
	s := 0.0
	switch n.Data {
	case "div":
		s = 5
	case "pre", "td", "blockquote":
		s = 3
	case "address", "ol", "ul", "dl", "dd", "dt", "li", "form":
		s = -3
	case "h1", "h2", "h3", "h4", "h5", "h6", "th":
		s = -5
	}
	g.scores[n] = s + float64(g.classWeight(n))
}

// classWeight is +25/-25 for each of class and id that looks like content
// or like furniture; 0 when class weighting is off.
func (g *grabber) classWeight(n *html.Node) int {
	if !g.has(flagWeightClasses) {
		return 0
	}
	w := 0
	for _, v := range []string{getAttr(n, "class"), getAttr(n, "id")} {
		if v == "" {
			continue
		}
		if negative.match(v) {
			w -= 25
		}
		if positive.match(v) {
			w += 25
		}
	}
	return w
}

// linkDensity is the share of n's text inside links; in-page (#) links
// count for less.
func linkDensity(n *html.Node) float64 {
	total := textLength(n)
	if total == 0 {
		return 0
	}
	return linkLength(n) / float64(total)
}

// linkLength sums the text length of the links under n.
func linkLength(n *html.Node) float64 {
	sum := 0.0
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode {
			continue
		}
		if c.Data != "a" {
			sum += linkLength(c)
			continue
		}
		coef := 1.0
		if href := getAttr(c, "href"); len(href) > 1 && href[0] == '#' {
			coef = 0.3
		}
		sum += float64(textLength(c)) * coef
	}
	return sum
}

// pickTop chooses the element that holds the article. The best-scored
// candidate (after the link-density penalty) may give way to an ancestor
// shared by several near-best candidates, or to a better-scored parent.
// With no candidate, the body's content is moved into a new <div>.
func (g *grabber) pickTop(candidates []*html.Node, body *html.Node) *html.Node {
	tops := g.bestCandidates(candidates)
	if len(tops) == 0 || tops[0] == body {
		div := newElement("div")
		for c := body.FirstChild; c != nil; c = body.FirstChild {
			body.RemoveChild(c)
			div.AppendChild(c)
		}
		body.AppendChild(div)
		g.initNode(div)
		return div
	}
	top := g.sharedAncestor(tops)
	if _, ok := g.scores[top]; !ok {
		g.initNode(top)
	}
	top = g.climbToBetterParent(top)
	for p := top.Parent; p != nil && p.Data != "body" && countElementChildren(p) == 1; p = top.Parent {
		top = p
	}
	if _, ok := g.scores[top]; !ok {
		g.initNode(top)
	}
	return top
}

// bestCandidates applies the link-density penalty and returns the
// topCandidates best candidates, best first.
func (g *grabber) bestCandidates(candidates []*html.Node) []*html.Node {
	var tops []*html.Node
	for _, c := range candidates {
		s := g.scores[c] * (1 - linkDensity(c))
		g.scores[c] = s
		i := 0
		for i < len(tops) && g.scores[tops[i]] >= s {
			i++
		}
		if i < topCandidates {
			tops = append(tops[:i], append([]*html.Node{c}, tops[i:]...)...)
			if len(tops) > topCandidates {
				tops = tops[:topCandidates]
			}
		}
	}
	return tops
}

// sharedAncestor returns the nearest ancestor of the best candidate that
// contains at least three of the other near-best candidates (scoring at
// least 75% of the best), or the best candidate itself.
func (g *grabber) sharedAncestor(tops []*html.Node) *html.Node {
	const minShared = 3
	top := tops[0]
	var near []*html.Node
	for _, c := range tops[1:] {
		if g.scores[c]/g.scores[top] >= 0.75 {
			near = append(near, c)
		}
	}
	if len(near) < minShared {
		return top
	}
	for p := top.Parent; p != nil && p.Data != "body"; p = p.Parent {
		count := 0
		for _, c := range near {
			if isAncestor(p, c) {
				count++
			}
		}
		if count >= minShared {
			return p
		}
	}
	return top
}

// isAncestor reports whether a is a proper ancestor of n.
func isAncestor(a, n *html.Node) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if p == a {
			return true
		}
	}
	return false
}

// climbToBetterParent walks up from top while scores stay above a third
// of top's; a parent scoring more than the last one replaces top.
func (g *grabber) climbToBetterParent(top *html.Node) *html.Node {
	last := g.scores[top]
	threshold := last / 3
	for p := top.Parent; p != nil && p.Data != "body"; p = p.Parent {
		s, ok := g.scores[p]
		if !ok {
			continue
		}
		if s < threshold {
			break
		}
		if s > last {
			return p
		}
		last = s
	}
	return top
}

// joinSiblings builds the article: top plus those of its siblings that
// score well, share its class, or are paragraphs of real prose.
func (g *grabber) joinSiblings(top *html.Node) *html.Node {
	article := newElement("div")
	topScore := g.scores[top]
	threshold := max(10, topScore*0.2)
	topClass := getAttr(top, "class")
	for _, sib := range elementChildren(top.Parent) {
		if sib != top && !g.siblingBelongs(sib, topClass, topScore, threshold) {
			continue
		}
		if !keepSiblingTag[sib.Data] {
			setTag(sib, "div")
		}
		detach(sib)
		article.AppendChild(sib)
	}
	return article
}

// siblingBelongs decides whether a sibling of the top candidate joins the
// article.
func (g *grabber) siblingBelongs(sib *html.Node, topClass string, topScore, threshold float64) bool {
	bonus := 0.0
	if topClass != "" && getAttr(sib, "class") == topClass {
		bonus = topScore * 0.2
	}
	if s, ok := g.scores[sib]; ok && s+bonus >= threshold {
		return true
	}
	if sib.Data != "p" {
		return false
	}
	density := linkDensity(sib)
	text := innerText(sib)
	length := utf8.RuneCountInString(text)
	if length > 80 {
		return density < 0.25
	}
	return length > 0 && density == 0 && sentenceEndRe.MatchString(text)
}
