package rag

import (
	"strings"
)

// section is a byte range of a document under one heading path. A heading
// line belongs to the section it opens.
type section struct {
	start, end int
	path       []string
}

// sections splits text at its Markdown ATX headings ("# Title" to
// "###### Title"), ignoring lines inside fenced code blocks. Text without
// headings is one section with an empty path.
func sections(text string) []section {
	var out []section
	var stack []heading
	start := 0
	fence := ""
	for pos := 0; pos < len(text); {
		line, next := lineAt(text, pos)
		if f := fenceOf(line); f != "" && (fence == "" || strings.HasPrefix(f, fence)) {
			fence = toggle(fence, f)
		} else if h, ok := parseHeading(line); ok && fence == "" {
			if pos > start {
				out = append(out, section{start, pos, pathOf(stack)})
			}
			stack = push(stack, h)
			start = pos
		}
		pos = next
	}
	if start < len(text) {
		out = append(out, section{start, len(text), pathOf(stack)})
	}
	return out
}

type heading struct {
	level int
	title string
}

// lineAt returns the line starting at pos (without its newline) and the
// offset of the next line.
func lineAt(text string, pos int) (string, int) {
	i := strings.IndexByte(text[pos:], '\n')
	if i < 0 {
		return text[pos:], len(text)
	}
	return text[pos : pos+i], pos + i + 1
}

// parseHeading reads an ATX heading: up to three spaces, one to six #, then
// a space or the end of the line; closing #s are dropped.
func parseHeading(line string) (heading, bool) {
	line = strings.TrimRight(line, " \t\r")
	trimmed := strings.TrimLeft(line, " ")
	if len(line)-len(trimmed) > 3 {
		return heading{}, false
	}
	level := 0
	for level < len(trimmed) && trimmed[level] == '#' {
		level++
	}
	if level == 0 || level > 6 || (level < len(trimmed) && trimmed[level] != ' ' && trimmed[level] != '\t') {
		return heading{}, false
	}
	title := strings.TrimSpace(trimmed[level:])
	if t := strings.TrimRight(title, "#"); t == "" || strings.HasSuffix(t, " ") || strings.HasSuffix(t, "\t") {
		title = strings.TrimSpace(t)
	}
	return heading{level, title}, true
}

// fenceOf returns the fence (``` or ~~~, three or more) that opens or
// closes a code block on this line, or "".
func fenceOf(line string) string {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 || len(t) < 3 || (t[0] != '`' && t[0] != '~') {
		return ""
	}
	n := 0
	for n < len(t) && t[n] == t[0] {
		n++
	}
	if n < 3 {
		return ""
	}
	return t[:n]
}

// toggle opens a fence when none is open, and closes the open one.
func toggle(open, f string) string {
	if open == "" {
		return f
	}
	return ""
}

// push makes h the innermost heading, dropping those at its level or below.
func push(stack []heading, h heading) []heading {
	for len(stack) > 0 && stack[len(stack)-1].level >= h.level {
		stack = stack[:len(stack)-1]
	}
	return append(stack, h)
}

func pathOf(stack []heading) []string {
	out := make([]string, 0, len(stack))
	for _, h := range stack {
		if h.title != "" {
			out = append(out, h.title)
		}
	}
	return out
}
