package webpage

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
)

// mustURL parses a URL or fails the test.
func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parsing %q: %v", raw, err)
	}
	return u
}

// extract runs Extract on page from pageURL and fails the test on error.
func extract(t *testing.T, page, pageURL string) Article {
	t.Helper()
	a, err := Extract(context.Background(), page, mustURL(t, pageURL))
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	return a
}

// filler is prose long enough for the scorer to treat a block as content.
const filler = "Stoneware is fired hot and long, so the clay body vitrifies, and the glaze, applied thickly, melts into a glassy skin that seals the pot. "

// articlePage wraps body HTML into a page whose article has enough prose.
func articlePage(head, body string) string {
	return "<!DOCTYPE html><html><head>" + head + "</head><body><article>" +
		"<p>" + strings.Repeat(filler, 3) + "</p>" + body +
		"<p>" + strings.Repeat(filler, 2) + "</p></article></body></html>"
}

func TestExtractRemovesBoilerplate(t *testing.T) {
	src, err := os.ReadFile("testdata/boilerplate.html")
	if err != nil {
		t.Fatalf("reading fixture: %v", err)
	}
	a := extract(t, string(src), "https://example.com/articles/kilns")
	for _, junk := range []string{"TRACKINGSCRIPT", "COOKIEBANNER", "NAVNEWS", "NAVGLAZE", "SIDEBARLINK",
		"SHAREBAR", "NEWSLETTERBOX", "RELATEDLINK", "COMMENTTEXT", "FOOTERTEXT", "Accept all", "By Jane Potter"} {
		for name, out := range map[string]string{"Text": a.Text, "HTML": a.HTML, "Markdown": a.Markdown} {
			if strings.Contains(out, junk) {
				t.Errorf("%s keeps boilerplate %q", name, junk)
			}
		}
	}
	wantParagraphs := []string{
		"The kiln is the heart of every pottery",
		"Wood-fired kilns demand the most attention.",
		"Electric kilns changed the craft",
		"Gas kilns sit in between",
		"Reading the cones",
		"Pyrometric cones bend at known heat-work",
		"Cone 06 for low-fire glazes\nCone 6 for mid-range stoneware\nCone 10 for high-fire reduction",
		"When the last cone falls",
	}
	paragraphs := strings.Split(a.Text, "\n\n")
	if len(paragraphs) != len(wantParagraphs) {
		t.Fatalf("Text has %d paragraphs, want %d:\n%s", len(paragraphs), len(wantParagraphs), a.Text)
	}
	for i, want := range wantParagraphs {
		if !strings.HasPrefix(paragraphs[i], want) {
			t.Errorf("paragraph %d = %q, want it to start with %q", i, paragraphs[i], want)
		}
	}
	if a.Title != "Kilns and the people who keep them" {
		t.Errorf("Title = %q", a.Title)
	}
	if a.Byline != "By Jane Potter" {
		t.Errorf("Byline = %q", a.Byline)
	}
	if !strings.Contains(a.Markdown, "## Reading the cones") || !strings.Contains(a.Markdown, "- Cone 6 for mid-range stoneware") {
		t.Errorf("Markdown lacks the heading or the list:\n%s", a.Markdown)
	}
}

func TestExtractKeepsWordsApart(t *testing.T) {
	page := articlePage("", `<div><p>alpha</p><p>beta</p></div><ul><li>gamma</li><li>delta</li></ul>`+
		`<table><tr><td>epsilon</td><td>zeta</td></tr><tr><td>eta</td><td>theta</td></tr></table>`+
		`<h3>iota</h3><blockquote>kappa</blockquote><p>lambda<br>mu</p><div><span>nu</span> <b>xi</b></div>`)
	a := extract(t, page, "https://example.com/")
	fields := strings.Fields(a.Text)
	for _, w := range []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu", "xi"} {
		found := false
		for _, f := range fields {
			if f == w {
				found = true
			}
		}
		if !found {
			t.Errorf("word %q is not a separate word of the text:\n%s", w, a.Text)
		}
	}
}

func TestExtractBrChainsBecomeParagraphs(t *testing.T) {
	line := "Glazes run when the kiln overfires, pooling at the foot of the pot and gluing it to the shelf"
	page := "<html><body><div>" + strings.Repeat(line+" one.<br><br>"+line+" two.<br/> <br/>"+line+" three.<br>", 3) + "</div></body></html>"
	a := extract(t, page, "https://example.com/")
	if n := strings.Count(a.Text, "\n\n"); n < 3 {
		t.Errorf("Text has %d paragraph breaks, want at least 3:\n%s", n, a.Text)
	}
	if strings.Contains(a.HTML, "<br/><br/>") {
		t.Errorf("HTML keeps a <br><br> chain:\n%s", a.HTML)
	}
}

func TestExtractResolvesLinksAndImages(t *testing.T) {
	body := `<p><a href="foo/bar.html">rel</a> <a href="/root.html">root</a> <a href="#note">hash</a>` +
		` <a href="//cdn.example.org/x">proto</a> <a href="https://other.example/y">abs</a></p>` +
		`<p><img src="img/a.png" alt="a"> <img src="/b.png" alt="b"></p>`
	cases := []struct {
		name, head, pageURL string
		want                []string
	}{
		{
			name:    "page URL",
			pageURL: "https://example.com/blog/post/",
			want: []string{`href="https://example.com/blog/post/foo/bar.html"`, `href="https://example.com/root.html"`,
				`href="#note"`, `href="https://cdn.example.org/x"`, `href="https://other.example/y"`,
				`src="https://example.com/blog/post/img/a.png"`, `src="https://example.com/b.png"`},
		},
		{
			name:    "base href",
			head:    `<base href="https://static.example.net/base/">`,
			pageURL: "https://example.com/blog/post/",
			want: []string{`href="https://static.example.net/base/foo/bar.html"`, `href="https://static.example.net/root.html"`,
				`href="https://static.example.net/base/#note"`, `src="https://static.example.net/base/img/a.png"`},
		},
		{
			name:    "relative base href",
			head:    `<base href="/assets/">`,
			pageURL: "https://example.com/blog/post/",
			want:    []string{`href="https://example.com/assets/foo/bar.html"`, `src="https://example.com/assets/img/a.png"`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := extract(t, articlePage(c.head, body), c.pageURL)
			for _, w := range c.want {
				if !strings.Contains(a.HTML, w) {
					t.Errorf("HTML lacks %s:\n%s", w, a.HTML)
				}
			}
		})
	}
}

