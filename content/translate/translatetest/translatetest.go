// Package translatetest stands in for a translating chat model in tests:
// Reply answers the translate kinds' chat requests the way a well-behaved
// model does, keeping every placeholder, heading, list item and table row
// and marking each line of prose as translated with «lang». Set it on an
// aitest server with SetReplyFunc.
package translatetest

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/kilnhq/kiln/ai/aitest"
)

// Request is the JSON object the translate kinds send in their user
// message.
type Request struct {
	SourceLanguage string            `json:"source_language"`
	TargetLanguage string            `json:"target_language"`
	Keep           []string          `json:"keep"`
	Fields         map[string]string `json:"fields"`
}

// Parse finds the request in the last user message of p; ok is false for
// a chat request that is not a translation.
func Parse(p aitest.Prompt) (Request, bool) {
	lines := strings.Split(strings.TrimSpace(p.Last), "\n")
	var r Request
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "{") || json.Unmarshal([]byte(last), &r) != nil || r.Fields == nil {
		return Request{}, false
	}
	return r, true
}

// Reply answers a translation request with every field passed through
// Prose; other chat requests get a fixed answer.
func Reply(p aitest.Prompt) string {
	r, ok := Parse(p)
	if !ok {
		return `{"reply": "translatetest answers translation requests only"}`
	}
	return Answer(r, func(_, text string) string { return Prose(text, r.TargetLanguage) })
}

// Answer encodes the model's answer to r, each field given by translate.
func Answer(r Request, translate func(name, text string) string) string {
	out := make(map[string]string, len(r.Fields))
	for name, text := range r.Fields {
		out[name] = translate(name, text)
	}
	raw, _ := json.Marshal(map[string]any{"fields": out})
	return string(raw)
}

var (
	// prefixRe is a line's Markdown prefix: indentation, quote marks, and
	// a heading, list or table marker.
	prefixRe = regexp.MustCompile(`^[ \t]*(?:>[ \t]*)*(?:#{1,6}[ \t]+|[-*+][ \t]+|\d{1,9}[.)][ \t]+|\|[ \t]*)?`)
	// onlyTokensRe is a line with nothing to translate: placeholders,
	// table delimiters, rules.
	onlyTokensRe = regexp.MustCompile(`^(?:⟦\d+⟧|[\s|:=*_>-])*$`)
)

// Prose "translates" text into lang: each line with prose gets «lang»
// after its Markdown prefix; everything else stays as it is.
func Prose(text, lang string) string {
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if onlyTokensRe.MatchString(line) {
			continue
		}
		prefix := prefixRe.FindString(line)
		lines[i] = prefix + "«" + lang + "» " + line[len(prefix):]
	}
	return strings.Join(lines, "\n")
}
