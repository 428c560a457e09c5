package seo

import (
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kilnhq/kiln/internal/problem"
)

func TestParseGenerated(t *testing.T) {
	// 177 characters; the first sentence is 120.
	longDesc := "Learn how to bake sourdough bread at home with a lively starter, a hot oven, good flour and a little patience every day. " +
		"This guide covers feeding, shaping, proofing and baking."
	longTitle := "Sourdough bread at home: a complete guide to starters, shaping and baking"
	cases := []struct {
		name, typ, answer string
		want              Generated
		wantErr           bool
	}{
		{name: "meta description", typ: TypeMetaDescription, answer: `{"meta_description":"  Bake crusty sourdough at home.  "}`,
			want: Generated{Type: TypeMetaDescription, Text: "Bake crusty sourdough at home.", Characters: 30}},
		{name: "meta description cut at a sentence", typ: TypeMetaDescription, answer: `{"meta_description":"` + longDesc + `"}`,
			want: Generated{Type: TypeMetaDescription, Text: longDesc[:120], Characters: 120, Trimmed: true}},
		{name: "title cut at a word", typ: TypeTitle, answer: `{"title":"` + longTitle + `"}`,
			want: Generated{Type: TypeTitle, Text: "Sourdough bread at home: a complete guide to starters", Characters: 53, Trimmed: true}},
		{name: "other key of a single field", typ: TypeTitle, answer: `{"seo_title":"Sourdough at home"}`,
			want: Generated{Type: TypeTitle, Text: "Sourdough at home", Characters: 17}},
		{name: "keywords deduplicated", typ: TypeKeywords, answer: `{"keywords":["sourdough","Sourdough"," bread  starter ",""]}`,
			want: Generated{Type: TypeKeywords, Text: "sourdough, bread starter", Keywords: []string{"sourdough", "bread starter"}, Characters: 24}},
		{name: "keywords as one string", typ: TypeKeywords, answer: `{"keywords":"rye, spelt"}`,
			want: Generated{Type: TypeKeywords, Text: "rye, spelt", Keywords: []string{"rye", "spelt"}, Characters: 10}},
		{name: "faq", typ: TypeFAQ, answer: `{"faq":[{"question":"How long does it take","answer":"A day."},{"question":"","answer":"dropped"}]}`,
			want: Generated{Type: TypeFAQ, Text: "### How long does it take?\n\nA day.",
				FAQ: []FAQItem{{"How long does it take?", "A day."}}, Characters: 34}},
		{name: "not JSON", typ: TypeTitle, answer: `Sourdough`, wantErr: true},
		{name: "missing field among several", typ: TypeSummary, answer: `{"a":"x","b":"y"}`, wantErr: true},
		{name: "empty text", typ: TypeSummary, answer: `{"summary":"  "}`, wantErr: true},
		{name: "keywords not a list", typ: TypeKeywords, answer: `{"keywords":{"a":1}}`, wantErr: true},
		{name: "faq without answers", typ: TypeFAQ, answer: `{"faq":[{"question":"Why?"}]}`, wantErr: true},
		{name: "unknown type", typ: "poem", answer: `{}`, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseGenerated(tc.typ, tc.answer)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestTrimText(t *testing.T) {
	words := strings.Repeat("sourdough ", 30) // 300 characters
	cases := []struct {
		limit    int
		ellipsis bool
		want     string
	}{
		{DescriptionMax, true, strings.TrimSpace(strings.Repeat("sourdough ", 16)) + "…"}, // 159 + 1
		{25, false, "sourdough sourdough"},
		{29, false, "sourdough sourdough sourdough"},
		{500, true, words},
	}
	for _, c := range cases {
		if got := trimText(words, c.limit, c.ellipsis); got != c.want {
			t.Errorf("trimText to %d = %q, want %q", c.limit, got, c.want)
		}
	}
}

func TestParseSuggestions(t *testing.T) {
	got, err := ParseSuggestions(`{"suggestions":["Add a how-to section.",{"area":" Title ","suggestion":"Lead with the  keyword."},{"area":"x"},7]}`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Suggestion{{Suggestion: "Add a how-to section."}, {Area: "title", Suggestion: "Lead with the keyword."}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{`{"suggestions":[]}`, `{"reply":"text"}`, `[]`} {
		if _, err := ParseSuggestions(bad); err == nil {
			t.Errorf("ParseSuggestions(%s) accepted it", bad)
		}
	}
}

func TestValidateInputs(t *testing.T) {
	post := "post_01jabcdefghjkmnpqrstvwxyz0"
	cases := []struct {
		name     string
		validate func(json.RawMessage) (json.RawMessage, error)
		in       string
		fields   []string
	}{
		{"generate from text", validateGenerate, `{"text":"Hello","type":"title"}`, nil},
		{"generate from post", validateGenerate, `{"post_id":"` + post + `","type":"faq","post_chars":900}`, nil},
		{"generate without source", validateGenerate, `{"type":"title"}`, []string{"post_id", "text"}},
		{"generate with both", validateGenerate, `{"post_id":"` + post + `","text":"x","type":"title"}`, []string{"text"}},
		{"generate with a bad type and id", validateGenerate, `{"post_id":"med_1","type":"poem"}`, []string{"post_id", "type"}},
		{"generate language with a post", validateGenerate, `{"post_id":"` + post + `","type":"title","language":"fr"}`, []string{"language"}},
		{"generate bad language", validateGenerate, `{"text":"x","type":"title","language":"French!"}`, []string{"language"}},
		{"generate unknown field", validateGenerate, `{"text":"x","type":"title","tone":"warm"}`, []string{"input"}},
		{"generate post_chars without a post", validateGenerate, `{"text":"x","type":"title","post_chars":4}`, []string{"post_chars"}},
		{"analyze text", validateAnalyze, `{"text":"# Hi","keyword":"hi","title":"Hi"}`, nil},
		{"analyze nothing", validateAnalyze, `{}`, []string{"post_id", "text"}},
		{"analyze long title and keyword", validateAnalyze, `{"text":"x","title":"` + strings.Repeat("t", 501) + `","keyword":"` + strings.Repeat("k", 101) + `"}`,
			[]string{"keyword", "title"}},
		{"analyze text too long", validateAnalyze, `{"text":"` + strings.Repeat("a", MaxText+1) + `"}`, []string{"text"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.validate(json.RawMessage(tc.in))
			if diff := cmp.Diff(tc.fields, fieldsOf(err)); diff != "" {
				t.Errorf("fields (-want +got):\n%s\nerr: %v", diff, err)
			}
		})
	}
}

func fieldsOf(err error) []string {
	var p *problem.Problem
	if !errors.As(err, &p) {
		return nil
	}
	var out []string
	for f := range p.Fields {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

func TestUnits(t *testing.T) {
	short := generateUnits(json.RawMessage(`{"text":"` + strings.Repeat("a", 300) + `","type":"title"}`))
	long := generateUnits(json.RawMessage(`{"text":"` + strings.Repeat("a", 20000) + `","type":"title"}`))
	unknownPost := generateUnits(json.RawMessage(`{"post_id":"post_x","type":"title"}`))
	huge := generateUnits(json.RawMessage(`{"text":"` + strings.Repeat("a", MaxModelChars*3) + `","type":"title"}`))
	if short < 1 || short >= long || long > unknownPost || huge != unknownPost {
		t.Errorf("units: short %d, long %d, unknown post %d, huge %d; want short < long <= unknown = huge (the model sees at most %d characters)",
			short, long, unknownPost, huge, MaxModelChars)
	}
	if faq, title := generateUnits(json.RawMessage(`{"text":"a","type":"faq"}`)), generateUnits(json.RawMessage(`{"text":"a","type":"title"}`)); faq <= title {
		t.Errorf("an FAQ (%d units) does not reserve more than a title (%d)", faq, title)
	}
	if a := analyzeUnits(json.RawMessage(`{"text":"a"}`)); a < 2 {
		t.Errorf("analyze reserves %d units, want the rule-based unit and the suggestions", a)
	}
}