func TestExtractLazyImages(t *testing.T) {
	cases := []struct {
		name, img, want string
	}{
		{"data-src", `<img data-src="/lazy/one.jpg" alt="one">`, `src="https://example.com/lazy/one.jpg"`},
		{"placeholder src and data-src", `<img class="lazyload" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="/lazy/two.png">`, `src="https://example.com/lazy/two.png"`},
		{"data-srcset", `<img data-srcset="/s/small.jpg 320w, /s/large.jpg 1024w">`, `src="https://example.com/s/large.jpg"`},
		{"srcset only", `<img srcset="/t/1x.webp 1x, /t/2x.webp 2x">`, `src="https://example.com/t/2x.webp"`},
		{"picture source", `<picture><source srcset="/p/wide.jpg 1200w, /p/narrow.jpg 600w"><img alt="pic"></picture>`, `src="https://example.com/p/wide.jpg"`},
		{"noscript fallback", `<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-lazy="1"><noscript><img src="/real/three.jpg"></noscript>`, `src="https://example.com/real/three.jpg"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := extract(t, articlePage("", "<figure>"+c.img+"<figcaption>A pot fresh from the kiln</figcaption></figure>"), "https://example.com/post")
			if !strings.Contains(a.HTML, c.want) {
				t.Errorf("HTML lacks %s:\n%s", c.want, a.HTML)
			}
			if !strings.Contains(a.Markdown, "![") {
				t.Errorf("Markdown has no image:\n%s", a.Markdown)
			}
		})
	}
}

func TestExtractSanitises(t *testing.T) {
	body := `<p onclick="steal()" style="color:red">Click <a href="javascript:alert(1)">here</a> or ` +
		`<a href="https://example.com/ok" onmouseover="x()">there</a>.</p>` +
		`<script>alert("inline")</script><iframe src="https://evil.example/"></iframe>` +
		`<img src="javascript:alert(2)" onerror="alert(3)">`
	a := extract(t, articlePage("", body), "https://example.com/")
	for _, bad := range []string{"<script", "alert", "onclick", "onmouseover", "onerror", "javascript:", "style=", "<iframe", "steal"} {
		if strings.Contains(a.HTML, bad) {
			t.Errorf("HTML keeps %q:\n%s", bad, a.HTML)
		}
		if strings.Contains(a.Markdown, bad) {
			t.Errorf("Markdown keeps %q:\n%s", bad, a.Markdown)
		}
	}
	if !strings.Contains(a.HTML, `<a href="https://example.com/ok">there</a>`) {
		t.Errorf("HTML lost the safe link:\n%s", a.HTML)
	}
	if !strings.Contains(a.Text, "Click here or there.") {
		t.Errorf("Text lost the javascript: link's words:\n%s", a.Text)
	}
}

func TestExtractNoContent(t *testing.T) {
	cases := map[string]string{
		"empty":            "",
		"empty body":       "<html><head><title>Nothing here</title></head><body></body></html>",
		"only scripts":     "<html><body><script>document.write('hi')</script><style>p{}</style></body></html>",
		"only hidden text": `<html><body><div style="display:none">` + strings.Repeat(filler, 5) + `</div><p hidden>` + filler + `</p></body></html>`,
	}
	for name, page := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Extract(context.Background(), page, mustURL(t, "https://example.com/"))
			if !errors.Is(err, ErrNoContent) {
				t.Errorf("Extract error = %v, want ErrNoContent", err)
			}
		})
	}
}

func TestExtractHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Extract(ctx, articlePage("", ""), mustURL(t, "https://example.com/"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Extract error = %v, want context.Canceled", err)
	}
}

func TestExtractRefusesHugePages(t *testing.T) {
	cases := map[string]string{
		"too many elements": "<html><body><p>" + strings.Repeat("<i>x</i>", MaxElements) + "</p></body></html>",
		"too deep":          "<html><body>" + strings.Repeat("<div>", 600) + filler + "</body></html>",
	}
	for name, page := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Extract(context.Background(), page, mustURL(t, "https://example.com/"))
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("Extract error = %v, want ErrTooLarge", err)
			}
		})
	}
}

func TestExtractWithoutPageURL(t *testing.T) {
	a, err := Extract(context.Background(), articlePage("", `<p><a href="/x">x</a></p>`), nil)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if !strings.Contains(a.HTML, `href="/x"`) {
		t.Errorf("without a page URL a relative link should stay as it is:\n%s", a.HTML)
	}
}

func TestExtractCookieWallIsNoContent(t *testing.T) {
	page := `<html><body><div class="cookie-consent"><p>We value your privacy. We and our partners use cookies to store and access information on your device.</p><button>Accept</button></div></body></html>`
	_, err := Extract(context.Background(), page, mustURL(t, "https://example.com/"))
	if !errors.Is(err, ErrNoContent) {
		t.Errorf("Extract error = %v, want ErrNoContent", err)
	}
}
