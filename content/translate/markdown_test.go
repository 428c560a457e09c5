package translate_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kilnhq/kiln/content/translate"
	"github.com/kilnhq/kiln/content/translate/translatetest"
	"github.com/kilnhq/kiln/extract/webpage"
	"github.com/kilnhq/kiln/internal/testdata"
)

// corpusMarkdown extracts the Markdown of a page of the shared corpus, as
// post.from_url stores it.
func corpusMarkdown(t *testing.T, name string) string {
	t.Helper()
	dir, err := testdata.Dir("html")
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, name, "source.html"))
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse("http://fakehost/test/page.html")
	art, err := webpage.Extract(context.Background(), string(page), base)
	if err != nil {
		t.Fatalf("extract %s: %v", name, err)
	}
	return art.Markdown
}

var (
	fencedRe     = regexp.MustCompile("(?s)```.*?\n```")
	urlRe        = regexp.MustCompile(`https?://[^\s)<>"\]]+`)
	linkTargetRe = regexp.MustCompile(`\]\(([^)]*)\)`)
)

// TestProtectRoundTripOnCorpus protects real Markdown (pages of the shared
// corpus with code fences, inline code, links and images), checks that no
// code or URL is left for the model to see, "translates" the prose, and
// checks that restoring brings back every code block and URL verbatim.
func TestProtectRoundTripOnCorpus(t *testing.T) {
	cases := []struct {
		page                           string
		minFences, minLinks, minImages int
	}{
		{"001", 4, 10, 1},
		{"v8-blog", 5, 5, 0},
		{"ietf-1", 0, 5, 0},
		{"lazy-image-1", 1, 1, 3},
		{"toc-missing", 1, 5, 0},
	}
	for _, tc := range cases {
		t.Run(tc.page, func(t *testing.T) {
			md := corpusMarkdown(t, tc.page)
			fences := fencedRe.FindAllString(md, -1)
			if len(fences) < tc.minFences || strings.Count(md, "](") < tc.minLinks || strings.Count(md, "![") < tc.minImages {
				t.Fatalf("the page has %d fences, %d links, %d images; the case expects more", len(fences), strings.Count(md, "]("), strings.Count(md, "!["))
			}
			p := translate.Protect(md)

			for _, leak := range []string{"```", "`", "http://", "https://"} {
				if strings.Contains(p.Text, leak) {
					t.Errorf("protected text still holds %q:\n%s", leak, excerptAround(p.Text, leak))
				}
			}
			for _, m := range linkTargetRe.FindAllStringSubmatch(p.Text, -1) {
				if !regexp.MustCompile(`^⟦\d+⟧$`).MatchString(m[1]) {
					t.Errorf("a link destination was left to translate: %q", m[0])
				}
			}
			same, err := p.Restore(p.Text)
			if err != nil || same != md {
				t.Fatalf("restoring the untranslated text: err %v, identical %v", err, same == md)
			}

			translated := translatetest.Prose(p.Text, "de")
			if err := translate.CheckStructure(p.Text, translated); err != nil {
				t.Fatalf("structure of a faithful translation: %v", err)
			}
			out, err := p.Restore(translated)
			if err != nil {
				t.Fatalf("restore: %v", err)
			}
			if out == md || !strings.Contains(out, "«de»") {
				t.Fatal("the restored text is not the translation")
			}
			for _, f := range fences {
				if !strings.Contains(out, f) {
					t.Errorf("code block lost or changed:\n%s", f)
				}
			}
			for _, u := range urlRe.FindAllString(md, -1) {
				if strings.Count(out, u) != strings.Count(md, u) {
					t.Errorf("URL %s: %d times in the source, %d in the translation", u, strings.Count(md, u), strings.Count(out, u))
				}
			}
			if strings.Count(out, "`") != strings.Count(md, "`") {
				t.Errorf("backticks: %d in the source, %d in the translation", strings.Count(md, "`"), strings.Count(out, "`"))
			}
		})
	}
}

func excerptAround(s, sub string) string {
	i := strings.Index(s, sub)
	return s[max(0, i-80):min(len(s), i+80)]
}

