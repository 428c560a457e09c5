package seo

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Ideal lengths and limits of the rule-based checks.
const (
	TitleMin       = 50
	TitleMax       = 60
	DescriptionMin = 120
	DescriptionMax = 160
	// DensityMin and DensityMax bound the keyword density, in percent.
	DensityMin = 0.5
	DensityMax = 2.5
	// LongText is the word count above which a text needs H2 sections
	// and links.
	LongText = 300
	// LongSentence and LongParagraph are the word counts above which a
	// sentence or paragraph is too long to read easily.
	LongSentence  = 25
	LongParagraph = 150
)

// Input is what Analyze checks. Text is Markdown; the other fields are
// optional.
type Input struct {
	Text            string `json:"text"`
	Title           string `json:"title"`
	MetaDescription string `json:"meta_description"`
	Keyword         string `json:"keyword"`
	// Language is a BCP 47 tag; Flesch reading ease is computed for
	// English ("en", "en-GB", …) and for an empty language only.
	Language string `json:"language"`
	// SiteURL is the site's address: absolute links to its host count as
	// internal.
	SiteURL string `json:"site_url"`
}

// The status of a check, from its score.
const (
	StatusGood    = "good"    // 80-100
	StatusImprove = "improve" // 50-79
	StatusPoor    = "poor"    // 0-49
	StatusSkipped = "skipped" // not applicable; not in the overall score
)

// Check is one rule-based check: a score from 0 to 100 and the concrete
// fixes that would raise it.
type Check struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Score   int      `json:"score"`
	Status  string   `json:"status"`
	Weight  int      `json:"weight"`
	Summary string   `json:"summary"`
	Fixes   []string `json:"fixes"`
}

// Stats are the measurements behind the checks.
type Stats struct {
	Words             int     `json:"words"`
	Sentences         int     `json:"sentences"`
	Paragraphs        int     `json:"paragraphs"`
	Headings          int     `json:"headings"`
	WordsPerSentence  float64 `json:"words_per_sentence"`
	FleschReadingEase float64 `json:"flesch_reading_ease"`
	InternalLinks     int     `json:"internal_links"`
	ExternalLinks     int     `json:"external_links"`
	Images            int     `json:"images"`
	KeywordCount      int     `json:"keyword_count"`
	KeywordDensity    float64 `json:"keyword_density"`
	TitleLength       int     `json:"title_length"`
	DescriptionLength int     `json:"meta_description_length"`
}

// Report is Analyze's answer: the overall score (the weighted mean of the
// checks that apply), each check, and the measurements.
type Report struct {
	Score  int     `json:"score"`
	Status string  `json:"status"`
	Checks []Check `json:"checks"`
	Stats  Stats   `json:"stats"`
}

// Fixes lists every fix of every check, in check order.
func (r Report) Fixes() []string {
	var out []string
	for _, c := range r.Checks {
		out = append(out, c.Fixes...)
	}
	return out
}

