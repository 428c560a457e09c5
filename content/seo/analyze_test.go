package seo

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kilnhq/kiln/extract/webpage"
	"github.com/kilnhq/kiln/internal/testdata"
)

// page is a corpus page as a post: its Markdown (extracted from the
// fetched page) and its title, excerpt and language from the expected
// metadata.
type page struct {
	markdown, title, excerpt, lang string
}

func loadPage(t *testing.T, name string) page {
	t.Helper()
	dir, err := testdata.Dir("html")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, name, "source.html"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct{ Title, Excerpt, Lang string }
	metaRaw, err := os.ReadFile(filepath.Join(dir, name, "expected-metadata.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(metaRaw, &meta); err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse("http://fakehost/test/page.html")
	art, err := webpage.Extract(context.Background(), string(raw), base)
	if err != nil {
		t.Fatalf("extract %s: %v", name, err)
	}
	return page{markdown: art.Markdown, title: meta.Title, excerpt: meta.Excerpt, lang: meta.Lang}
}

// TestAnalyzeCorpusPages analyzes real articles and checks what is known
// of each page: its title's length, its headings, images and language.
func TestAnalyzeCorpusPages(t *testing.T) {
	cases := []struct {
		page string
		// wantFix are substrings of fixes the report must give; noFix
		// names checks that must give none.
		wantFix []string
		noFix   []string
		check   func(t *testing.T, p page, r Report)
	}{
		{page: "nytimes-1", wantFix: []string{"no H2 subheadings", "images have no alt text (https://static01.nyt.com/"},
			noFix: []string{"links"},
			check: func(t *testing.T, p page, r Report) {
				if r.Stats.FleschReadingEase < 20 || r.Stats.FleschReadingEase > 60 {
					t.Errorf("a news article's Flesch reading ease = %.1f, want 20-60", r.Stats.FleschReadingEase)
				}
			}},
		{page: "gitlab-blog", noFix: []string{"title_length", "meta_description_length", "headings", "links"}},
		{page: "mozilla-2", wantFix: []string{`is H4 after an H2; make it H3`, `vague anchor text ("Learn more"`},
			noFix: []string{"image_alt_text"}},
		{page: "medium-2", wantFix: []string{"is H3 after an H1; make it H2"}},
		{page: "wikipedia", noFix: []string{"headings"}, check: func(t *testing.T, p page, r Report) {
			c, _ := r.Check("image_alt_text")
			if c.Status == StatusGood || len(c.Fixes) != 1 || !strings.Contains(c.Fixes[0], "images have no alt text") {
				t.Errorf("wikipedia's images (most without alt) gave %+v", c)
			}
		}},
		{page: "lemonde-1", check: func(t *testing.T, p page, r Report) {
			c, _ := r.Check("readability")
			if r.Stats.FleschReadingEase != 0 || !strings.Contains(c.Summary, "English only") {
				t.Errorf("a French page got Flesch %.1f, summary %q; want it not computed", r.Stats.FleschReadingEase, c.Summary)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.page, func(t *testing.T) {
			p := loadPage(t, tc.page)
			r := Analyze(Input{Text: p.markdown, Title: p.title, MetaDescription: p.excerpt, Language: p.lang})
			checkInvariants(t, r)
			checkTitleFix(t, p.title, r)
			fixes := strings.Join(r.Fixes(), "\n")
			for _, want := range tc.wantFix {
				if !strings.Contains(fixes, want) {
					t.Errorf("no fix mentions %q; fixes:\n%s", want, fixes)
				}
			}
			for _, id := range tc.noFix {
				if c, _ := r.Check(id); len(c.Fixes) > 0 || c.Score != 100 {
					t.Errorf("check %s = %d %v, want 100 and no fixes", id, c.Score, c.Fixes)
				}
			}
			if tc.check != nil {
				tc.check(t, p, r)
			}
		})
	}
}

// checkTitleFix checks the title check against the title's real length.
func checkTitleFix(t *testing.T, title string, r Report) {
	t.Helper()
	n := utf8.RuneCountInString(title)
	c, _ := r.Check("title_length")
	switch {
	case n > TitleMax:
		want := fmt.Sprintf("title is %d characters; shorten it to at most %d", n, TitleMax)
		if len(c.Fixes) != 1 || !strings.HasPrefix(c.Fixes[0], want) {
			t.Errorf("title of %d characters: fixes %v, want %q", n, c.Fixes, want)
		}
	case n < TitleMin:
		want := fmt.Sprintf("title is %d characters; lengthen it to %d-%d", n, TitleMin, TitleMax)
		if len(c.Fixes) != 1 || !strings.HasPrefix(c.Fixes[0], want) {
			t.Errorf("title of %d characters: fixes %v, want %q", n, c.Fixes, want)
		}
	default:
		if c.Score != 100 {
			t.Errorf("title of %d characters scored %d", n, c.Score)
		}
	}
}

// checkInvariants checks what holds of every report: scores in range,
// statuses from scores, a fix for every check below 100, and the overall
// score the weighted mean of the checks that apply.
func checkInvariants(t *testing.T, r Report) {
	t.Helper()
	sum, weights := 0, 0
	for _, c := range r.Checks {
		if c.Score < 0 || c.Score > 100 {
			t.Errorf("check %s score %d out of range", c.ID, c.Score)
		}
		if c.Status == StatusSkipped {
			continue
		}
		if c.Status != statusOf(c.Score) {
			t.Errorf("check %s: status %s for score %d", c.ID, c.Status, c.Score)
		}
		if c.Score < 100 && len(c.Fixes) == 0 {
			t.Errorf("check %s scored %d without a fix", c.ID, c.Score)
		}
		sum += c.Score * c.Weight
		weights += c.Weight
	}
	if want := int(math.Round(float64(sum) / float64(weights))); r.Score != want {
		t.Errorf("overall score %d, want the weighted mean %d", r.Score, want)
	}
	if len(r.Checks) != 7 {
		t.Errorf("%d checks, want 7", len(r.Checks))
	}
}

const goodBody = `# Baking sourdough bread at home

Baking sourdough bread at home takes time but few tools. You need flour, water, salt and a lively starter.

## Feeding the sourdough starter

Feed the starter the night before. Mix equal weights of flour and water. Leave it somewhere warm. See our [starter guide](/guides/starter) and the [flour chart](https://example.org/flour).

## Shaping the loaf

Shape the dough into a tight ball. Let it rest in a floured basket. ![A shaped loaf in a basket](/img/loaf.jpg)
`

func TestAnalyzeRules(t *testing.T) {
	long := strings.Repeat("The oven heats the stone. ", 80) // 400 words, no headings or links
	cases := []struct {
		name  string
		in    Input
		check string
		// wantScore is the check's score, or -1 to skip; wantFixes are
		// the exact fixes.
		wantScore int
		wantFixes []string
	}{
		{"title too long", Input{Text: goodBody, Title: strings.Repeat("x", 78)}, "title_length", 55,
			[]string{"title is 78 characters; shorten it to at most 60 so search results do not cut it"}},
		{"title ideal", Input{Text: goodBody, Title: strings.Repeat("x", 55)}, "title_length", 100, nil},
		{"title from the H1", Input{Text: goodBody}, "title_length", 100 - 2*(50-30),
			[]string{"title is 30 characters; lengthen it to 50-60 with a descriptive phrase"}},
		{"no title", Input{Text: "Just text."}, "title_length", 0,
			[]string{"add a title of 50 to 60 characters that names the topic"}},
		{"no meta description", Input{Text: goodBody}, "meta_description_length", 0,
			[]string{"add a meta description of 120-160 characters that summarises the page"}},
		{"meta description too long", Input{Text: goodBody, MetaDescription: strings.Repeat("d", 175)}, "meta_description_length", 85,
			[]string{"meta description is 175 characters; shorten it to at most 160"}},
		{"headings fine", Input{Text: goodBody}, "headings", 100, nil},
		{"two H1s and a skipped level", Input{Text: "# One\n\ntext\n\n# Two\n\n#### Deep\n\ntext"}, "headings", 50,
			[]string{"the text has 2 H1 headings; keep one (the title) and make the others H2", `heading "Deep" is H4 after an H1; make it H2`}},
		{"long text without H2", Input{Text: long, Title: "T"}, "headings", 75,
			[]string{"the text has 400 words but no H2 subheadings; add one every 200-300 words"}},
		{"keyword well used", Input{Text: goodBody, Keyword: "sourdough"}, "keyword", 100, nil},
		{"keyword missing everywhere", Input{Text: goodBody, Title: "Home baking", Keyword: "rye"}, "keyword", 10, []string{
			`the keyword "rye" is not in the title; add it, near the start`,
			`the keyword "rye" is not in the first paragraph; use it there`,
			`no subheading (H2-H3) contains "rye"; use it in at least one`,
			`keyword density is 0.00% (0 use(s) in 64 words); use "rye" 1 times`}},
		{"keyword stuffed", Input{Text: "# The stone oven\n\n" + strings.Repeat("stone oven ", 20), Keyword: "stone oven"}, "keyword", 55, []string{
			`no subheading (H2-H3) contains "stone oven"; use it in at least one`,
			`keyword density is 50.00% (20 use(s) in 40 words), which reads as stuffing; use "stone oven" at most 1 times`}},
		{"no keyword", Input{Text: goodBody}, "keyword", -1, nil},
		{"easy English", Input{Text: goodBody}, "readability", 100, nil},
		{"hard text in German is not Flesch-scored", Input{Text: hardText, Title: "T", Language: "de"}, "readability", 100, nil},
		{"empty and vague anchors", Input{Text: "Read [](https://a.example/x) and [click here](https://b.example/y)."}, "links", 70, []string{
			"1 links have no anchor text (https://a.example/x); describe where each leads",
			`1 links have vague anchor text ("click here" (https://b.example/y)); say what the reader gets`}},
		{"long text without links", Input{Text: long}, "links", 65, []string{
			"there are no internal links; link to 2-3 related pages of the site",
			"there are no external links; cite at least one authoritative source"}},
		{"site links are internal", Input{Text: long + " [a](https://www.blog.example/a) [b](https://other.example/b)", SiteURL: "https://blog.example"},
			"links", 100, nil},
		{"images without alt", Input{Text: "![](/a.png) ![ok](/b.png) <img src=\"/c.png\">"}, "image_alt_text", 33,
			[]string{"2 images have no alt text (/a.png, /c.png); describe each in a few words"}},
		{"no images", Input{Text: "Words only."}, "image_alt_text", -1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Analyze(tc.in)
			c, ok := r.Check(tc.check)
			if !ok {
				t.Fatalf("no check %s", tc.check)
			}
			if tc.wantScore >= 0 && c.Score != tc.wantScore {
				t.Errorf("score = %d, want %d (%s; fixes %v)", c.Score, tc.wantScore, c.Summary, c.Fixes)
			}
			if strings.Join(c.Fixes, "\n") != strings.Join(tc.wantFixes, "\n") {
				t.Errorf("fixes:\n%s\nwant:\n%s", strings.Join(c.Fixes, "\n"), strings.Join(tc.wantFixes, "\n"))
			}
		})
	}
}

func TestAnalyzeSkipsWhatDoesNotApply(t *testing.T) {
	r := Analyze(Input{Text: goodBody, Title: strings.Repeat("t", 55)})
	kw, _ := r.Check("keyword")
	if kw.Status != StatusSkipped {
		t.Errorf("keyword check without a keyword = %+v, want skipped", kw)
	}
	withKeyword := Analyze(Input{Text: goodBody, Title: strings.Repeat("t", 55), Keyword: "zebra"})
	if withKeyword.Score >= r.Score {
		t.Errorf("an absent keyword did not lower the score: %d with, %d without", withKeyword.Score, r.Score)
	}
	checkInvariants(t, r)
	checkInvariants(t, withKeyword)
}

func TestKeywordDensity(t *testing.T) {
	text := "Sourdough is bread. " + strings.Repeat("Bread rises slowly. ", 30) + "Sourdough keeps."
	r := Analyze(Input{Text: text, Keyword: "Sourdough"})
	if r.Stats.KeywordCount != 2 || r.Stats.Words != 95 {
		t.Fatalf("count %d in %d words, want 2 in 95", r.Stats.KeywordCount, r.Stats.Words)
	}
	if want := round2(2.0 / 95 * 100); r.Stats.KeywordDensity != want {
		t.Errorf("density = %v, want %v", r.Stats.KeywordDensity, want)
	}
}

// hardText is long sentences of long words.
var hardText = strings.Repeat("Notwithstanding considerable organisational complexities, institutional stakeholders systematically "+
	"underestimate interdependencies characterising multidimensional infrastructural modernisation initiatives. ", 3)

func TestReadabilityScores(t *testing.T) {
	easy := Analyze(Input{Text: goodBody})
	hard := Analyze(Input{Text: hardText, Title: "T"})
	if easy.Stats.FleschReadingEase < 60 {
		t.Errorf("short sentences of short words: Flesch %.1f, want at least 60", easy.Stats.FleschReadingEase)
	}
	if hard.Stats.FleschReadingEase >= 0 {
		t.Errorf("long sentences of long words: Flesch %.1f, want below 0", hard.Stats.FleschReadingEase)
	}
	c, _ := hard.Check("readability")
	want := fmt.Sprintf("Flesch reading ease is %.0f (below 60 is hard", hard.Stats.FleschReadingEase)
	if c.Score != 50 || len(c.Fixes) != 1 || !strings.HasPrefix(c.Fixes[0], want) {
		t.Errorf("hard text: score %d fixes %v, want 50 and %q…", c.Score, c.Fixes, want)
	}
}