// TestProtect checks what each construct becomes, and that restoring the
// protected text gives the input back.
func TestProtect(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"inline code and link", "See [the docs](https://kiln.dev/a_(b)) and `kiln run`.",
			"See [the docs](⟦2⟧) and ⟦1⟧."},
		{"image with title", `![A cat](cat.png "The cat")`, "![A cat](⟦1⟧)"},
		{"double backticks", "Use ``a ` b`` here", "Use ⟦1⟧ here"},
		{"unmatched backtick stays", "a ` b", "a ` b"},
		{"autolink", "Mail <hello@kiln.dev> or visit <https://kiln.dev>", "Mail ⟦1⟧ or visit ⟦2⟧"},
		{"bare URL without the full stop", "Go to https://kiln.dev/docs.", "Go to ⟦1⟧."},
		{"bare URL in parentheses", "(see https://kiln.dev/x)", "(see ⟦1⟧)"},
		{"inline HTML", "Press <kbd>Ctrl</kbd>", "Press ⟦1⟧Ctrl⟦2⟧"},
		{"reference link and definition", "[Kiln][k] is here.\n\n[k]: https://kiln.dev \"Kiln\"",
			"[Kiln]⟦1⟧ is here.\n\n⟦2⟧"},
		{"footnote stays prose", "Text[^1].\n\n[^1]: A note.", "Text[^1].\n\n[^1]: A note."},
		{"placeholder look-alike in the source", "Write ⟦1⟧ literally", "Write ⟦1⟧ literally"},
		{"fenced block", "Intro:\n\n```go\nfmt.Println(\"# not a heading\")\n```\n\nAfter.", "Intro:\n\n⟦1⟧\n\nAfter."},
		{"tilde fence in a list item", "- Step:\n\n    ~~~\n    make run\n    ~~~\n- Done", "- Step:\n\n    ⟦1⟧\n- Done"},
		{"unclosed fence runs to the end", "A\n```\ncode\nmore", "A\n⟦1⟧"},
		{"indented code", "Run:\n\n    go test ./...\n    go vet ./...\n\nThen.", "Run:\n\n    ⟦1⟧\n\nThen."},
		{"indented list continuation is prose", "- item\n\n    more about the item", "- item\n\n    more about the item"},
		{"front matter", "---\ntitle: Hi\n---\n# Hi", "⟦1⟧\n# Hi"},
		{"script block", "<script>\nvar a = 1 < 2;\n</script>\nText", "⟦1⟧\nText"},
		{"multi-line comment", "<!--\nTODO\n-->\nText", "⟦1⟧\nText"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := translate.Protect(tc.in)
			if p.Text != tc.want {
				t.Errorf("protected:\n%q\nwant\n%q", p.Text, tc.want)
			}
			back, err := p.Restore(p.Text)
			if err != nil || back != tc.in {
				t.Errorf("restore: %q, %v; want the input", back, err)
			}
		})
	}
}

// TestProtectorNumbersApart checks that the texts of one resource get
// placeholders of their own, and reject each other's.
func TestProtectorNumbersApart(t *testing.T) {
	var pr translate.Protector
	title := pr.Protect("The `kiln` CLI")
	body := pr.Protect("Run `kiln run` and `kiln test`.")
	if title.Text != "The ⟦1⟧ CLI" || body.Text != "Run ⟦2⟧ and ⟦3⟧." {
		t.Fatalf("title %q, body %q", title.Text, body.Text)
	}
	if _, err := title.Restore("Die ⟦2⟧ CLI"); !errors.Is(err, translate.ErrLostStructure) {
		t.Fatalf("a placeholder of another text: %v, want ErrLostStructure", err)
	}
}

