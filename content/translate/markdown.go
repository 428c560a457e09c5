package translate

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// This file keeps Markdown intact through a translation: Protect replaces
// what must not be translated (code blocks, inline code, link and image
// destinations, URLs, HTML, reference definitions) by numbered
// placeholders, ⟦1⟧, ⟦2⟧…; the model translates the prose around them;
// Restore puts the originals back after checking that every placeholder
// came back exactly once, and CheckStructure compares headings, list
// items and table rows.

// ErrLostStructure is wrapped by the errors of Restore and CheckStructure:
// the translation dropped, repeated or invented a placeholder, or changed
// the Markdown structure.
var ErrLostStructure = errors.New("the translation lost the Markdown structure")

// placeholderRe matches a placeholder; the number is its id.
var placeholderRe = regexp.MustCompile(`⟦(\d+)⟧`)

func placeholder(id int) string { return "⟦" + strconv.Itoa(id) + "⟧" }

// Protector numbers placeholders across several texts (the fields of one
// resource), so that no two texts use the same placeholder.
type Protector struct {
	next int
}

// Protected is a text whose code, link destinations, URLs and HTML are
// replaced by placeholders.
type Protected struct {
	// Text is the text with placeholders, what the model translates.
	Text  string
	spans map[int]span
}

// span is what one placeholder stands for.
type span struct {
	text string
	// block spans stand for whole lines (a code block, say): their
	// placeholder is alone on its line.
	block bool
}

// Placeholders reports how many placeholders Text holds.
func (p Protected) Placeholders() int { return len(p.spans) }

// Protect protects one Markdown text with placeholders of its own.
func Protect(md string) Protected {
	var pr Protector
	return pr.Protect(md)
}

// Protect replaces the parts of md a translation must keep by
// placeholders numbered after those pr gave out before.
func (pr *Protector) Protect(md string) Protected {
	p := Protected{spans: map[int]span{}}
	lines := strings.Split(md, "\n")
	var out []string
	st := lineState{prevBlank: true}
	for i := 0; i < len(lines); {
		if n := pr.blockAt(lines, i, st); n > 0 {
			block := strings.Join(lines[i:i+n], "\n")
			out = append(out, leadingSpace(lines[i])+pr.hold(&p, block, true))
			i += n
			st.prevBlank = false
			continue
		}
		st.note(lines[i])
		out = append(out, pr.protectInline(&p, lines[i]))
		i++
	}
	p.Text = strings.Join(out, "\n")
	return p
}

// hold records text as the next placeholder's and returns the placeholder.
func (pr *Protector) hold(p *Protected, text string, block bool) string {
	pr.next++
	p.spans[pr.next] = span{text: text, block: block}
	return placeholder(pr.next)
}

// lineState is what block detection needs to know of the lines before.
type lineState struct {
	prevBlank bool
	// inList: a list item came and no unindented paragraph since, so an
	// indented line continues the item instead of starting code.
	inList bool
}

func (st *lineState) note(line string) {
	blank := strings.TrimSpace(line) == ""
	switch {
	case blank:
	case listItemRe.MatchString(line):
		st.inList = true
	case leadingSpace(line) == "":
		st.inList = false
	}
	st.prevBlank = blank
}

var (
	// fenceRe matches a code fence line, also inside list items and block
	// quotes: its prefix, and the fence.
	fenceRe = regexp.MustCompile("^((?:[ \t]*>)*[ \t]*)(`{3,}|~{3,})(.*)$")
	// refDefRe matches a link reference definition ([label]: url "title");
	// footnotes ([^1]: text) are prose and are not matched.
	refDefRe = regexp.MustCompile(`^ {0,3}\[[^\]^][^\]]*\]:\s*\S+.*$`)
	// rawBlockRe opens an HTML element whose content is not prose.
	rawBlockRe = regexp.MustCompile(`(?i)^\s*<(script|pre|style|textarea)\b`)
)

// blockAt returns how many lines, from lines[i], form a block that is held
// whole: front matter, a fenced or indented code block, a raw HTML block,
// a multi-line HTML comment or a reference definition; 0 if none starts
// there.
func (pr *Protector) blockAt(lines []string, i int, st lineState) int {
	line := lines[i]
	switch {
	case i == 0 && strings.TrimRight(line, " ") == "---":
		return frontMatter(lines)
	case isFence(line):
		return fencedBlock(lines, i)
	case st.prevBlank && !st.inList && isIndentedCode(line):
		return indentedBlock(lines, i)
	case rawBlockRe.MatchString(line):
		tag := strings.ToLower(rawBlockRe.FindStringSubmatch(line)[1])
		return untilContains(lines, i, "</"+tag+">", true)
	case strings.HasPrefix(strings.TrimSpace(line), "<!--") && !strings.Contains(line, "-->"):
		return untilContains(lines, i, "-->", false)
	case refDefRe.MatchString(line):
		return 1
	}
	return 0
}

