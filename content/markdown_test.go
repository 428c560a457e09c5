package content_test

import (
	"strings"
	"testing"

	"github.com/kilnhq/kiln/content"
)

func TestRenderMarkdown(t *testing.T) {
	cases := []struct{ name, md, want string }{
		{"headings and paragraphs", "# Title\n\nOne line\nand more.\n\nSub\n---\n\n###### Six ##",
			"<h1>Title</h1>\n<p>One line\nand more.</p>\n<h2>Sub</h2>\n<h6>Six</h6>\n"},
		{"inline", "A **bold** and *em* and _em_ with `a_b <c>` and snake_case_name.",
			"<p>A <strong>bold</strong> and <em>em</em> and <em>em</em> with <code>a_b &lt;c&gt;</code> and snake_case_name.</p>\n"},
		{"links and images", `See [the *docs*](https://x.example/a_b_c?q=1&r=2 "t") and ![a cat](/c.png) and <https://auto.example/x>.`,
			`<p>See <a href="https://x.example/a_b_c?q=1&amp;r=2" title="t">the <em>docs</em></a> and <img src="/c.png" alt="a cat"> and <a href="https://auto.example/x">https://auto.example/x</a>.</p>` + "\n"},
		{"lists", "- one\n- two\n  - nested\n\n1. first\n2. second",
			"<ul>\n<li>one</li>\n<li>two\n<ul>\n<li>nested</li>\n</ul>\n</li>\n</ul>\n<ol>\n<li>first</li>\n<li>second</li>\n</ol>\n"},
		{"quote, code and rule", "> quoted *text*\n\n```go\nx := a < b\n```\n\n---",
			"<blockquote>\n<p>quoted <em>text</em></p>\n</blockquote>\n<pre><code class=\"language-go\">x := a &lt; b\n</code></pre>\n<hr>\n"},
		{"a table", "| a | b |\n|---|---|\n| 1 | 2 |",
			"<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>1</td>\n<td>2</td>\n</tr>\n</tbody>\n</table>\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := content.RenderMarkdown(c.md)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("RenderMarkdown:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}

func TestRenderMarkdownDropsRawHTML(t *testing.T) {
	for _, md := range []string{"<script>alert(1)</script>", "Hi <img src=x onerror=alert(1)> there", "[x](javascript:alert(1))"} {
		got, err := content.RenderMarkdown(md)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(got, "<script") || strings.Contains(got, "onerror") || strings.Contains(got, "javascript:") {
			t.Errorf("%q rendered with live markup: %s", md, got)
		}
	}
}
