package webpage

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/go-cmp/cmp"
)

// parseDoc parses a page for the metadata readers.
func parseDoc(t *testing.T, page string) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(page))
	if err != nil {
		t.Fatalf("parsing page: %v", err)
	}
	return doc
}

func TestReadMetadata(t *testing.T) {
	cases := []struct {
		name string
		head string
		html string // attributes of <html>
		want metadata
	}{
		{
			name: "plain meta tags",
			html: `lang="fr-CA"`,
			head: `<title>Firing schedules for cone ten stoneware</title>
				<meta name="author" content="Ana Potter">
				<meta name="description" content="How long to hold at peak.">
				<link rel="canonical" href="https://example.com/firing">`,
			want: metadata{Title: "Firing schedules for cone ten stoneware", Byline: "Ana Potter",
				Excerpt: "How long to hold at peak.", Canonical: "https://example.com/firing", Language: "fr-CA"},
		},
		{
			name: "OpenGraph",
			head: `<title>Ignored title</title>
				<meta property="og:title" content="Glaze chemistry without tears">
				<meta property="og:description" content="Oxides, fluxes and silica.">
				<meta property="og:site_name" content="Clay Weekly">
				<meta property="og:image" content="https://img.example.com/glaze.jpg">
				<meta property="og:url" content="https://example.com/glaze">
				<meta property="article:published_time" content="2024-03-05T10:00:00Z">
				<meta property="article:author" content="https://example.com/authors/ana">`,
			want: metadata{Title: "Glaze chemistry without tears", Excerpt: "Oxides, fluxes and silica.",
				SiteName: "Clay Weekly", Image: "https://img.example.com/glaze.jpg",
				Canonical: "https://example.com/glaze", Published: "2024-03-05T10:00:00Z"},
		},
		{
			name: "Twitter card",
			head: `<meta name="twitter:title" content="Raku in the rain">
				<meta name="twitter:description" content="Smoke, sawdust and luck.">
				<meta name="twitter:image" content="https://img.example.com/raku.jpg">`,
			want: metadata{Title: "Raku in the rain", Excerpt: "Smoke, sawdust and luck.", Image: "https://img.example.com/raku.jpg"},
		},
		{
			name: "space-separated properties and Dublin Core",
			head: `<meta property="dc:title og:title" content="Preferred title">
				<meta name="dc.creator" content="Creator Name">
				<meta property="og:description twitter:description" content="Preferred description">`,
			want: metadata{Title: "Preferred title", Byline: "Creator Name", Excerpt: "Preferred description"},
		},
		{
			name: "JSON-LD article beats meta tags",
			head: `<meta property="og:title" content="Social title">
				<meta name="author" content="Meta Author">
				<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle",
				"headline":"The kiln that never cooled","author":{"@type":"Person","name":"Jo Kiln"},
				"datePublished":"2021-11-01T10:52:50+0100","description":"A story of heat.",
				"publisher":{"@type":"Organization","name":"Kiln News"},"image":{"@type":"ImageObject","url":"https://img.example.com/k.jpg"}}</script>`,
			want: metadata{Title: "The kiln that never cooled", Byline: "Jo Kiln", Excerpt: "A story of heat.",
				SiteName: "Kiln News", Published: "2021-11-01T10:52:50+0100", Image: "https://img.example.com/k.jpg"},
		},
		{
			name: "JSON-LD graph, several authors",
			head: `<script type="application/ld+json">{"@context":"http://schema.org","@graph":[
				{"@type":"WebSite","name":"Site"},
				{"@type":"BlogPosting","name":"Two hands on one pot","author":[{"name":"A. One"},{"name":"B. Two"}]}]}</script>`,
			want: metadata{Title: "Two hands on one pot", Byline: "A. One, B. Two"},
		},
		{
			name: "JSON-LD array and CDATA",
			head: `<script type="application/ld+json"><![CDATA[[{"@context":"https://schema.org","@type":"Organization","name":"Org"},
				{"@context":"https://schema.org","@type":["Article"],"headline":"Wedging clay by hand","author":"Sam Wedge"}]]]></script>`,
			want: metadata{Title: "Wedging clay by hand", Byline: "Sam Wedge"},
		},
		{
			name: "JSON-LD name and headline: the one matching <title> wins",
			head: `<title>Throwing a tall cylinder on the wheel | Studio</title>
				<script type="application/ld+json">{"@context":"https://schema.org","@type":"Article",
				"name":"Studio Magazine","headline":"Throwing a tall cylinder on the wheel"}</script>`,
			want: metadata{Title: "Throwing a tall cylinder on the wheel"},
		},
		{
			name: "JSON-LD without schema.org context is ignored",
			head: `<title>Trimming feet on bowls and plates</title>
				<script type="application/ld+json">{"@type":"Article","headline":"Other"}</script>`,
			want: metadata{Title: "Trimming feet on bowls and plates"},
		},
		{
			name: "broken JSON-LD is ignored",
			head: `<title>Reclaiming dry scraps of clay</title><script type="application/ld+json">{"@context":</script>`,
			want: metadata{Title: "Reclaiming dry scraps of clay"},
		},
		{
			name: "entities in meta content",
			head: `<meta property="og:title" content="Salt &amp;amp; soda firing">`,
			want: metadata{Title: "Salt & soda firing"},
		},
		{
			name: "language from Content-Language",
			head: `<title>Underglaze pencils and their uses</title><meta http-equiv="Content-Language" content="de">`,
			want: metadata{Title: "Underglaze pencils and their uses", Language: "de"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := parseDoc(t, "<html "+c.html+"><head>"+c.head+"</head><body><p>x</p></body></html>")
			if d := cmp.Diff(c.want, readMetadata(doc)); d != "" {
				t.Errorf("readMetadata (-want +got):\n%s", d)
			}
		})
	}
}