// isFence reports whether line opens a code fence: a backtick fence's
// info string has no backtick.
func isFence(line string) bool {
	m := fenceRe.FindStringSubmatch(line)
	return m != nil && (m[2][0] == '~' || !strings.Contains(m[3], "`"))
}

// frontMatter returns the length of a YAML front matter block opening the
// text, 0 if there is none.
func frontMatter(lines []string) int {
	for j := 1; j < len(lines); j++ {
		if t := strings.TrimRight(lines[j], " "); t == "---" || t == "..." {
			return j + 1
		}
	}
	return 0
}

// fencedBlock returns the length of the fenced code block opening at
// lines[i]; an unclosed fence runs to the end, as in CommonMark.
func fencedBlock(lines []string, i int) int {
	m := fenceRe.FindStringSubmatch(lines[i])
	fence := m[2]
	for j := i + 1; j < len(lines); j++ {
		c := fenceRe.FindStringSubmatch(lines[j])
		if c != nil && c[2][0] == fence[0] && len(c[2]) >= len(fence) && strings.TrimSpace(c[3]) == "" {
			return j - i + 1
		}
	}
	return len(lines) - i
}

func isIndentedCode(line string) bool {
	return (strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "\t")) && strings.TrimSpace(line) != ""
}

// indentedBlock returns the length of the indented code block at lines[i],
// without its trailing blank lines.
func indentedBlock(lines []string, i int) int {
	n := 0
	for j := i; j < len(lines); j++ {
		if isIndentedCode(lines[j]) {
			n = j - i + 1
			continue
		}
		if strings.TrimSpace(lines[j]) != "" {
			break
		}
	}
	return n
}

// untilContains returns the number of lines from lines[i] through the
// first that contains end (after the first line's opening, when
// sameLine), or to the end of the text.
func untilContains(lines []string, i int, end string, sameLine bool) int {
	if sameLine && strings.Contains(strings.ToLower(lines[i]), end) {
		return 1
	}
	for j := i + 1; j < len(lines); j++ {
		if strings.Contains(strings.ToLower(lines[j]), end) {
			return j - i + 1
		}
	}
	return len(lines) - i
}

func leadingSpace(line string) string {
	return line[:len(line)-len(strings.TrimLeft(line, " \t"))]
}

// piece is a run of a line: text still to translate, or a placeholder.
type piece struct {
	text string
	held bool
}

// finder returns the [start, end) ranges of s to hold.
type finder func(s string) [][]int

var (
	autolinkRe = regexp.MustCompile(`<(?:[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*|[^\s@<>]+@[^\s@<>]+\.[A-Za-z]{2,})>`)
	htmlTagRe  = regexp.MustCompile(`<!--.*?-->|</?[A-Za-z][A-Za-z0-9-]*(?:\s+[^<>]*)?/?>`)
	refLabelRe = regexp.MustCompile(`\]\[[^\]]+\]`)
	bareURLRe  = regexp.MustCompile("(?:https?://|ftp://|www\\.)[^\\s<>\\[\\]\"'`]+")
)

// inlineFinders are applied in order, each to the text the earlier ones
// left: placeholder look-alikes in the source first (so they cannot be
// confused with real ones), then code spans, which win over everything.
var inlineFinders = []finder{
	func(s string) [][]int { return placeholderRe.FindAllStringIndex(s, -1) },
	codeSpans,
	func(s string) [][]int { return autolinkRe.FindAllStringIndex(s, -1) },
	func(s string) [][]int { return htmlTagRe.FindAllStringIndex(s, -1) },
	linkDestinations,
	func(s string) [][]int { return shift(refLabelRe.FindAllStringIndex(s, -1), 1) },
	bareURLs,
}

// protectInline holds the inline parts of one line.
func (pr *Protector) protectInline(p *Protected, line string) string {
	pieces := []piece{{text: line}}
	for _, find := range inlineFinders {
		pieces = pr.split(p, pieces, find)
	}
	var b strings.Builder
	for _, pc := range pieces {
		b.WriteString(pc.text)
	}
	return b.String()
}

