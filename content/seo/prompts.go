package seo

import "github.com/kilnhq/kiln/settings"

// Prompt types: one per seo.generate_text type, and one for the
// suggestions of seo.analyze.
const (
	PromptMetaDescription = "seo.meta_description"
	PromptTitle           = "seo.title"
	PromptKeywords        = "seo.keywords"
	PromptSummary         = "seo.summary"
	PromptFAQ             = "seo.faq"
	PromptAnalyze         = "seo.analyze"
)

// generateVariables are what the generate_text templates see: the post's
// title ("" for free text), the focus keyword ("" when none was given)
// and the language tag of the text.
var generateVariables = []string{"Title", "Keyword", "Language"}

// Prompts returns the default system prompts of the SEO kinds, for
// settings.Config.Prompts. The text to work on is sent as the user
// message; every answer is a JSON object of the shape the prompt names.
func Prompts() []settings.PromptDefault {
	return []settings.PromptDefault{
		{Type: PromptMetaDescription, Variables: generateVariables,
			Description: "seo.generate_text type meta_description: a meta description for the text sent as the user message.",
			Template: `You write meta descriptions for search engines.
Write one meta description for the page whose text follows{{if .Title}} (title: "{{.Title}}"){{end}}.
- 120 to 155 characters, one or two complete sentences, no quotes or emoji.
- Say what the reader gets from the page; end with a reason to click.
{{- if .Keyword}}
- Use the focus keyword "{{.Keyword}}" once, naturally.
{{- end}}
- Write in the language of the text ({{.Language}}).
Answer in JSON: {"meta_description": "..."}`},
		{Type: PromptTitle, Variables: generateVariables,
			Description: "seo.generate_text type title: an SEO title for the text sent as the user message.",
			Template: `You write page titles for search engines.
Write one title for the page whose text follows{{if .Title}} (its current title: "{{.Title}}"){{end}}.
- 50 to 60 characters; specific and descriptive; no clickbait, no quotes, no trailing punctuation.
{{- if .Keyword}}
- Put the focus keyword "{{.Keyword}}" near the start.
{{- end}}
- Write in the language of the text ({{.Language}}).
Answer in JSON: {"title": "..."}`},
		{Type: PromptKeywords, Variables: generateVariables,
			Description: "seo.generate_text type keywords: search keywords for the text sent as the user message.",
			Template: `You are an SEO specialist.
List 5 to 10 search keywords or key phrases (1 to 4 words each) that people would search for to find the page whose text follows{{if .Title}} (title: "{{.Title}}"){{end}}, most important first.
{{- if .Keyword}}
Start with the focus keyword "{{.Keyword}}".
{{- end}}
Write them in the language of the text ({{.Language}}), in lower case unless they are names.
Answer in JSON: {"keywords": ["...", "..."]}`},
		{Type: PromptSummary, Variables: generateVariables,
			Description: "seo.generate_text type summary: a short summary of the text sent as the user message.",
			Template: `You summarise web pages.
Summarise the page whose text follows{{if .Title}} (title: "{{.Title}}"){{end}} in 2 to 3 sentences, at most 400 characters, for a reader deciding whether to read it.
State the main points only; no "This article" openings.
{{- if .Keyword}}
Use the focus keyword "{{.Keyword}}" if it fits.
{{- end}}
Write in the language of the text ({{.Language}}).
Answer in JSON: {"summary": "..."}`},
		{Type: PromptFAQ, Variables: generateVariables,
			Description: "seo.generate_text type faq: frequently asked questions answered by the text sent as the user message.",
			Template: `You write FAQ sections for web pages.
Write 3 to 6 questions a reader would ask about the page whose text follows{{if .Title}} (title: "{{.Title}}"){{end}}, each answered in 1 to 3 sentences using only facts from the text.
{{- if .Keyword}}
Work the focus keyword "{{.Keyword}}" into at least one question.
{{- end}}
Write in the language of the text ({{.Language}}).
Answer in JSON: {"faq": [{"question": "...", "answer": "..."}]}`},
		{Type: PromptAnalyze, Variables: []string{"Title", "Keyword", "Language", "Findings"},
			Description: "seo.analyze: suggestions beyond the rule-based checks, for the text sent as the user message.",
			Template: `You are an SEO editor reviewing a web page{{if .Title}} titled "{{.Title}}"{{end}}.
{{- if .Keyword}}
Its focus keyword is "{{.Keyword}}".
{{- end}}
Automated checks already found:
{{.Findings}}
Give 3 to 6 concrete suggestions that go beyond those findings: content gaps, search intent, structure, wording of the title and introduction, internal linking ideas. Each suggestion is one or two sentences and names what to change.
Write in the language of the text ({{.Language}}).
Answer in JSON: {"suggestions": [{"area": "content|title|structure|links|readability|keyword", "suggestion": "..."}]}`},
	}
}
