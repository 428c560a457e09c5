// Package webpage extracts the main content and metadata of a fetched HTML
// page, readability-style: it scores the page's blocks by their text,
// keeps the best container and its related siblings, strips navigation,
// banners, share bars and other furniture, and returns the article as
// sanitised HTML, Markdown and plain text with its title, byline, dates,
// language, lead image and canonical URL.
package webpage

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/net/html"
)

// ErrNoContent reports a page without extractable main content.
var ErrNoContent = errors.New("webpage: no main content found")

// ErrTooLarge reports a page with more elements than MaxElements.
var ErrTooLarge = errors.New("webpage: page too large to extract")

// MaxElements caps the elements of a page Extract works on. The scoring
// passes cost the number of elements times the nesting depth, and the
// HTML parser already refuses nesting deeper than 512.
const MaxElements = 200_000

// Article is what a page yields.
type Article struct {
	Title     string     // the article's title
	Byline    string     // author line, if any
	Excerpt   string     // description, or the first paragraph
	SiteName  string     // the publication's name
	Language  string     // BCP 47 tag from <html lang> and similar
	Published *time.Time // publication time, when the page states one
	LeadImage string     // absolute URL of the main image
	Canonical string     // absolute canonical URL of the page
	HTML      string     // main content, sanitised, links and images absolute
	Markdown  string     // the main content as CommonMark
	Text      string     // plain text, paragraphs separated by blank lines
}

// Extract parses page HTML fetched from pageURL (used, with any <base
// href>, to make links absolute; it may be nil) and returns its main
// content and metadata. A page without main content gives ErrNoContent.
func Extract(ctx context.Context, page string, pageURL *url.URL) (Article, error) {
	if err := ctx.Err(); err != nil {
		return Article{}, fmt.Errorf("extracting page: %w", err)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(page))
	if err != nil {
		if strings.Contains(err.Error(), "open stack of elements") {
			// The parser's own nesting limit, reported only as text.
			return Article{}, fmt.Errorf("%w: %v", ErrTooLarge, err)
		}
		return Article{}, fmt.Errorf("parsing page: %w", err)
	}
	if err := checkSize(doc.Nodes[0]); err != nil {
		return Article{}, err
	}
	meta := readMetadata(doc)
	res := resolver{base: baseURL(doc, pageURL), page: pageURL}
	root := doc.Nodes[0]
	prepareDocument(root)
	grabbed, err := grabArticle(ctx, root, meta.Title, meta.Byline == "")
	if err != nil {
		return Article{}, err
	}
	postProcess(grabbed.article, res)
	return buildArticle(ctx, meta, grabbed, res)
}

// checkSize returns ErrTooLarge when the tree under root has more than
// MaxElements elements.
func checkSize(root *html.Node) error {
	if countElements(root, MaxElements+1) > MaxElements {
		return fmt.Errorf("%w: more than %d elements", ErrTooLarge, MaxElements)
	}
	return nil
}

// countElements counts the elements under n, stopping once it reaches limit.
func countElements(n *html.Node, limit int) int {
	count := 0
	for c := n.FirstChild; c != nil && count < limit; c = c.NextSibling {
		if c.Type == html.ElementNode {
			count += 1 + countElements(c, limit-count-1)
		}
	}
	return count
}

// baseURL is the page's <base href> resolved against pageURL, or pageURL.
func baseURL(doc *goquery.Document, pageURL *url.URL) *url.URL {
	href, ok := doc.Find("base[href]").First().Attr("href")
	if !ok {
		return pageURL
	}
	ref, err := url.Parse(strings.TrimSpace(href))
	if err != nil {
		return pageURL
	}
	if pageURL == nil {
		if ref.IsAbs() {
			return ref
		}
		return nil
	}
	return pageURL.ResolveReference(ref)
}

// buildArticle renders the grabbed content and fills in the metadata.
func buildArticle(ctx context.Context, meta metadata, grabbed grabResult, res resolver) (Article, error) {
	raw, err := renderChildren(grabbed.article)
	if err != nil {
		return Article{}, err
	}
	a := Article{
		Title:     meta.Title,
		Byline:    firstOf(meta.Byline, grabbed.byline),
		Excerpt:   collapseSpace(meta.Excerpt),
		SiteName:  meta.SiteName,
		Language:  meta.Language,
		Published: parseDate(meta.Published),
		Canonical: res.resolve(meta.Canonical),
		HTML:      strings.TrimSpace(sanitizePolicy().Sanitize(raw)),
		Text:      tidyText(plainText(grabbed.article)),
	}
	if a.Text == "" {
		return Article{}, ErrNoContent
	}
	if a.Excerpt == "" {
		a.Excerpt = firstParagraph(grabbed.article)
	}
	a.LeadImage = res.resolve(meta.Image)
	if a.LeadImage == "" {
		a.LeadImage = firstImage(grabbed.article)
	}
	if a.Markdown, err = toMarkdown(ctx, a.HTML); err != nil {
		return Article{}, err
	}
	return a, nil
}

// firstParagraph is the text of the article's first non-empty paragraph.
func firstParagraph(article *html.Node) string {
	for _, p := range descendants(article, "p") {
		if t := innerText(p); t != "" {
			return t
		}
	}
	return ""
}

// firstImage is the src of the article's first image.
func firstImage(article *html.Node) string {
	for _, img := range descendants(article, "img") {
		if src := getAttr(img, "src"); src != "" && !strings.HasPrefix(src, "data:") {
			return src
		}
	}
	return ""
}
