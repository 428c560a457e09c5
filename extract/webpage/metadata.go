package webpage

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/net/html"
)

// metadata is what the page says about itself, before the content pass.
type metadata struct {
	Title, Byline, Excerpt, SiteName string
	Published                        string
	Image                            string
	Canonical                        string
	Language                         string
}

// metaPropertyRe matches <meta property> values naming a field we use; a
// property may list several space-separated names.
var metaPropertyRe = regexp.MustCompile(`(?i)\s*(article|dc|dcterm|og|twitter)\s*:\s*(author|creator|description|published_time|title|site_name|image|image:src|url)\s*`)

// metaNameRe matches <meta name> values naming a field we use.
var metaNameRe = regexp.MustCompile(`(?i)^\s*(?:(dc|dcterm|og|twitter|parsely|weibo:(?:article|webpage))\s*[-.:]\s*)?(author|creator|pub-date|description|title|site_name|image|image:src)\s*$`)

// jsonLDArticleRe matches the schema.org types that describe an article.
var jsonLDArticleRe = regexp.MustCompile(`^(Article|AdvertiserContentArticle|NewsArticle|AnalysisNewsArticle|AskPublicNewsArticle|BackgroundNewsArticle|OpinionNewsArticle|ReportageNewsArticle|ReviewNewsArticle|Report|SatiricalArticle|ScholarlyArticle|MedicalScholarlyArticle|SocialMediaPosting|BlogPosting|LiveBlogPosting|DiscussionForumPosting|TechArticle|APIReference)$`)

// cdataRe strips CDATA markers some sites wrap JSON-LD in.
var cdataRe = regexp.MustCompile(`^\s*<!\[CDATA\[|\]\]>\s*$`)

// readMetadata gathers metadata from <meta>, OpenGraph, Twitter cards,
// JSON-LD, <html lang>, <link rel=canonical> and <title>. It must run
// before scripts are removed.
func readMetadata(doc *goquery.Document) metadata {
	values := metaValues(doc)
	ld := readJSONLD(doc)
	var m metadata
	m.Title = firstOf(ld.Title, values["dc:title"], values["dcterm:title"], values["og:title"],
		values["weibo:article:title"], values["weibo:webpage:title"], values["title"],
		values["twitter:title"], values["parsely-title"])
	if m.Title == "" {
		m.Title = cleanTitle(doc)
	}
	m.Byline = firstOf(ld.Byline, values["dc:creator"], values["dcterm:creator"], values["author"],
		values["parsely-author"], nonURL(values["article:author"]))
	m.Excerpt = firstOf(ld.Excerpt, values["dc:description"], values["dcterm:description"],
		values["og:description"], values["weibo:article:description"],
		values["weibo:webpage:description"], values["description"], values["twitter:description"])
	m.SiteName = firstOf(ld.SiteName, values["og:site_name"])
	m.Published = firstOf(ld.Published, values["article:published_time"], values["parsely-pub-date"])
	m.Image = firstOf(values["og:image"], values["twitter:image"], values["twitter:image:src"],
		ld.Image, linkHref(doc, "image_src"))
	m.Canonical = firstOf(linkHref(doc, "canonical"), values["og:url"])
	m.Language = pageLanguage(doc)
	return m
}

// metaValues maps normalised meta names ("og:title", "author") to their
// content; a later tag overrides an earlier one.
func metaValues(doc *goquery.Document) map[string]string {
	values := map[string]string{}
	doc.Find("meta").Each(func(_ int, s *goquery.Selection) {
		content := strings.TrimSpace(s.AttrOr("content", ""))
		if content == "" {
			return
		}
		content = html.UnescapeString(content)
		if prop := s.AttrOr("property", ""); prop != "" {
			if matches := metaPropertyRe.FindAllString(prop, -1); matches != nil {
				for _, m := range matches {
					values[normaliseMetaName(m)] = content
				}
				return
			}
		}
		if name := s.AttrOr("name", ""); name != "" && metaNameRe.MatchString(name) {
			values[strings.ReplaceAll(normaliseMetaName(name), ".", ":")] = content
		}
	})
	return values
}

// normaliseMetaName lower-cases a meta name and drops its whitespace.
func normaliseMetaName(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), ""))
}

// jsonLD is the article metadata found in a JSON-LD block.
type jsonLD struct {
	Title, Byline, Excerpt, SiteName, Published, Image string
}

// readJSONLD returns the first schema.org article described in a
// <script type="application/ld+json">, or a zero value.
func readJSONLD(doc *goquery.Document) jsonLD {
	var out jsonLD
	doc.Find(`script[type="application/ld+json"]`).EachWithBreak(func(_ int, s *goquery.Selection) bool {
		var parsed any
		text := cdataRe.ReplaceAllString(s.Text(), "")
		if json.Unmarshal([]byte(text), &parsed) != nil {
			return true
		}
		item := findArticleItem(parsed, false)
		if item == nil {
			return true
		}
		out = jsonLDFields(item, doc)
		return false
	})
	return out
}

