package webpage

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/net/html"
)

// b64DataURLRe matches a base64 data URL and captures its media type.
var b64DataURLRe = regexp.MustCompile(`(?i)^data:\s*([^\s;,]+)\s*;\s*base64\s*,`)

// srcsetValueRe spots an attribute value that is a srcset (file + width).
var srcsetValueRe = regexp.MustCompile(`(?i)\.(jpe?g|png|webp|gif|avif)\S*\s+\d`)

// srcValueRe spots an attribute value that is a single image URL.
var srcValueRe = regexp.MustCompile(`(?i)^\s*\S+\.(jpe?g|png|webp|gif|avif)\S*\s*$`)

// placeholderDataLen is the base64 length under which a data-URL image
// with a real image named elsewhere is taken for a placeholder.
const placeholderDataLen = 133

// fixLazyImages gives lazily loaded images a real source: a tiny data-URL
// placeholder is dropped, and a URL found in data-src, data-srcset or a
// similar attribute becomes the src or srcset.
func fixLazyImages(root *html.Node) {
	for _, el := range descendants(root, "img", "picture", "figure") {
		dropPlaceholderSrc(el)
		src, srcset := getAttr(el, "src"), getAttr(el, "srcset")
		if (src != "" || (srcset != "" && srcset != "null")) && !strings.Contains(strings.ToLower(getAttr(el, "class")), "lazy") {
			continue
		}
		copyLazySource(el)
	}
}

// dropPlaceholderSrc removes a tiny base64 src when another attribute
// names an image file.
func dropPlaceholderSrc(el *html.Node) {
	src := getAttr(el, "src")
	m := b64DataURLRe.FindStringSubmatch(src)
	if m == nil || strings.EqualFold(m[1], "image/svg+xml") {
		return
	}
	for _, a := range el.Attr {
		if a.Key != "src" && imageURLRe.MatchString(a.Val) {
			if len(src)-len(m[0]) < placeholderDataLen {
				removeAttr(el, "src")
			}
			return
		}
	}
}

// copyLazySource copies an image URL from a data-* style attribute into
// src or srcset; a <figure> without an image gets a new <img>.
func copyLazySource(el *html.Node) {
	for _, a := range append([]html.Attribute(nil), el.Attr...) {
		if a.Key == "src" || a.Key == "srcset" || a.Key == "alt" {
			continue
		}
		target := ""
		switch {
		case srcsetValueRe.MatchString(a.Val):
			target = "srcset"
		case srcValueRe.MatchString(a.Val):
			target = "src"
		default:
			continue
		}
		switch {
		case el.Data == "img" || el.Data == "picture":
			setAttr(el, target, a.Val)
		case el.Data == "figure" && len(descendants(el, "img", "picture")) == 0:
			img := newElement("img")
			setAttr(img, target, a.Val)
			el.AppendChild(img)
		}
	}
}

// srcsetCandidate is one URL of a srcset with its width or density.
type srcsetCandidate struct {
	url  string
	size float64
}

// parseSrcset splits a srcset into its candidates.
func parseSrcset(srcset string) []srcsetCandidate {
	var out []srcsetCandidate
	for _, part := range strings.Split(srcset, ",") {
		fields := strings.Fields(part)
		if len(fields) == 0 {
			continue
		}
		c := srcsetCandidate{url: fields[0], size: 1}
		if len(fields) > 1 && len(fields[1]) > 1 {
			d := fields[1] // "640w" or "2x"
			if v, err := strconv.ParseFloat(d[:len(d)-1], 64); err == nil {
				c.size = v
			}
		}
		out = append(out, c)
	}
	return out
}

// largestSrcsetURL is the srcset candidate with the largest descriptor.
func largestSrcsetURL(srcset string) string {
	best := srcsetCandidate{size: -1}
	for _, c := range parseSrcset(srcset) {
		if c.size > best.size {
			best = c
		}
	}
	return best.url
}

// resolver turns the references of the article into absolute URLs.
type resolver struct {
	base *url.URL // <base href> resolved against the page URL
	page *url.URL
}

// resolve makes ref absolute; in-page anchors stay relative when the base
// is the page itself, and unparsable references are returned unchanged.
func (r resolver) resolve(ref string) string {
	ref = strings.TrimSpace(ref)
	if r.base == nil || ref == "" {
		return ref
	}
	if strings.HasPrefix(ref, "#") && r.page != nil && r.base.String() == r.page.String() {
		return ref
	}
	u, err := r.base.Parse(ref)
	if err != nil {
		return ref
	}
	return u.String()
}

// resolveSrcset makes every URL of a srcset absolute.
func (r resolver) resolveSrcset(srcset string) string {
	parts := strings.Split(srcset, ",")
	for i, part := range parts {
		fields := strings.Fields(part)
		if len(fields) == 0 {
			continue
		}
		fields[0] = r.resolve(fields[0])
		parts[i] = strings.Join(fields, " ")
	}
	return strings.Join(parts, ", ")
}

// fixURLs makes links and media sources under root absolute, unwraps
// javascript: links, and gives an <img> that only has a srcset a src.
func (r resolver) fixURLs(root *html.Node) {
	for _, a := range descendants(root, "a") {
		href := getAttr(a, "href")
		switch {
		case strings.HasPrefix(strings.ToLower(strings.TrimSpace(href)), "javascript:"):
			setTag(a, "span")
			a.Attr = nil
		case href != "":
			setAttr(a, "href", r.resolve(href))
		}
	}
	for _, m := range descendants(root, "img", "picture", "figure", "video", "audio", "source") {
		r.fixMedia(m)
	}
	for _, img := range descendants(root, "img") {
		if getAttr(img, "src") == "" && tagName(img.Parent) == "picture" {
			pictureSource(img)
		}
	}
}

// pictureSource gives an <img> without a source, inside a <picture>, the
// largest image of the picture's first <source> with a srcset.
func pictureSource(img *html.Node) {
	for _, s := range elementChildren(img.Parent) {
		if s.Data == "source" && getAttr(s, "srcset") != "" {
			setAttr(img, "src", largestSrcsetURL(getAttr(s, "srcset")))
			return
		}
	}
}

// fixMedia makes one media element's src, poster and srcset absolute.
func (r resolver) fixMedia(m *html.Node) {
	for _, key := range []string{"src", "poster"} {
		if v := getAttr(m, key); v != "" {
			setAttr(m, key, r.resolve(v))
		}
	}
	srcset := getAttr(m, "srcset")
	if srcset == "" {
		return
	}
	srcset = r.resolveSrcset(srcset)
	setAttr(m, "srcset", srcset)
	if m.Data == "img" && getAttr(m, "src") == "" {
		setAttr(m, "src", largestSrcsetURL(srcset))
	}
}