func TestCleanTitle(t *testing.T) {
	cases := []struct {
		title, body, want string
	}{
		{"Kilns and the people who keep them | The Pottery Times", "", "Kilns and the people who keep them"},
		{"Get your Frontend JavaScript Code Covered | Code | Nicolas Perriault", "", "Get your Frontend JavaScript Code Covered | Code"},
		{"Kilns and their keepers | The Pottery Times", "", "Kilns and their keepers | The Pottery Times"},
		{"Pottery Times - Glazing: a complete guide for beginners", "", "Glazing: a complete guide for beginners"},
		{"Mozilla - Wikipedia", "", "Mozilla - Wikipedia"},
		{"Glazing a large platter evenly » News", "", "Glazing a large platter evenly"},
		{"News > Craft > Glazing a large platter evenly", "", "News > Craft > Glazing a large platter evenly"},
		{"Craft: Glazing a large platter evenly", "", "Glazing a large platter evenly"},
		{"This is a long title with a colon: Hello there", "<h1>This is a long title with a colon: Hello there</h1>", "This is a long title with a colon: Hello there"},
		{"Home", "<h1>Centering clay on the wheel</h1>", "Centering clay on the wheel"},
		{"  Spaced   out\n title for the page  ", "", "Spaced out title for the page"},
	}
	for _, c := range cases {
		t.Run(c.title, func(t *testing.T) {
			doc := parseDoc(t, "<html><head><title>"+c.title+"</title></head><body>"+c.body+"</body></html>")
			if got := cleanTitle(doc); got != c.want {
				t.Errorf("cleanTitle = %q, want %q", got, c.want)
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	cases := []struct {
		in   string
		want string // RFC 3339, "" for nil
	}{
		{"2019-01-03T07:00:02.000Z", "2019-01-03T07:00:02Z"},
		{"2021-11-01T10:52:50+0100", "2021-11-01T10:52:50+01:00"},
		{"2017-11-03 03:01:00.000000", "2017-11-03T03:01:00Z"},
		{"2019-04-28 06:01:07", "2019-04-28T06:01:07Z"},
		{"2024-06-25", "2024-06-25T00:00:00Z"},
		{"Mon, 02 Jan 2006 15:04:05 -0700", "2006-01-02T15:04:05-07:00"},
		{"last Tuesday", ""},
		{"", ""},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got := parseDate(c.in)
			switch {
			case c.want == "" && got != nil:
				t.Errorf("parseDate = %v, want nil", got)
			case c.want != "" && got == nil:
				t.Errorf("parseDate = nil, want %s", c.want)
			case c.want != "" && got.Format(time.RFC3339) != c.want:
				t.Errorf("parseDate = %s, want %s", got.Format(time.RFC3339), c.want)
			}
		})
	}
}

func TestExtractBylineFromContent(t *testing.T) {
	cases := []struct {
		name, markup string
	}{
		{"rel author", `<p>Written by <a rel="author" href="/u/mo">Mo Clay</a></p>`},
		{"itemprop author", `<span itemprop="author">Mo Clay</span>`},
		{"byline class", `<div class="article-byline">Mo Clay</div>`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := extract(t, articlePage("<title>Bisque firing without fear or cracks</title>", c.markup), "https://example.com/")
			if !strings.Contains(a.Byline, "Mo Clay") {
				t.Errorf("Byline = %q, want it to name Mo Clay", a.Byline)
			}
			if strings.Contains(a.Text, "Mo Clay") {
				t.Errorf("the byline stays in the text:\n%s", a.Text)
			}
		})
	}
}

func TestExtractMetadataFields(t *testing.T) {
	head := `<title>Bisque firing without fear or cracks | Kiln Notes</title>
		<meta property="og:site_name" content="Kiln Notes">
		<meta property="og:image" content="/img/lead.jpg">
		<link rel="canonical" href="/notes/bisque">
		<meta property="article:published_time" content="2025-02-03T04:05:06Z">`
	a := extract(t, `<html lang="en-GB">`+strings.TrimPrefix(articlePage(head, ""), "<!DOCTYPE html><html>"), "https://example.com/notes/bisque?utm=x")
	want := Article{
		Title: "Bisque firing without fear or cracks", SiteName: "Kiln Notes", Language: "en-GB",
		LeadImage: "https://example.com/img/lead.jpg", Canonical: "https://example.com/notes/bisque",
	}
	got := Article{Title: a.Title, SiteName: a.SiteName, Language: a.Language, LeadImage: a.LeadImage, Canonical: a.Canonical}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("metadata (-want +got):\n%s", d)
	}
	if a.Published == nil || !a.Published.Equal(time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)) {
		t.Errorf("Published = %v", a.Published)
	}
	if !strings.HasPrefix(a.Excerpt, "Stoneware is fired hot and long") {
		t.Errorf("Excerpt should fall back to the first paragraph, got %q", a.Excerpt)
	}
}