// Check returns the check with the given id.
func (r Report) Check(id string) (Check, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

// analysis is one Analyze call's reading of the input.
type analysis struct {
	in    Input
	doc   Document
	title string
	words []string
	stats Stats
}

// Analyze runs the rule-based checks on in. It is a pure function: no
// model, no I/O.
func Analyze(in Input) Report {
	a := &analysis{in: in, doc: Parse(in.Text)}
	a.title = strings.TrimSpace(in.Title)
	if a.title == "" {
		a.title = firstH1(a.doc)
	}
	a.words = words(strings.Join(a.doc.Paragraphs, " "))
	a.stats = Stats{Words: len(a.words), Paragraphs: len(a.doc.Paragraphs), Headings: len(a.doc.Headings),
		Images: len(a.doc.Images), TitleLength: utf8.RuneCountInString(a.title),
		DescriptionLength: utf8.RuneCountInString(strings.TrimSpace(in.MetaDescription))}
	checks := []Check{a.titleCheck(), a.descriptionCheck(), a.headingCheck(), a.keywordCheck(),
		a.readabilityCheck(), a.linkCheck(), a.imageCheck()}
	return Report{Score: overall(checks), Status: statusOf(overall(checks)), Checks: checks, Stats: a.stats}
}

func firstH1(d Document) string {
	for _, h := range d.Headings {
		if h.Level == 1 {
			return h.Text
		}
	}
	return ""
}

// overall is the weighted mean of the checks that apply.
func overall(checks []Check) int {
	sum, weights := 0, 0
	for _, c := range checks {
		if c.Status != StatusSkipped {
			sum += c.Score * c.Weight
			weights += c.Weight
		}
	}
	if weights == 0 {
		return 0
	}
	return int(math.Round(float64(sum) / float64(weights)))
}

func statusOf(score int) string {
	switch {
	case score >= 80:
		return StatusGood
	case score >= 50:
		return StatusImprove
	}
	return StatusPoor
}

// check builds a check from its score and fixes.
func check(id, name string, weight, score int, summary string, fixes []string) Check {
	score = max(0, min(100, score))
	if fixes == nil {
		fixes = []string{}
	}
	return Check{ID: id, Name: name, Weight: weight, Score: score, Status: statusOf(score), Summary: summary, Fixes: fixes}
}

func skipped(id, name string, weight int, summary string) Check {
	return Check{ID: id, Name: name, Weight: weight, Status: StatusSkipped, Summary: summary, Fixes: []string{}}
}

// lengthScore scores a length against an ideal range: 100 inside it,
// falling by step points per character outside.
func lengthScore(n, lo, hi int, step float64) int {
	switch {
	case n < lo:
		return int(100 - step*float64(lo-n))
	case n > hi:
		return int(100 - step*float64(n-hi))
	}
	return 100
}

func (a *analysis) titleCheck() Check {
	const id, name, weight = "title_length", "Title length", 15
	n := a.stats.TitleLength
	switch {
	case n == 0:
		return check(id, name, weight, 0, "there is no title",
			[]string{fmt.Sprintf("add a title of %d to %d characters that names the topic", TitleMin, TitleMax)})
	case n > TitleMax:
		return check(id, name, weight, lengthScore(n, TitleMin, TitleMax, 2.5), fmt.Sprintf("the title is %d characters", n),
			[]string{fmt.Sprintf("title is %d characters; shorten it to at most %d so search results do not cut it", n, TitleMax)})
	case n < TitleMin:
		return check(id, name, weight, lengthScore(n, TitleMin, TitleMax, 2), fmt.Sprintf("the title is %d characters", n),
			[]string{fmt.Sprintf("title is %d characters; lengthen it to %d-%d with a descriptive phrase", n, TitleMin, TitleMax)})
	}
	return check(id, name, weight, 100, fmt.Sprintf("the title is %d characters, within %d-%d", n, TitleMin, TitleMax), nil)
}

func (a *analysis) descriptionCheck() Check {
	const id, name, weight = "meta_description_length", "Meta description length", 10
	n := a.stats.DescriptionLength
	switch {
	case n == 0:
		return check(id, name, weight, 0, "there is no meta description",
			[]string{fmt.Sprintf("add a meta description of %d-%d characters that summarises the page", DescriptionMin, DescriptionMax)})
	case n > DescriptionMax:
		return check(id, name, weight, lengthScore(n, DescriptionMin, DescriptionMax, 1), fmt.Sprintf("the meta description is %d characters", n),
			[]string{fmt.Sprintf("meta description is %d characters; shorten it to at most %d", n, DescriptionMax)})
	case n < DescriptionMin:
		return check(id, name, weight, lengthScore(n, DescriptionMin, DescriptionMax, 1), fmt.Sprintf("the meta description is %d characters", n),
			[]string{fmt.Sprintf("meta description is %d characters; lengthen it to %d-%d", n, DescriptionMin, DescriptionMax)})
	}
	return check(id, name, weight, 100, fmt.Sprintf("the meta description is %d characters, within %d-%d", n, DescriptionMin, DescriptionMax), nil)
}

func (a *analysis) headingCheck() Check {
	const id, name, weight = "headings", "Heading structure", 15
	var fixes []string
	h1, h2 := 0, 0
	for _, h := range a.doc.Headings {
		h1 += b2i(h.Level == 1)
		h2 += b2i(h.Level == 2)
	}
	switch {
	case h1 > 1:
		fixes = append(fixes, fmt.Sprintf("the text has %d H1 headings; keep one (the title) and make the others H2", h1))
	case h1 == 0 && a.title == "":
		fixes = append(fixes, "there is neither a title nor an H1 heading; add one")
	}
	fixes = append(fixes, skippedLevels(a.doc.Headings, strings.TrimSpace(a.in.Title) != "")...)
	for _, h := range a.doc.Headings {
		if h.Text == "" {
			fixes = append(fixes, fmt.Sprintf("an H%d heading is empty; give it text or remove it", h.Level))
		}
	}
	if a.stats.Words > LongText && h2 == 0 {
		fixes = append(fixes, fmt.Sprintf("the text has %d words but no H2 subheadings; add one every 200-300 words", a.stats.Words))
	}
	summary := fmt.Sprintf("%d headings (%d H1, %d H2)", len(a.doc.Headings), h1, h2)
	return check(id, name, weight, 100-25*len(fixes), summary, fixes)
}

// skippedLevels reports headings that go down more than one level, as H2
// then H4. A separate title stands for the H1 above the first heading.
func skippedLevels(hs []Heading, hasTitle bool) []string {
	var fixes []string
	prev := 0
	if hasTitle {
		prev = 1
	}
	for _, h := range hs {
		if prev > 0 && h.Level > prev+1 {
			fixes = append(fixes, fmt.Sprintf("heading %q is H%d after an H%d; make it H%d", clip(h.Text, 60), h.Level, prev, prev+1))
		}
		prev = h.Level
	}
	return fixes
}

func (a *analysis) keywordCheck() Check {
	const id, name, weight = "keyword", "Keyword use", 20
	kw := strings.TrimSpace(a.in.Keyword)
	if kw == "" {
		return skipped(id, name, weight, "no focus keyword was given; pass keyword to check its use")
	}
	text := strings.Join(a.doc.Paragraphs, " ")
	a.stats.KeywordCount = countPhrase(text, kw)
	if a.stats.Words > 0 {
		a.stats.KeywordDensity = round2(float64(a.stats.KeywordCount) / float64(a.stats.Words) * 100)
	}
	var fixes []string
	score := 0
	if countPhrase(a.title, kw) > 0 {
		score += 25
	} else {
		fixes = append(fixes, fmt.Sprintf("the keyword %q is not in the title; add it, near the start", kw))
	}
	if len(a.doc.Paragraphs) > 0 && countPhrase(a.doc.Paragraphs[0], kw) > 0 {
		score += 20
	} else {
		fixes = append(fixes, fmt.Sprintf("the keyword %q is not in the first paragraph; use it there", kw))
	}
	if a.inSubheading(kw) {
		score += 15
	} else {
		fixes = append(fixes, fmt.Sprintf("no subheading (H2-H3) contains %q; use it in at least one", kw))
	}
	if a.in.MetaDescription == "" || countPhrase(a.in.MetaDescription, kw) > 0 {
		score += 10
	} else {
		fixes = append(fixes, fmt.Sprintf("the meta description does not contain %q; add it", kw))
	}
	densityScore, fix := a.densityFix(kw)
	score += densityScore
	if fix != "" {
		fixes = append(fixes, fix)
	}
	summary := fmt.Sprintf("%q appears %d times (density %.2f%%)", kw, a.stats.KeywordCount, a.stats.KeywordDensity)
	return check(id, name, weight, score, summary, fixes)
}

func (a *analysis) inSubheading(kw string) bool {
	for _, h := range a.doc.Headings {
		if (h.Level == 2 || h.Level == 3) && countPhrase(h.Text, kw) > 0 {
			return true
		}
	}
	return false
}

// densityFix scores the keyword density (uses per 100 words; 30 points)
// and says how many uses would bring it into range.
func (a *analysis) densityFix(kw string) (int, string) {
	d := a.stats.KeywordDensity
	lo := max(int(math.Ceil(DensityMin/100*float64(a.stats.Words))), 1)
	hi := max(int(math.Floor(DensityMax/100*float64(a.stats.Words))), 1)
	uses := fmt.Sprintf("%d use(s) in %d words", a.stats.KeywordCount, a.stats.Words)
	times := fmt.Sprintf("%d-%d times", lo, hi)
	if lo == hi {
		times = fmt.Sprintf("%d times", lo)
	}
	switch {
	case a.stats.Words == 0:
		return 0, "the text is empty; write the body before checking the keyword"
	case d < DensityMin:
		return int(30 * d / DensityMin), fmt.Sprintf("keyword density is %.2f%% (%s); use %q %s", d, uses, kw, times)
	case d > DensityMax:
		return max(0, int(30-10*(d-DensityMax))), fmt.Sprintf("keyword density is %.2f%% (%s), which reads as stuffing; use %q at most %d times", d, uses, kw, hi)
	}
	return 30, ""
}

func (a *analysis) readabilityCheck() Check {
	const id, name, weight = "readability", "Readability", 20
	if a.stats.Words == 0 {
		return check(id, name, weight, 0, "there is no body text", []string{"write the body text"})
	}
	nSentences, long, syl := 0, 0, 0
	var fixes []string
	longParas := 0
	for _, p := range a.doc.Paragraphs {
		ss := sentences(p)
		nSentences += len(ss)
		for _, s := range ss {
			long += b2i(len(words(s)) > LongSentence)
		}
		longParas += b2i(len(words(p)) > LongParagraph)
	}
	for _, w := range a.words {
		syl += syllables(w)
	}
	a.stats.Sentences = nSentences
	a.stats.WordsPerSentence = round2(float64(a.stats.Words) / float64(max(nSentences, 1)))
	score := 100
	summary := fmt.Sprintf("%.1f words per sentence", a.stats.WordsPerSentence)
	if english(a.in.Language) {
		fre := fleschReadingEase(a.stats.Words, max(nSentences, 1), syl)
		a.stats.FleschReadingEase = round2(fre)
		summary = fmt.Sprintf("Flesch reading ease %.0f; %s", fre, summary)
		if fre < 60 {
			score -= int(math.Min(50, (60-fre)*1.25))
			fixes = append(fixes, fmt.Sprintf("Flesch reading ease is %.0f (below 60 is hard for a general reader); use shorter sentences and simpler words", fre))
		}
	} else {
		summary += "; Flesch reading ease applies to English only and was not computed"
	}
	if share := float64(long) / float64(max(nSentences, 1)); share > 0.25 {
		score -= 25
		fixes = append(fixes, fmt.Sprintf("%d of %d sentences have more than %d words; split them", long, nSentences, LongSentence))
	}
	if longParas > 0 {
		score -= min(25, 10*longParas)
		fixes = append(fixes, fmt.Sprintf("%d paragraphs are longer than %d words; split them", longParas, LongParagraph))
	}
	return check(id, name, weight, score, summary, fixes)
}

func english(lang string) bool {
	l := strings.ToLower(lang)
	return l == "" || l == "en" || strings.HasPrefix(l, "en-")
}

func (a *analysis) linkCheck() Check {
	const id, name, weight = "links", "Links", 10
	site := siteHost(a.in.SiteURL)
	var empty, vague []string
	for _, l := range a.doc.Links {
		if internal(l.URL, site) {
			a.stats.InternalLinks++
		} else {
			a.stats.ExternalLinks++
		}
		switch t := strings.ToLower(strings.TrimSpace(l.Text)); {
		case t == "" && (l.Image || strings.HasPrefix(l.URL, "#")):
			// an image link (its alt text is checked with the images) or a
			// heading's permalink
		case t == "":
			empty = append(empty, l.URL)
		case vagueAnchors[t]:
			vague = append(vague, fmt.Sprintf("%q (%s)", l.Text, l.URL))
		}
	}
	var fixes []string
	score := 100
	if len(empty) > 0 {
		score -= min(50, 20*len(empty))
		fixes = append(fixes, fmt.Sprintf("%d links have no anchor text (%s); describe where each leads", len(empty), list(empty, 3)))
	}
	if len(vague) > 0 {
		score -= min(30, 10*len(vague))
		fixes = append(fixes, fmt.Sprintf("%d links have vague anchor text (%s); say what the reader gets", len(vague), list(vague, 3)))
	}
	if a.stats.Words > LongText && a.stats.InternalLinks == 0 {
		score -= 25
		fixes = append(fixes, "there are no internal links; link to 2-3 related pages of the site")
	}
	if a.stats.Words > LongText && a.stats.ExternalLinks == 0 {
		score -= 10
		fixes = append(fixes, "there are no external links; cite at least one authoritative source")
	}
	summary := fmt.Sprintf("%d internal and %d external links", a.stats.InternalLinks, a.stats.ExternalLinks)
	return check(id, name, weight, score, summary, fixes)
}

// vagueAnchors say nothing about where a link leads.
var vagueAnchors = map[string]bool{"here": true, "click here": true, "this": true, "link": true, "read more": true,
	"more": true, "this link": true, "this page": true, "learn more": true}

// internal reports whether a link stays on the site: relative, a fragment,
// or an absolute URL on the site's host.
func internal(raw, siteHost string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	if u.Scheme == "mailto" || u.Scheme == "tel" {
		return false
	}
	if u.Host == "" {
		return true
	}
	return siteHost != "" && strings.EqualFold(strings.TrimPrefix(u.Hostname(), "www."), siteHost)
}

func siteHost(siteURL string) string {
	u, err := url.Parse(siteURL)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
}

func (a *analysis) imageCheck() Check {
	const id, name, weight = "image_alt_text", "Image alt text", 10
	if len(a.doc.Images) == 0 {
		return skipped(id, name, weight, "the text has no images")
	}
	var missing []string
	for _, img := range a.doc.Images {
		if img.Alt == "" {
			missing = append(missing, img.URL)
		}
	}
	summary := fmt.Sprintf("%d of %d images have alt text", len(a.doc.Images)-len(missing), len(a.doc.Images))
	if len(missing) == 0 {
		return check(id, name, weight, 100, summary, nil)
	}
	score := 100 * (len(a.doc.Images) - len(missing)) / len(a.doc.Images)
	fix := fmt.Sprintf("%d images have no alt text (%s); describe each in a few words", len(missing), list(missing, 3))
	return check(id, name, weight, score, summary, []string{fix})
}

// list joins the first n items, noting how many more there are.
func list(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
