package seo

import (
	"cmp"
	"html"
	"regexp"
	"strings"
)

// Document is what the analysis reads from a Markdown body: its headings,
// links and images, and the plain text of its paragraphs. Fenced code is
// not prose: its lines are skipped, and links in it do not count.
type Document struct {
	Headings []Heading
	Links    []Link
	Images   []Image
	// Paragraphs holds the plain text of each paragraph and list item, in
	// order (headings and code excluded).
	Paragraphs []string
}

// Heading is an ATX (# …) or setext (underlined) heading.
type Heading struct {
	Level int    `json:"level"`
	Text  string `json:"text"`
}

// Link is an inline, reference, autolink or HTML link. Image is set when
// the link wraps an image, whose alt text is then its text.
type Link struct {
	Text  string `json:"text"`
	URL   string `json:"url"`
	Image bool   `json:"image,omitempty"`
}

// Image is a Markdown or HTML image; Alt is "" when it has none.
type Image struct {
	Alt string `json:"alt"`
	URL string `json:"url"`
}

// HeadingLevels returns the level of each heading, in order.
func (d Document) HeadingLevels() []int {
	out := make([]int, len(d.Headings))
	for i, h := range d.Headings {
		out[i] = h.Level
	}
	return out
}

var (
	atxHeading  = regexp.MustCompile(`^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	setextH1    = regexp.MustCompile(`^ {0,3}=+[ \t]*$`)
	setextH2    = regexp.MustCompile(`^ {0,3}-+[ \t]*$`)
	fence       = regexp.MustCompile("^ {0,3}(```|~~~)")
	rule        = regexp.MustCompile(`^ {0,3}([-*_])(?:[ \t]*([-*_])){2,}[ \t]*$`)
	listItem    = regexp.MustCompile(`^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+`)
	quoteMark   = regexp.MustCompile(`^ {0,3}>[ \t]?`)
	refDef      = regexp.MustCompile(`^ {0,3}\[([^\]]+)\]:[ \t]*<?([^\s>]+)>?(?:[ \t]+.*)?$`)
	mdImage     = regexp.MustCompile(`!\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)`)
	mdLink      = regexp.MustCompile(`\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)`)
	refLink     = regexp.MustCompile(`\[((?:[^\[\]]|\[[^\]]*\])*)\]\[([^\]]*)\]`)
	autoLink    = regexp.MustCompile(`<((?:https?|mailto):[^>\s]+)>`)
	htmlImage   = regexp.MustCompile(`(?i)<img\b[^>]*>`)
	htmlLink    = regexp.MustCompile(`(?is)<a\b[^>]*\bhref\s*=\s*["']([^"']*)["'][^>]*>(.*?)</a>`)
	htmlAttr    = regexp.MustCompile(`(?i)\b(src|alt)\s*=\s*("[^"]*"|'[^']*')`)
	htmlTag     = regexp.MustCompile(`<[^>]+>`)
	codeSpan    = regexp.MustCompile("`+[^`]*`+")
	emphasis    = regexp.MustCompile(`(\*{1,3}|_{2,3}|~~)`)
	spaceRun    = regexp.MustCompile(`\s+`)
	backslashes = regexp.MustCompile(`\\([\\` + "`" + `*_{}\[\]()#+\-.!|>])`)
)

// Parse reads a Markdown body. It understands what posts hold (ATX and
// setext headings, paragraphs, lists, quotes, fenced code, rules, inline
// and reference links, autolinks, images, and HTML a and img tags); it is
// not a full CommonMark parser.
func Parse(md string) Document {
	lines := strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n")
	p := &parser{defs: definitions(lines), used: map[string]bool{}}
	for _, line := range lines {
		p.line(line)
	}
	p.flush()
	for _, line := range lines { // definitions no text refers to still hold URLs
		if m := refDef.FindStringSubmatch(line); m != nil && !p.used[strings.ToLower(m[1])] {
			p.used[strings.ToLower(m[1])] = true
			p.doc.Links = append(p.doc.Links, Link{Text: m[1], URL: m[2]})
		}
	}
	return p.doc
}

// definitions maps the labels of reference definitions ([label]: url),
// lower-cased, to their URLs.
func definitions(lines []string) map[string]string {
	defs := map[string]string{}
	for _, line := range lines {
		if m := refDef.FindStringSubmatch(line); m != nil {
			defs[strings.ToLower(m[1])] = m[2]
		}
	}
	return defs
}

// parser holds the state of Parse between lines.
type parser struct {
	doc     Document
	defs    map[string]string // reference definitions
	used    map[string]bool   // definitions referred to
	para    []string          // lines of the paragraph being read
	inFence string            // the fence marker while inside fenced code
}

