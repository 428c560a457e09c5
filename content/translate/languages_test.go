package translate_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/kilnhq/kiln/content/translate"
	"github.com/kilnhq/kiln/internal/problem"
)

// TestRequestCheck checks the validation and normalisation of target
// languages and keep terms.
func TestRequestCheck(t *testing.T) {
	many := []string{"de", "fr", "es", "it", "nl", "pl", "pt", "sv", "da", "fi", "nb", "cs", "hu", "ro", "el", "tr", "ja", "ko", "zh", "ar", "he"}
	if len(many) != translate.MaxLanguages+1 {
		t.Fatalf("the too-many case lists %d languages", len(many))
	}
	cases := []struct {
		name       string
		req        translate.Request
		source     string
		wantLangs  []string
		wantKeep   []string
		wantFields map[string]string // field → part of the reason
	}{
		{name: "normalised", req: translate.Request{TargetLanguages: []string{"de", "pt-br", "en_US", " fr "}, Keep: []string{" Kiln ", "Kiln", "Asynq"}},
			source: "en-GB", wantLangs: []string{"de", "pt-BR", "en-US", "fr"}, wantKeep: []string{"Kiln", "Asynq"}},
		{name: "none", req: translate.Request{}, wantFields: map[string]string{"target_languages": "is required"}},
		{name: "unknown and malformed", req: translate.Request{TargetLanguages: []string{"de", "xx", "not a tag"}},
			wantFields: map[string]string{"target_languages": `"xx", "not a tag"`}},
		{name: "undetermined and private use", req: translate.Request{TargetLanguages: []string{"und", "x-klingon"}},
			wantFields: map[string]string{"target_languages": "not a known BCP 47"}},
		{name: "twice", req: translate.Request{TargetLanguages: []string{"de", "DE"}}, wantFields: map[string]string{"target_languages": "de more than once"}},
		{name: "own language", req: translate.Request{TargetLanguages: []string{"de", "en"}}, source: "en",
			wantFields: map[string]string{"target_languages": "the language the original is written in"}},
		{name: "too many", req: translate.Request{TargetLanguages: many}, wantFields: map[string]string{"target_languages": "at most 20"}},
		{name: "bad keep terms", req: translate.Request{TargetLanguages: []string{"de"}, Keep: []string{"", strings.Repeat("k", 101)}},
			wantFields: map[string]string{"keep": "1 to 100 characters"}},
		{name: "keep on two lines", req: translate.Request{TargetLanguages: []string{"de"}, Keep: []string{"a\nb"}},
			wantFields: map[string]string{"keep": "on one line"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.req.Check(tc.source)
			if tc.wantFields == nil {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				if !slices.Equal(got.TargetLanguages, tc.wantLangs) || !slices.Equal(got.Keep, tc.wantKeep) {
					t.Fatalf("got %v keep %v, want %v keep %v", got.TargetLanguages, got.Keep, tc.wantLangs, tc.wantKeep)
				}
				return
			}
			p, ok := problem.As(err)
			if !ok || p.Kind != problem.Invalid {
				t.Fatalf("err %v, want a 422", err)
			}
			for field, part := range tc.wantFields {
				if !strings.Contains(p.Fields[field], part) {
					t.Errorf("field %s: %q, want it to say %q", field, p.Fields[field], part)
				}
			}
			if len(p.Fields) != len(tc.wantFields) {
				t.Errorf("fields %v, want only %v", p.Fields, tc.wantFields)
			}
		})
	}
}

// TestLanguageName checks the names prompts use.
func TestLanguageName(t *testing.T) {
	for tag, want := range map[string]string{"de": "German (de)", "pt-BR": "Brazilian Portuguese (pt-BR)", "ja": "Japanese (ja)"} {
		if got := translate.LanguageName(tag); got != want {
			t.Errorf("%s: %q, want %q", tag, got, want)
		}
	}
	if got := translate.LanguageName("qq"); got != "qq" {
		t.Errorf("an unknown tag: %q, want it as is", got)
	}
}