// findArticleItem searches a decoded JSON-LD value (object, array or
// @graph) for a schema.org article object. inSchema is true once a
// schema.org @context has been seen on an enclosing value.
func findArticleItem(v any, inSchema bool) map[string]any {
	switch t := v.(type) {
	case []any:
		for _, it := range t {
			if item := findArticleItem(it, inSchema); item != nil {
				return item
			}
		}
	case map[string]any:
		if ctx, ok := t["@context"]; ok {
			inSchema = isSchemaContext(ctx)
		}
		if !inSchema {
			return nil
		}
		if isArticleType(t["@type"]) {
			return t
		}
		if graph, ok := t["@graph"]; ok {
			return findArticleItem(graph, inSchema)
		}
	}
	return nil
}

// isSchemaContext reports whether a JSON-LD @context names schema.org.
func isSchemaContext(ctx any) bool {
	switch c := ctx.(type) {
	case string:
		return strings.Contains(strings.ToLower(c), "schema.org")
	case map[string]any:
		return isSchemaContext(c["@vocab"])
	case []any:
		for _, it := range c {
			if isSchemaContext(it) {
				return true
			}
		}
	}
	return false
}

// isArticleType reports whether a JSON-LD @type names an article type.
func isArticleType(t any) bool {
	switch v := t.(type) {
	case string:
		return jsonLDArticleRe.MatchString(v)
	case []any:
		for _, it := range v {
			if isArticleType(it) {
				return true
			}
		}
	}
	return false
}

// jsonLDFields reads the fields Kiln uses from a JSON-LD article.
func jsonLDFields(item map[string]any, doc *goquery.Document) jsonLD {
	var out jsonLD
	name, headline := jsonString(item["name"]), jsonString(item["headline"])
	switch {
	case name != "" && headline != "" && name != headline:
		title := cleanTitle(doc)
		if textSimilarity(headline, title) > 0.75 && textSimilarity(name, title) <= 0.75 {
			out.Title = headline
		} else {
			out.Title = name
		}
	default:
		out.Title = firstOf(name, headline)
	}
	out.Byline = jsonNames(item["author"])
	out.Excerpt = jsonString(item["description"])
	if pub, ok := item["publisher"].(map[string]any); ok {
		out.SiteName = jsonString(pub["name"])
	}
	out.Published = jsonString(item["datePublished"])
	out.Image = jsonImage(item["image"])
	return out
}

// jsonString returns v trimmed and unescaped if it is a string.
func jsonString(v any) string {
	s, _ := v.(string)
	return strings.TrimSpace(html.UnescapeString(s))
}

// jsonNames reads an author value: a name, a person, or a list of persons,
// joined with ", ".
func jsonNames(v any) string {
	switch a := v.(type) {
	case string:
		return nonURL(jsonString(a))
	case map[string]any:
		return jsonString(a["name"])
	case []any:
		var names []string
		for _, it := range a {
			if n := jsonNames(it); n != "" {
				names = append(names, n)
			}
		}
		return strings.Join(names, ", ")
	}
	return ""
}

// jsonImage reads an image value: a URL, an ImageObject, or a list.
func jsonImage(v any) string {
	switch a := v.(type) {
	case string:
		return strings.TrimSpace(a)
	case map[string]any:
		return firstOf(jsonString(a["url"]), jsonString(a["contentUrl"]))
	case []any:
		for _, it := range a {
			if s := jsonImage(it); s != "" {
				return s
			}
		}
	}
	return ""
}

// linkHref is the href of the first <link> whose rel includes rel.
func linkHref(doc *goquery.Document, rel string) string {
	href := ""
	doc.Find("link[href]").EachWithBreak(func(_ int, s *goquery.Selection) bool {
		for _, r := range strings.Fields(strings.ToLower(s.AttrOr("rel", ""))) {
			if r == rel {
				href = strings.TrimSpace(s.AttrOr("href", ""))
				return false
			}
		}
		return true
	})
	return href
}

// pageLanguage is <html lang>, else a Content-Language meta, else og:locale.
func pageLanguage(doc *goquery.Document) string {
	if lang := strings.TrimSpace(doc.Find("html").First().AttrOr("lang", "")); lang != "" {
		return lang
	}
	lang := ""
	doc.Find("meta[http-equiv]").EachWithBreak(func(_ int, s *goquery.Selection) bool {
		if strings.EqualFold(s.AttrOr("http-equiv", ""), "content-language") {
			lang = strings.TrimSpace(s.AttrOr("content", ""))
		}
		return lang == ""
	})
	if lang == "" {
		lang = strings.ReplaceAll(doc.Find(`meta[property="og:locale"]`).AttrOr("content", ""), "_", "-")
	}
	return lang
}

// firstOf returns the first non-blank value, trimmed.
func firstOf(values ...string) string {
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// nonURL returns s unless it looks like a URL (article:author often is).
func nonURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		return ""
	}
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, "www.") {
		return ""
	}
	return s
}

// dateLayouts are the published-date forms met in page metadata.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05Z0700",
	"2006-01-02 15:04:05",
	"2006-01-02",
	time.RFC1123Z,
	time.RFC1123,
	time.RFC850,
	"January 2, 2006",
	"Jan 2, 2006",
	"2 January 2006",
}

// parseDate reads a published date in any of dateLayouts; nil when none fits.
func parseDate(s string) *time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return &t
		}
	}
	return nil
}
