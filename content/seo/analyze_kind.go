package seo

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
)

// What became of seo.analyze's model suggestions.
const (
	SuggestionsAdded   = "added"   // the chat model added suggestions
	SuggestionsSkipped = "skipped" // no chat model is configured
	SuggestionsFailed  = "failed"  // the model failed or answered unusably; see the note
)

// suggestionTokens caps the model's suggestions.
const suggestionTokens = 800

// AnalyzeInput is seo.analyze's input: the post post_id of the job's site
// (its title, excerpt as meta description, and language are used unless
// given), or text; optionally the title, meta description, focus keyword
// and language to check. The route sets post_chars.
type AnalyzeInput struct {
	PostID          string `json:"post_id,omitempty"`
	Text            string `json:"text,omitempty"`
	Title           string `json:"title,omitempty"`
	MetaDescription string `json:"meta_description,omitempty"`
	Keyword         string `json:"keyword,omitempty"`
	Language        string `json:"language,omitempty"`
	PostChars       int    `json:"post_chars,omitempty"`
}

// Suggestion is one of the model's suggestions.
type Suggestion struct {
	Area       string `json:"area"`
	Suggestion string `json:"suggestion"`
}

// AnalyzeResult is seo.analyze's result: the rule-based report, what was
// checked, and the model's suggestions with their status.
type AnalyzeResult struct {
	Report
	PostID            string         `json:"post_id,omitempty"`
	Title             string         `json:"title"`
	MetaDescription   string         `json:"meta_description"`
	Keyword           string         `json:"keyword"`
	Suggestions       []Suggestion   `json:"suggestions"`
	SuggestionsStatus string         `json:"suggestions_status"`
	SuggestionsNote   string         `json:"suggestions_note,omitempty"`
	Usage             map[string]int `json:"usage"`
}

func (s *Service) analyzeKind() jobs.Kind {
	return jobs.Kind{
		Name: KindAnalyze,
		Description: "Analyze a post or free text for SEO: rule-based checks (title and meta description length, headings, keyword use, " +
			"readability, links, image alt text) with scores and concrete fixes; the chat model adds suggestions when one is configured.",
		Schema: json.RawMessage(`{"type":"object","additionalProperties":false,"properties":{
			"post_id":{"type":"string","description":"a post of the job's site; or text"},
			"text":{"type":"string","maxLength":200000,"description":"Markdown; or post_id"},
			"title":{"type":"string","maxLength":500},
			"meta_description":{"type":"string","maxLength":1000},
			"keyword":{"type":"string","maxLength":100},
			"language":{"type":"string","description":"BCP 47 tag; Flesch reading ease is computed for English"},
			"post_chars":{"type":"integer","minimum":0,"description":"the post's length in characters, from which the cost is estimated; set by the route"}}}`),
		Validate:    validateAnalyze,
		Units:       analyzeUnits,
		Price:       1,
		Timeout:     kindTimeout,
		MaxAttempts: 3,
		Preflight:   s.preflightAnalyze,
		Handler:     s.runAnalyze,
	}
}

func validateAnalyze(raw json.RawMessage) (json.RawMessage, error) {
	var in AnalyzeInput
	if err := jobs.StrictDecode(raw, &in); err != nil {
		return nil, err
	}
	var f problem.FieldErrors
	checkSource(&f, in.PostID, in.Text, in.PostChars)
	f.Check(utf8.RuneCountInString(in.Title) > 500, "title", "must be at most 500 characters")
	f.Check(utf8.RuneCountInString(in.MetaDescription) > 1000, "meta_description", "must be at most 1000 characters")
	checkCommon(&f, in.Keyword, in.Language)
	if err := f.Err(); err != nil {
		return nil, err
	}
	in.Keyword = strings.TrimSpace(in.Keyword)
	return json.Marshal(in)
}

// analyzeUnits is one unit for the rule-based checks and the model's
// suggestions over the text.
func analyzeUnits(raw json.RawMessage) int64 {
	var in AnalyzeInput
	_ = json.Unmarshal(raw, &in)
	chars := in.PostChars
	if in.Text != "" {
		chars = utf8.RuneCountInString(in.Text)
	}
	return 1 + unitsOf(tokensOf(modelChars(chars))+suggestionTokens)
}

// preflightAnalyze refuses at submit a post the tenant does not have. It
// needs no model: without one the job runs the rule-based checks only.
func (s *Service) preflightAnalyze(ctx context.Context, tenantID string, raw json.RawMessage) error {
	var in AnalyzeInput
	if err := json.Unmarshal(raw, &in); err != nil {
		return fmt.Errorf("decode %s input: %w", KindAnalyze, err)
	}
	return s.coverPost(ctx, tenantID, in.PostID, in.PostChars)
}

