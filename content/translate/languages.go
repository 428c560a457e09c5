package translate

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/kilnhq/kiln/internal/problem"
)

// Limits of a translation request.
const (
	// MaxLanguages is the most target languages one request may ask for.
	MaxLanguages = 20
	// MaxKeep is the most terms a request may protect from translation.
	MaxKeep = 50
	// maxKeepTerm is the longest term, in characters.
	maxKeepTerm = 100
)

// tagRe is the shape of a language tag content stores with a post.
var tagRe = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)

// Language canonicalises a BCP 47 language tag ("pt-br" → "pt-BR",
// "en_US" → "en-US"); it reports false for a tag that is malformed,
// unknown, undetermined or private-use.
func Language(tag string) (string, bool) {
	t, err := language.Parse(strings.TrimSpace(tag))
	if err != nil || t == language.Und {
		return "", false
	}
	s := t.String()
	return s, tagRe.MatchString(s)
}

// LanguageName names a language tag in English with the tag, as prompts
// use it: "German (de)", "Brazilian Portuguese (pt-BR)".
func LanguageName(tag string) string {
	t, err := language.Parse(tag)
	if err != nil {
		return tag
	}
	name := display.English.Tags().Name(t)
	if name == "" || name == "Unknown language" {
		return tag
	}
	return fmt.Sprintf("%s (%s)", name, tag)
}

// Request is what a caller asks of a translation: the target languages
// and the terms never to translate (proper names, product names).
type Request struct {
	TargetLanguages []string `json:"target_languages"`
	Keep            []string `json:"keep,omitempty"`
}

// Check validates r against a master in sourceLanguage ("" when it is not
// known) and returns it normalised: canonical tags, trimmed terms. Its
// errors are 422s naming target_languages or keep.
func (r Request) Check(sourceLanguage string) (Request, error) {
	var f problem.FieldErrors
	out := Request{TargetLanguages: []string{}, Keep: []string{}}
	switch n := len(r.TargetLanguages); {
	case n == 0:
		f.Add("target_languages", "is required: list at least one language tag, such as de or pt-BR")
	case n > MaxLanguages:
		f.Add("target_languages", fmt.Sprintf("must list at most %d languages", MaxLanguages))
	}
	var bad, twice, own []string
	seen := map[string]bool{}
	for _, raw := range r.TargetLanguages {
		tag, ok := Language(raw)
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%q", raw))
		case seen[tag]:
			twice = append(twice, tag)
		case sourceLanguage != "" && strings.EqualFold(tag, sourceLanguage):
			own = append(own, tag)
		default:
			seen[tag] = true
			out.TargetLanguages = append(out.TargetLanguages, tag)
		}
	}
	f.Check(len(bad) > 0, "target_languages", "holds "+strings.Join(bad, ", ")+
		", which is not a known BCP 47 language tag; use tags such as de, fr or pt-BR")
	f.Check(len(twice) > 0, "target_languages", "lists "+strings.Join(twice, ", ")+" more than once")
	f.Check(len(own) > 0, "target_languages", "holds "+strings.Join(own, ", ")+", the language the original is written in")
	out.Keep = checkKeep(&f, r.Keep)
	return out, f.Err()
}

// checkKeep trims the keep terms, drops repeats, and reports bad ones.
func checkKeep(f *problem.FieldErrors, keep []string) []string {
	f.Check(len(keep) > MaxKeep, "keep", fmt.Sprintf("must list at most %d terms", MaxKeep))
	out := []string{}
	seen := map[string]bool{}
	for _, term := range keep {
		term = strings.TrimSpace(term)
		if term == "" || utf8.RuneCountInString(term) > maxKeepTerm || strings.ContainsAny(term, "\n\r") {
			f.Add("keep", fmt.Sprintf("must hold terms of 1 to %d characters on one line", maxKeepTerm))
			continue
		}
		if !seen[term] {
			seen[term] = true
			out = append(out, term)
		}
	}
	return out
}
