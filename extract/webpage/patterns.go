package webpage

import (
	"regexp"
	"strings"
	"unicode"
)

// The word lists below judge an element by its class and id. They follow
// the ideas of Arc90's and Mozilla's Readability, extended with the
// boilerplate of today's pages (cookie and consent banners, newsletters,
// paywalls). Matching is by lower-case substring, or by whole word where
// a substring would catch too much ("nav" in "canvas").

// markers is a word list: substrings, and whole words (runs of letters
// and digits) that must match exactly.
type markers struct {
	substrings []string
	words      []string
}

// match reports whether s (a class or id string) carries one of the markers.
func (m markers) match(s string) bool {
	if s == "" || isBlank(s) {
		return false
	}
	s = strings.ToLower(s)
	for _, sub := range m.substrings {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return len(m.words) > 0 && hasWord(s, m.words)
}

// hasWord reports whether one of s's alphanumeric words is in words.
func hasWord(s string, words []string) bool {
	for _, w := range strings.FieldsFunc(s, notAlnum) {
		for _, want := range words {
			if w == want {
				return true
			}
		}
	}
	return false
}

// notAlnum reports runes that separate words.
func notAlnum(r rune) bool {
	return !unicode.IsLetter(r) && !unicode.IsDigit(r)
}

// unlikely marks elements that are almost never the article.
var unlikely = markers{
	substrings: []string{"-ad-", "ai2html", "banner", "breadcrumb", "combx", "comment", "community",
		"cookie", "consent", "cover-wrap", "disqus", "extra", "footer", "gdpr", "header", "legends",
		"menu", "newsletter", "related", "remark", "replies", "rss", "shoutbox", "sidebar",
		"skyscraper", "social", "sponsor", "supplemental", "ad-break", "agegate", "pagination",
		"pager", "popup", "yom-remote", "navbar", "navigation", "subscribe", "paywall", "modal"},
	words: []string{"nav", "ad", "ads", "advert", "advertisement"},
}

// alwaysJunk marks furniture that is never content, removed even when a
// retry relaxes the unlikely-candidate filter (if it holds little text).
var alwaysJunk = markers{
	substrings: []string{"cookie", "consent", "gdpr", "newsletter"},
}

// maybeCandidate rescues unlikely-looking elements that also look like content.
var maybeCandidate = markers{
	substrings: []string{"and", "article", "body", "column", "content", "main", "mathjax", "shadow"},
}

// positive raises an element's class weight.
var positive = markers{
	substrings: []string{"article", "body", "content", "entry", "hentry", "h-entry", "main", "page",
		"pagination", "post", "text", "blog", "story"},
}

// negative lowers an element's class weight.
var negative = markers{
	substrings: []string{"-ad-", "hidden", "banner", "combx", "comment", "com-", "contact", "cookie",
		"consent", "foot", "gdpr", "masthead", "media", "meta", "newsletter", "outbrain", "promo",
		"related", "scroll", "share", "shoutbox", "sidebar", "skyscraper", "sponsor", "shopping",
		"tags", "widget", "subscribe", "modal"},
	words: []string{"hid"},
}

// bylineMarkers mark an element holding the author line.
var bylineMarkers = markers{
	substrings: []string{"byline", "author", "dateline", "writtenby", "p-author"},
}

// shareMarkers mark share bars and buttons.
var shareMarkers = markers{
	words: []string{"share", "sharedaddy", "sharing", "sharebar", "sharetools"},
}

// videoRe matches embedded players worth keeping.
var videoRe = regexp.MustCompile(`(?i)//(www\.)?((dailymotion|youtube|youtube-nocookie|player\.vimeo|v\.qq)\.com|(archive|upload\.wikimedia)\.org|player\.twitch\.tv)`)

// isComma reports the commas of Latin, Arabic, CJK and other scripts.
func isComma(r rune) bool {
	switch r {
	case ',', '\u060C', '\uFE50', '\uFE10', '\uFE11', '\u2E41', '\u2E34', '\u2E32', '\uFF0C':
		return true
	}
	return false
}

// adWordsRe matches a block whose whole text is an advertising label.
var adWordsRe = regexp.MustCompile(`(?i)^(ad(vertising|vertisement)?|pub(licité)?|werb(ung)?|广告|Реклама|Anuncio)$`)

// loadingWordsRe matches a block whose whole text is a loading indicator.
var loadingWordsRe = regexp.MustCompile(`(?i)^((loading|正在加载|Загрузка|chargement|cargando)(…|\.\.\.)?)$`)

// sentenceEndRe finds the end of a sentence in a short paragraph.
var sentenceEndRe = regexp.MustCompile(`\.( |$)`)

// unlikelyRoles are ARIA roles of page furniture.
var unlikelyRoles = map[string]bool{
	"menu": true, "menubar": true, "complementary": true, "navigation": true,
	"alert": true, "alertdialog": true, "dialog": true,
}

// hiddenStyleRe spots inline styles that hide an element.
var hiddenStyleRe = regexp.MustCompile(`(?i)(^|;)\s*(display\s*:\s*none|visibility\s*:\s*hidden)\s*(!important)?\s*(;|$)`)
