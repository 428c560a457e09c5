package content

import (
	"bytes"
	"fmt"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// markdown renders CommonMark with GitHub's tables, strikethrough and
// autolinks. Raw HTML in the source is left out (goldmark's default), so
// Markdown from a model or a user cannot inject markup.
var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// RenderMarkdown renders a post's Markdown body as HTML, for body_html.
// Raw HTML in the Markdown is omitted.
func RenderMarkdown(md string) (string, error) {
	var b bytes.Buffer
	if err := markdown.Convert([]byte(md), &b); err != nil {
		return "", fmt.Errorf("render markdown: %w", err)
	}
	return b.String(), nil
}