// TestRestoreRejects checks that a translation that lost, repeated,
// invented or moved a placeholder is refused.
func TestRestoreRejects(t *testing.T) {
	p := translate.Protect("Use `a` and `b`.\n\n```\ncode\n```\n\nEnd.")
	if p.Text != "Use ⟦1⟧ and ⟦2⟧.\n\n⟦3⟧\n\nEnd." || p.Placeholders() != 3 {
		t.Fatalf("protected %q (%d placeholders)", p.Text, p.Placeholders())
	}
	cases := []struct {
		name, translated, want string
	}{
		{"missing", "Nutze ⟦1⟧.\n\n⟦3⟧\n\nEnde.", "missing: ⟦2⟧"},
		{"repeated", "Nutze ⟦1⟧ und ⟦2⟧ und ⟦2⟧.\n\n⟦3⟧\n\nEnde.", "repeated: ⟦2⟧"},
		{"unknown", "Nutze ⟦1⟧ und ⟦2⟧ ⟦9⟧.\n\n⟦3⟧\n\nEnde.", "unknown: ⟦9⟧"},
		{"block not alone", "Nutze ⟦1⟧ und ⟦2⟧. ⟦3⟧\n\nEnde.", "not alone on their line: ⟦3⟧"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Restore(tc.translated)
			if !errors.Is(err, translate.ErrLostStructure) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrLostStructure with %q", err, tc.want)
			}
		})
	}
	out, err := p.Restore("Nutze ⟦2⟧ und ⟦1⟧.\n\n  ⟦3⟧\n\nEnde.")
	if err != nil || out != "Nutze `b` und `a`.\n\n```\ncode\n```\n\nEnde." {
		t.Fatalf("reordered placeholders: %q, %v", out, err)
	}
}

// TestCheckStructure checks that headings, list items, table rows and
// rules must survive, while prose may be rewrapped.
func TestCheckStructure(t *testing.T) {
	src := "# Title\n\nIntro text on\ntwo lines.\n\n## Part\n\n- one\n- two\n\n1. first\n2. second\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n---\n\nEnd."
	cases := []struct {
		name, translated, want string
	}{
		{"faithful, rewrapped", "# Titel\n\nEinleitung auf einer Zeile.\n\n## Teil\n\n- eins\n- zwei\n\n1. erstens\n2. zweitens\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n---\n\nEnde.", ""},
		{"heading level changed", "# Titel\n\nText.\n\n### Teil\n\n- eins\n- zwei\n\n1. erstens\n2. zweitens\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n---\n\nEnde.", "level-2 headings 1 → 0"},
		{"list items merged", "# Titel\n\nText.\n\n## Teil\n\n- eins und zwei\n\n1. erstens\n2. zweitens\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n---\n\nEnde.", "bullet items 2 → 1"},
		{"numbered list made bullets", "# Titel\n\nText.\n\n## Teil\n\n- eins\n- zwei\n\n- erstens\n- zweitens\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n---\n\nEnde.", "numbered items 2 → 0"},
		{"table row lost", "# Titel\n\nText.\n\n## Teil\n\n- eins\n- zwei\n\n1. erstens\n2. zweitens\n\n| a | b |\n| 1 | 2 |\n\n---\n\nEnde.", "table rows 3 → 2"},
		{"rule lost", "# Titel\n\nText.\n\n## Teil\n\n- eins\n- zwei\n\n1. erstens\n2. zweitens\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nEnde.", "rules 1 → 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := translate.CheckStructure(src, tc.translated)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected %v", err)
			case tc.want != "" && (!errors.Is(err, translate.ErrLostStructure) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err %v, want ErrLostStructure with %q", err, tc.want)
			}
		})
	}
}

// TestSegments checks that a long text is cut at blank lines into pieces
// that join back into it.
func TestSegments(t *testing.T) {
	md := corpusMarkdown(t, "v8-blog")
	p := translate.Protect(md)
	for _, limit := range []int{200, 1000, 5000, 1 << 20} {
		segs := translate.Segments(p.Text, limit)
		if strings.Join(segs, "\n\n") != p.Text {
			t.Fatalf("limit %d: the segments do not join back into the text", limit)
		}
		for i, s := range segs {
			if len(s) > limit && strings.Contains(s, "\n\n") {
				t.Errorf("limit %d: segment %d has %d bytes and could have been cut", limit, i, len(s))
			}
		}
		if limit < len(p.Text) && len(segs) < 2 {
			t.Errorf("limit %d: one segment for %d bytes", limit, len(p.Text))
		}
	}
}