// runAnalyze runs the rule-based checks, then asks the model for
// suggestions when the tenant has one.
func (s *Service) runAnalyze(ctx context.Context, run *jobs.Run) (any, error) {
	var in AnalyzeInput
	if err := run.Input(&in); err != nil {
		return nil, err
	}
	src, err := s.sourceOf(ctx, run, in.PostID, in.Text)
	if err != nil {
		return nil, err
	}
	src.Title = cmp.Or(in.Title, src.Title)
	src.Description = cmp.Or(in.MetaDescription, src.Description)
	src.Language = cmp.Or(in.Language, src.Language)
	report := Analyze(Input{Text: src.Text, Title: src.Title, MetaDescription: src.Description, Keyword: in.Keyword,
		Language: src.Language, SiteURL: src.SiteURL})
	_ = run.Progress(ctx, 40, fmt.Sprintf("rule-based checks done: score %d", report.Score))
	res := AnalyzeResult{Report: report, PostID: src.PostID, Title: src.Title, MetaDescription: src.Description,
		Keyword: in.Keyword, Suggestions: []Suggestion{}}
	usage, err := s.suggest(ctx, run, &res, src)
	run.SetUsage(charge(run, analyzeUnits(run.Job.Input), 1, usage))
	if err != nil {
		return nil, err
	}
	res.Usage = usageOf(usage)
	return res, nil
}

// suggest adds the model's suggestions to res. Without a chat model it
// records that they were skipped. A model failure that may pass is
// retried while attempts remain; otherwise (or on the last attempt) it is
// recorded in the result, and the job succeeds with the rule-based report.
func (s *Service) suggest(ctx context.Context, run *jobs.Run, res *AnalyzeResult, src source) (ai.CallUsage, error) {
	if err := s.settings.Require(ctx, run.Job.TenantID, ai.CapChat); err != nil {
		if !errors.Is(err, ai.ErrProviderNotConfigured) {
			return ai.CallUsage{}, fmt.Errorf("read the chat settings: %w", err)
		}
		res.SuggestionsStatus = SuggestionsSkipped
		res.SuggestionsNote = "suggestions were skipped: only the rule-based checks ran, because " + err.Error()
		return ai.CallUsage{}, nil
	}
	_ = run.Progress(ctx, 50, "asking the model for suggestions")
	list, usage, err := s.askSuggestions(ctx, run.Job.TenantID, res, src)
	if err == nil {
		res.Suggestions, res.SuggestionsStatus = list, SuggestionsAdded
		return usage, nil
	}
	f := &jobs.Failure{Code: "model_error", Message: err.Error(), Retryable: true}
	errors.As(err, &f)
	switch {
	case ctx.Err() != nil:
		return usage, ctx.Err()
	case f.Retryable && run.Job.Attempt < run.Job.MaxAttempts:
		return usage, err
	}
	res.SuggestionsStatus, res.SuggestionsNote = SuggestionsFailed, fmt.Sprintf("the model's suggestions failed (%s): %s", f.Code, f.Message)
	return usage, nil
}

// askSuggestions renders the prompt with the findings and asks the model.
func (s *Service) askSuggestions(ctx context.Context, tenantID string, res *AnalyzeResult, src source) ([]Suggestion, ai.CallUsage, error) {
	system, err := s.render(ctx, tenantID, PromptAnalyze, map[string]any{"Title": src.Title, "Keyword": res.Keyword,
		"Language": src.Language, "Findings": findings(res.Report)})
	if err != nil {
		return nil, ai.CallUsage{}, err
	}
	p, err := s.settings.Provider(ctx, tenantID)
	if err != nil {
		return nil, ai.CallUsage{}, providerFailure(ctx, err)
	}
	out, err := p.Chat(ctx, ai.ChatRequest{System: system, Messages: []ai.Message{{Role: "user", Text: forModel(src.Text)}},
		JSON: true, MaxTokens: suggestionTokens})
	if err != nil {
		return nil, out.Usage, providerFailure(ctx, err)
	}
	list, err := ParseSuggestions(out.Text)
	if err != nil {
		return nil, out.Usage, jobs.Permanent("invalid_model_answer", err.Error(), err)
	}
	return list, out.Usage, nil
}

// findings lists the report's fixes for the prompt, one per line.
func findings(r Report) string {
	fixes := r.Fixes()
	if len(fixes) == 0 {
		return "- nothing: every check passed"
	}
	return "- " + strings.Join(fixes, "\n- ")
}

// ParseSuggestions reads the model's {"suggestions": [...]} answer; each
// item is {area, suggestion} or a string. At most 10 are kept.
func ParseSuggestions(answer string) ([]Suggestion, error) {
	var obj struct {
		Suggestions []json.RawMessage `json:"suggestions"`
	}
	if err := json.Unmarshal([]byte(answer), &obj); err != nil {
		return nil, fmt.Errorf("the answer is not {\"suggestions\": [...]}: %w", err)
	}
	var out []Suggestion
	for _, raw := range obj.Suggestions {
		var sg Suggestion
		var text string
		if json.Unmarshal(raw, &text) == nil {
			sg.Suggestion = text
		} else if json.Unmarshal(raw, &sg) != nil {
			continue
		}
		sg.Area = strings.ToLower(strings.TrimSpace(sg.Area))
		sg.Suggestion = strings.Join(strings.Fields(sg.Suggestion), " ")
		if sg.Suggestion != "" && utf8.RuneCountInString(sg.Suggestion) <= 1000 {
			out = append(out, sg)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("the answer holds no suggestion")
	}
	return out[:min(len(out), 10)], nil
}
