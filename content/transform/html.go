package transform

import (
	"fmt"
	"html"
	"regexp"
	"strings"
)

// RenderHTML renders a post's Markdown as HTML: ATX and setext headings,
// paragraphs, bullet and numbered lists (nested by indentation), block
// quotes, fenced code and rules; inline code, links, autolinks, images,
// bold and italics. Raw HTML is escaped. It covers what posts hold, not
// all of CommonMark; content sanitises the result when it is saved.
func RenderHTML(md string) string {
	var b strings.Builder
	renderBlocks(&b, strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n"))
	return b.String()
}

var (
	atx        = regexp.MustCompile(`^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	fenceOpen  = regexp.MustCompile("^ {0,3}(```+|~~~+)")
	hrule      = regexp.MustCompile(`^ {0,3}([-*_])(?:[ \t]*([-*_])){2,}[ \t]*$`)
	quoteLine  = regexp.MustCompile(`^ {0,3}>[ \t]?`)
	item       = regexp.MustCompile(`^( *)([-*+]|\d{1,9}[.)])[ \t]+(.*)$`)
	underline1 = regexp.MustCompile(`^ {0,3}=+[ \t]*$`)
	underline2 = regexp.MustCompile(`^ {0,3}-+[ \t]*$`)
)

// renderBlocks renders lines as block elements.
func renderBlocks(b *strings.Builder, lines []string) {
	for i := 0; i < len(lines); {
		line := lines[i]
		switch {
		case strings.TrimSpace(line) == "":
			i++
		case fenceOpen.MatchString(line):
			i = renderFence(b, lines, i)
		case atx.MatchString(line):
			m := atx.FindStringSubmatch(line)
			fmt.Fprintf(b, "<h%d>%s</h%d>\n", len(m[1]), inlineHTML(m[2]), len(m[1]))
			i++
		case hrule.MatchString(line):
			b.WriteString("<hr>\n")
			i++
		case quoteLine.MatchString(line):
			i = renderQuote(b, lines, i)
		case item.MatchString(line):
			i = renderList(b, lines, i)
		default:
			i = renderParagraph(b, lines, i)
		}
	}
}

// renderFence renders fenced code from lines[i]; it returns the index
// after the closing fence.
func renderFence(b *strings.Builder, lines []string, i int) int {
	marker := fenceOpen.FindStringSubmatch(lines[i])[1]
	lang := strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(lines[i]), marker[:1]))
	var code []string
	j := i + 1
	for ; j < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[j]), marker); j++ {
		code = append(code, lines[j])
	}
	class := ""
	if f := strings.Fields(lang); len(f) > 0 {
		class = ` class="language-` + html.EscapeString(f[0]) + `"`
	}
	fmt.Fprintf(b, "<pre><code%s>%s</code></pre>\n", class, html.EscapeString(strings.Join(code, "\n")))
	return j + 1
}

// renderQuote renders the block quote starting at lines[i].
func renderQuote(b *strings.Builder, lines []string, i int) int {
	var inner []string
	for ; i < len(lines) && quoteLine.MatchString(lines[i]); i++ {
		inner = append(inner, quoteLine.ReplaceAllString(lines[i], ""))
	}
	b.WriteString("<blockquote>\n")
	renderBlocks(b, inner)
	b.WriteString("</blockquote>\n")
	return i
}

// renderList renders the list starting at lines[i]: items at its
// indentation, with deeper lines rendered inside the item before them.
func renderList(b *strings.Builder, lines []string, i int) int {
	first := item.FindStringSubmatch(lines[i])
	indent, ordered := len(first[1]), !strings.ContainsAny(first[2], "-*+")
	tag := map[bool]string{true: "ol", false: "ul"}[ordered]
	b.WriteString("<" + tag + ">\n")
	for i < len(lines) {
		m := item.FindStringSubmatch(lines[i])
		if m == nil || len(m[1]) != indent || strings.ContainsAny(m[2], "-*+") == ordered {
			break
		}
		text, sub := []string{m[3]}, []string(nil)
		j := i + 1
		for ; j < len(lines); j++ {
			l := lines[j]
			lead := len(l) - len(strings.TrimLeft(l, " \t"))
			switch {
			case strings.TrimSpace(l) == "":
				if j+1 < len(lines) && leading(lines[j+1]) > indent {
					sub = append(sub, "")
					continue
				}
			case lead > indent:
				sub = append(sub, l[min(lead, indent+2):])
				continue
			case len(sub) == 0 && !item.MatchString(l) && !blockStart(l):
				text = append(text, strings.TrimSpace(l))
				continue
			}
			break
		}
		b.WriteString("<li>" + inlineHTML(strings.Join(text, " ")))
		if len(sub) > 0 {
			b.WriteString("\n")
			renderBlocks(b, sub)
		}
		b.WriteString("</li>\n")
		i = j
	}
	b.WriteString("</" + tag + ">\n")
	return i
}