// split holds what find finds in the pieces not yet held.
func (pr *Protector) split(p *Protected, pieces []piece, find finder) []piece {
	var out []piece
	for _, pc := range pieces {
		if pc.held {
			out = append(out, pc)
			continue
		}
		at := 0
		for _, r := range find(pc.text) {
			if r[0] < at || r[1] <= r[0] {
				continue
			}
			if r[0] > at {
				out = append(out, piece{text: pc.text[at:r[0]]})
			}
			out = append(out, piece{text: pr.hold(p, pc.text[r[0]:r[1]], false), held: true})
			at = r[1]
		}
		if at < len(pc.text) {
			out = append(out, piece{text: pc.text[at:]})
		}
	}
	return out
}

// shift moves the start of every range by n.
func shift(ranges [][]int, n int) [][]int {
	for _, r := range ranges {
		r[0] += n
	}
	return ranges
}

// codeSpans finds inline code: a run of backticks up to the next run of
// the same length. An unmatched run is literal.
func codeSpans(s string) [][]int {
	var out [][]int
	for i := 0; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		n := runOf(s, i, '`')
		end := -1
		for j := i + n; j < len(s); {
			if s[j] != '`' {
				j++
				continue
			}
			m := runOf(s, j, '`')
			if m == n {
				end = j + m
				break
			}
			j += m
		}
		if end < 0 {
			i += n
			continue
		}
		out = append(out, []int{i, end})
		i = end
	}
	return out
}

func runOf(s string, i int, c byte) int {
	n := 0
	for i+n < len(s) && s[i+n] == c {
		n++
	}
	return n
}

// linkDestinations finds what is between the parentheses of inline links
// and images, [text](destination "title"): the destination and title are
// held, the text is translated.
func linkDestinations(s string) [][]int {
	var out [][]int
	for i := 0; i+1 < len(s); i++ {
		if s[i] != ']' || s[i+1] != '(' {
			continue
		}
		end := closingParen(s, i+2)
		if end < 0 || strings.TrimSpace(s[i+2:end]) == "" {
			continue
		}
		out = append(out, []int{i + 2, end})
		i = end
	}
	return out
}

// closingParen returns the index of the parenthesis that closes the one
// before start, skipping nested pairs, <…> and quoted titles; -1 if none.
func closingParen(s string, start int) int {
	depth := 0
	var quote byte
	for j := start; j < len(s); j++ {
		c := s[j]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\\':
			j++
		case c == '<' && j == start:
			if k := strings.IndexByte(s[j:], '>'); k > 0 {
				j += k
			}
		case c == '"' && j > start && s[j-1] == ' ':
			quote = '"'
		case c == '(':
			depth++
		case c == ')' && depth == 0:
			return j
		case c == ')':
			depth--
		}
	}
	return -1
}

// bareURLs finds URLs in running text, without the punctuation that ends
// a sentence around them.
func bareURLs(s string) [][]int {
	var out [][]int
	for _, r := range bareURLRe.FindAllStringIndex(s, -1) {
		u := s[r[0]:r[1]]
		trimmed := strings.TrimRight(u, ".,;:!?*_")
		for strings.HasSuffix(trimmed, ")") && strings.Count(trimmed, "(") < strings.Count(trimmed, ")") {
			trimmed = strings.TrimSuffix(trimmed, ")")
		}
		out = append(out, []int{r[0], r[0] + len(trimmed)})
	}
	return out
}

// Restore returns translated with every placeholder replaced by what it
// stands for. It fails, wrapping ErrLostStructure, unless each placeholder
// of p occurs exactly once, no other occurs, and each block placeholder
// stands alone on its line.
func (p Protected) Restore(translated string) (string, error) {
	if err := p.checkPlaceholders(translated); err != nil {
		return "", err
	}
	lines := strings.Split(translated, "\n")
	for i, line := range lines {
		if sp, ok := p.blockOf(strings.TrimSpace(line)); ok {
			lines[i] = sp.text
			continue
		}
		lines[i] = placeholderRe.ReplaceAllStringFunc(line, func(ph string) string {
			return p.spans[placeholderID(ph)].text
		})
	}
	return strings.Join(lines, "\n"), nil
}

// blockOf returns the block span whose placeholder is s.
func (p Protected) blockOf(s string) (span, bool) {
	if !placeholderRe.MatchString(s) || placeholderRe.FindString(s) != s {
		return span{}, false
	}
	sp, ok := p.spans[placeholderID(s)]
	return sp, ok && sp.block
}

func placeholderID(ph string) int {
	n, _ := strconv.Atoi(placeholderRe.FindStringSubmatch(ph)[1])
	return n
}