func (p *parser) line(line string) {
	if p.inFence != "" {
		if strings.HasPrefix(strings.TrimSpace(line), p.inFence) {
			p.inFence = ""
		}
		return
	}
	if m := fence.FindStringSubmatch(line); m != nil {
		p.flush()
		p.inFence = m[1]
		return
	}
	line = quoteMark.ReplaceAllString(line, "")
	switch {
	case strings.TrimSpace(line) == "":
		p.flush()
	case setextH1.MatchString(line) && len(p.para) > 0:
		p.heading(1, strings.Join(p.para, " "))
		p.para = nil
	case setextH2.MatchString(line) && len(p.para) > 0:
		p.heading(2, strings.Join(p.para, " "))
		p.para = nil
	case rule.MatchString(line):
		p.flush()
	case atxHeading.MatchString(line):
		p.flush()
		m := atxHeading.FindStringSubmatch(line)
		p.heading(len(m[1]), m[2])
	case refDef.MatchString(line):
		p.flush()
	case listItem.MatchString(line):
		p.flush()
		p.para = append(p.para, listItem.ReplaceAllString(line, ""))
	default:
		p.para = append(p.para, strings.TrimSpace(line))
	}
}

func (p *parser) heading(level int, raw string) {
	text := p.inline(raw)
	p.doc.Headings = append(p.doc.Headings, Heading{Level: level, Text: text})
}

// flush ends the paragraph being read.
func (p *parser) flush() {
	if len(p.para) == 0 {
		return
	}
	if text := p.inline(strings.Join(p.para, " ")); text != "" {
		p.doc.Paragraphs = append(p.doc.Paragraphs, text)
	}
	p.para = nil
}

// inline records the links and images of a block and returns its plain
// text.
func (p *parser) inline(s string) string {
	s = codeSpan.ReplaceAllStringFunc(s, func(code string) string { return strings.Trim(code, "`") })
	s = mdImage.ReplaceAllStringFunc(s, func(m string) string {
		sub := mdImage.FindStringSubmatch(m)
		p.doc.Images = append(p.doc.Images, Image{Alt: strings.TrimSpace(sub[1]), URL: sub[2]})
		return imageMark + sub[1]
	})
	s = htmlImage.ReplaceAllStringFunc(s, func(tag string) string {
		img := htmlImageOf(tag)
		p.doc.Images = append(p.doc.Images, img)
		return imageMark + img.Alt
	})
	s = mdLink.ReplaceAllStringFunc(s, func(m string) string {
		sub := mdLink.FindStringSubmatch(m)
		p.doc.Links = append(p.doc.Links, Link{Text: plain(sub[1]), URL: sub[2], Image: strings.Contains(sub[1], imageMark)})
		return sub[1]
	})
	s = refLink.ReplaceAllStringFunc(s, func(m string) string {
		sub := refLink.FindStringSubmatch(m)
		label := strings.ToLower(cmp.Or(sub[2], sub[1]))
		u, ok := p.defs[label]
		if !ok {
			return m
		}
		p.used[label] = true
		p.doc.Links = append(p.doc.Links, Link{Text: plain(sub[1]), URL: u, Image: strings.Contains(sub[1], imageMark)})
		return sub[1]
	})
	s = htmlLink.ReplaceAllStringFunc(s, func(m string) string {
		sub := htmlLink.FindStringSubmatch(m)
		p.doc.Links = append(p.doc.Links, Link{Text: plain(sub[2]), URL: html.UnescapeString(sub[1]), Image: strings.Contains(sub[2], imageMark)})
		return sub[2]
	})
	s = autoLink.ReplaceAllStringFunc(s, func(m string) string {
		u := strings.Trim(m, "<>")
		p.doc.Links = append(p.doc.Links, Link{Text: u, URL: u})
		return u
	})
	return plain(s)
}

// imageMark stands where an image was in a block's text, so a link around
// it is known to wrap an image.
const imageMark = "\x01"

// plain strips inline Markdown and HTML from s.
func plain(s string) string {
	s = strings.ReplaceAll(s, imageMark, "")
	s = htmlTag.ReplaceAllString(s, "")
	s = emphasis.ReplaceAllString(s, "")
	s = backslashes.ReplaceAllString(s, "$1")
	s = html.UnescapeString(s)
	return strings.TrimSpace(spaceRun.ReplaceAllString(s, " "))
}

// htmlImageOf reads the src and alt of an <img> tag.
func htmlImageOf(tag string) Image {
	var img Image
	for _, m := range htmlAttr.FindAllStringSubmatch(tag, -1) {
		v := html.UnescapeString(m[2][1 : len(m[2])-1])
		if strings.EqualFold(m[1], "src") {
			img.URL = v
		} else {
			img.Alt = strings.TrimSpace(v)
		}
	}
	return img
}