func leading(l string) int {
	if strings.TrimSpace(l) == "" {
		return 0
	}
	return len(l) - len(strings.TrimLeft(l, " \t"))
}

// blockStart reports whether a line starts a block other than a
// paragraph.
func blockStart(l string) bool {
	return atx.MatchString(l) || fenceOpen.MatchString(l) || hrule.MatchString(l) || quoteLine.MatchString(l)
}

// renderParagraph renders the paragraph starting at lines[i], or a setext
// heading when it is underlined.
func renderParagraph(b *strings.Builder, lines []string, i int) int {
	var text []string
	for ; i < len(lines); i++ {
		l := lines[i]
		if len(text) > 0 && (underline1.MatchString(l) || underline2.MatchString(l)) {
			level := 1
			if underline2.MatchString(l) {
				level = 2
			}
			fmt.Fprintf(b, "<h%d>%s</h%d>\n", level, inlineHTML(strings.Join(text, " ")), level)
			return i + 1
		}
		if strings.TrimSpace(l) == "" || blockStart(l) || item.MatchString(l) {
			break
		}
		text = append(text, strings.TrimSpace(l))
	}
	b.WriteString("<p>" + inlineHTML(strings.Join(text, " ")) + "</p>\n")
	return i
}

var (
	inlineCode = regexp.MustCompile("(`+)(.+?)(`+)")
	image      = regexp.MustCompile(`!\[([^\]]*)\]\(\s*([^)\s]+)(?:\s+&#34;[^)]*&#34;)?\s*\)`)
	link       = regexp.MustCompile(`\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*([^)\s]+)(?:\s+&#34;[^)]*&#34;)?\s*\)`)
	autolink   = regexp.MustCompile(`&lt;((?:https?|mailto):[^\s&]+(?:&amp;[^\s&]+)*)&gt;`)
	strong     = regexp.MustCompile(`(\*\*|__)(\S(?:.*?\S)?)(\*\*|__)`)
	em         = regexp.MustCompile(`(^|[^\w*])[*_](\S(?:[^*_]*?\S)?)[*_]($|[^\w*])`)
	stashed    = regexp.MustCompile("\x00(\\d+)\x00")
)

// inlineHTML renders a block's inline Markdown. Tags it makes are stashed
// while emphasis is read, so a URL with underscores stays whole.
func inlineHTML(s string) string {
	var stash []string
	keep := func(h string) string {
		stash = append(stash, h)
		return fmt.Sprintf("\x00%d\x00", len(stash)-1)
	}
	var b strings.Builder
	for s != "" {
		loc := inlineCode.FindStringSubmatchIndex(s)
		if loc == nil {
			b.WriteString(html.EscapeString(s))
			break
		}
		b.WriteString(html.EscapeString(s[:loc[0]]))
		b.WriteString(keep("<code>" + html.EscapeString(strings.TrimSpace(s[loc[4]:loc[5]])) + "</code>"))
		s = s[loc[1]:]
	}
	out := image.ReplaceAllStringFunc(b.String(), func(m string) string {
		sub := image.FindStringSubmatch(m)
		return keep(fmt.Sprintf(`<img src="%s" alt="%s">`, sub[2], sub[1]))
	})
	out = link.ReplaceAllStringFunc(out, func(m string) string {
		sub := link.FindStringSubmatch(m)
		return keep(`<a href="`+sub[2]+`">`) + sub[1] + keep("</a>")
	})
	out = autolink.ReplaceAllStringFunc(out, func(m string) string {
		u := autolink.FindStringSubmatch(m)[1]
		return keep(`<a href="` + u + `">` + u + `</a>`)
	})
	out = strong.ReplaceAllString(out, "<strong>$2</strong>")
	for range 2 { // a match takes the space after it; the next one needs it
		out = em.ReplaceAllString(out, "$1<em>$2</em>$3")
	}
	for stashed.MatchString(out) {
		out = stashed.ReplaceAllStringFunc(out, func(m string) string {
			var n int
			fmt.Sscanf(strings.Trim(m, "\x00"), "%d", &n)
			return stash[n]
		})
	}
	return out
}