// checkPlaceholders reports placeholders missing, repeated, unknown or (for
// blocks) not alone on their line.
func (p Protected) checkPlaceholders(translated string) error {
	seen := map[int]int{}
	var unknown, inline []string
	for _, line := range strings.Split(translated, "\n") {
		for _, ph := range placeholderRe.FindAllString(line, -1) {
			id := placeholderID(ph)
			sp, ok := p.spans[id]
			switch {
			case !ok:
				unknown = append(unknown, ph)
			case sp.block && strings.TrimSpace(line) != ph:
				inline = append(inline, ph)
			}
			seen[id]++
		}
	}
	var missing, repeated []string
	for _, id := range slices.Sorted(maps.Keys(p.spans)) {
		switch n := seen[id]; {
		case n == 0:
			missing = append(missing, placeholder(id))
		case n > 1:
			repeated = append(repeated, placeholder(id))
		}
	}
	var problems []string
	for _, c := range []struct {
		what string
		list []string
	}{{"missing", missing}, {"repeated", repeated}, {"unknown", unknown}, {"not alone on their line", inline}} {
		if len(c.list) > 0 {
			problems = append(problems, c.what+": "+strings.Join(c.list, " "))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: placeholders %s", ErrLostStructure, strings.Join(problems, "; "))
	}
	return nil
}

// Outline counts the structure of a Markdown text that a translation must
// keep. Count it on protected text, where code is a placeholder.
type Outline struct {
	// Headings counts ATX headings by level (Headings[0] is level 1).
	Headings [6]int
	// Bullets and Numbered count list items.
	Bullets  int
	Numbered int
	// TableRows counts lines of tables.
	TableRows int
	// Rules counts thematic breaks and setext heading underlines.
	Rules int
}

var (
	headingRe  = regexp.MustCompile(`^ {0,3}(#{1,6})(?:[ \t]|$)`)
	listItemRe = regexp.MustCompile(`^[ \t]*(?:>[ \t]*)*(?:[-*+]|\d{1,9}[.)])[ \t]+\S`)
	numberedRe = regexp.MustCompile(`^[ \t]*(?:>[ \t]*)*\d{1,9}[.)][ \t]+\S`)
	tableRowRe = regexp.MustCompile(`^[ \t]*(?:>[ \t]*)*\|`)
	ruleRe     = regexp.MustCompile(`^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,}|=+[ \t]*)$`)
)

// OutlineOf counts the structure of md.
func OutlineOf(md string) Outline {
	var o Outline
	for _, line := range strings.Split(md, "\n") {
		switch {
		case headingRe.MatchString(line):
			o.Headings[len(headingRe.FindStringSubmatch(line)[1])-1]++
		case ruleRe.MatchString(line):
			o.Rules++
		case numberedRe.MatchString(line):
			o.Numbered++
		case listItemRe.MatchString(line):
			o.Bullets++
		case tableRowRe.MatchString(line):
			o.TableRows++
		}
	}
	return o
}

// CheckStructure compares the outline of a protected source with that of
// its translation; a difference wraps ErrLostStructure and names it.
func CheckStructure(source, translated string) error {
	a, b := OutlineOf(source), OutlineOf(translated)
	if a == b {
		return nil
	}
	var diffs []string
	for i := range a.Headings {
		if a.Headings[i] != b.Headings[i] {
			diffs = append(diffs, fmt.Sprintf("level-%d headings %d → %d", i+1, a.Headings[i], b.Headings[i]))
		}
	}
	for _, c := range []struct {
		what string
		x, y int
	}{{"bullet items", a.Bullets, b.Bullets}, {"numbered items", a.Numbered, b.Numbered},
		{"table rows", a.TableRows, b.TableRows}, {"rules", a.Rules, b.Rules}} {
		if c.x != c.y {
			diffs = append(diffs, fmt.Sprintf("%s %d → %d", c.what, c.x, c.y))
		}
	}
	return fmt.Errorf("%w: %s", ErrLostStructure, strings.Join(diffs, ", "))
}

// Segments cuts a protected text into pieces of at most max bytes at blank
// lines (a longer paragraph stays whole); joined with a blank line they
// are the text again.
func Segments(text string, max int) []string {
	blocks := strings.Split(text, "\n\n")
	var out []string
	cur := ""
	for i, b := range blocks {
		switch {
		case i == 0:
			cur = b
		case len(cur)+2+len(b) > max:
			out = append(out, cur)
			cur = b
		default:
			cur += "\n\n" + b
		}
	}
	return append(out, cur)
}
