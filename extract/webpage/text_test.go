package webpage

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

func TestPlainText(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"paragraphs", "<p>one</p><p>two</p>", "one\n\ntwo"},
		{"adjacent blocks without whitespace", "<div>one</div><div>two</div><h2>three</h2>", "one\n\ntwo\n\nthree"},
		{"inline stays joined", "<p>un<b>believ</b>able</p>", "unbelievable"},
		{"whitespace collapsed", "<p>  a \n\t b  </p>", "a b"},
		{"list items on lines", "<ul><li>a</li><li>b</li></ul><p>c</p>", "a\nb\n\nc"},
		{"table cells apart", "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>", "a b\nc d"},
		{"br is a line break", "<p>a<br>b</p>", "a\nb"},
		{"pre kept", "<pre>a\n  b</pre><p>c</p>", "a\n  b\n\nc"},
		{"scripts skipped", "<p>a<script>x()</script></p><style>p{}</style>", "a"},
		{"images separate words", `<p>a<img src="x.png">b</p>`, "a b"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, err := html.Parse(strings.NewReader(c.in))
			if err != nil {
				t.Fatalf("parsing: %v", err)
			}
			if got := tidyText(plainText(doc)); got != c.want {
				t.Errorf("plainText = %q, want %q", got, c.want)
			}
		})
	}
}
