package seo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
)

// The types of seo.generate_text.
const (
	TypeMetaDescription = "meta_description"
	TypeTitle           = "title"
	TypeKeywords        = "keywords"
	TypeSummary         = "summary"
	TypeFAQ             = "faq"
)

// Types lists the types of seo.generate_text.
func Types() []string {
	return []string{TypeMetaDescription, TypeTitle, TypeKeywords, TypeSummary, TypeFAQ}
}

// genSpec is what one type asks of the model and accepts from it.
type genSpec struct {
	prompt string
	key    string // the answer's JSON field
	// maxTokens caps the answer.
	maxTokens int
	// limit is the most characters a text answer keeps (cut beyond, with
	// an ellipsis when ellipsis is set and no sentence ends the cut).
	limit    int
	ellipsis bool
}

var specs = map[string]genSpec{
	TypeMetaDescription: {prompt: PromptMetaDescription, key: "meta_description", maxTokens: 200, limit: DescriptionMax, ellipsis: true},
	TypeTitle:           {prompt: PromptTitle, key: "title", maxTokens: 100, limit: TitleMax},
	TypeKeywords:        {prompt: PromptKeywords, key: "keywords", maxTokens: 300},
	TypeSummary:         {prompt: PromptSummary, key: "summary", maxTokens: 400, limit: 500, ellipsis: true},
	TypeFAQ:             {prompt: PromptFAQ, key: "faq", maxTokens: 1200},
}

// GenerateInput is seo.generate_text's input: the post post_id of the job's
// site, or text; the type; optionally a focus keyword and the language
// of free text. The route sets post_chars, the post's length, from which
// the cost is estimated.
type GenerateInput struct {
	PostID    string `json:"post_id,omitempty"`
	Text      string `json:"text,omitempty"`
	Type      string `json:"type"`
	Keyword   string `json:"keyword,omitempty"`
	Language  string `json:"language,omitempty"`
	PostChars int    `json:"post_chars,omitempty"`
}

// FAQItem is one question of a generated FAQ.
type FAQItem struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// Generated is what seo.generate_text made: Text always (keywords joined
// by commas, an FAQ as Markdown), and the structured keywords or FAQ.
type Generated struct {
	Type       string    `json:"type"`
	Text       string    `json:"text"`
	Keywords   []string  `json:"keywords,omitempty"`
	FAQ        []FAQItem `json:"faq,omitempty"`
	Characters int       `json:"characters"`
	// Trimmed says the model's text was longer than the type allows and
	// was cut at a sentence or word.
	Trimmed bool `json:"trimmed"`
}

func (s *Service) generateKind() jobs.Kind {
	return jobs.Kind{
		Name: KindGenerateText,
		Description: "Generate SEO text (meta_description, title, keywords, summary or faq) for a post or free text with the chat model; " +
			"the answer is validated (a meta description within 160 characters, keywords a list, an FAQ a list of question and answer).",
		Schema: json.RawMessage(`{"type":"object","required":["type"],"additionalProperties":false,"properties":{
			"post_id":{"type":"string","description":"a post of the job's site; or text"},
			"text":{"type":"string","maxLength":200000,"description":"Markdown or plain text; or post_id"},
			"type":{"enum":["meta_description","title","keywords","summary","faq"]},
			"keyword":{"type":"string","maxLength":100},
			"language":{"type":"string","description":"BCP 47 tag of free text; a post's own language is used otherwise"},
			"post_chars":{"type":"integer","minimum":0,"description":"the post's length in characters, from which the cost is estimated; set by the route"}}}`),
		Validate:    validateGenerate,
		Units:       generateUnits,
		Price:       1,
		Timeout:     kindTimeout,
		MaxAttempts: 3,
		Preflight:   s.preflightGenerate,
		Handler:     s.runGenerate,
	}
}

func validateGenerate(raw json.RawMessage) (json.RawMessage, error) {
	var in GenerateInput
	if err := jobs.StrictDecode(raw, &in); err != nil {
		return nil, err
	}
	var f problem.FieldErrors
	checkSource(&f, in.PostID, in.Text, in.PostChars)
	f.Check(!slices.Contains(Types(), in.Type), "type", "must be one of meta_description, title, keywords, summary, faq")
	checkCommon(&f, in.Keyword, in.Language)
	f.Check(in.Language != "" && in.PostID != "", "language", "goes with text only; a post's own language is used")
	if err := f.Err(); err != nil {
		return nil, err
	}
	in.Keyword = strings.TrimSpace(in.Keyword)
	return json.Marshal(in)
}

// generateUnits estimates two model calls (the answer may be asked for
// again once) over the text and the type's answer.
func generateUnits(raw json.RawMessage) int64 {
	var in GenerateInput
	_ = json.Unmarshal(raw, &in)
	chars := in.PostChars
	if in.Text != "" {
		chars = utf8.RuneCountInString(in.Text)
	}
	return unitsOf(2 * (tokensOf(modelChars(chars)) + specs[in.Type].maxTokens))
}

// preflightGenerate refuses at submit a tenant without a chat model (503
// provider_not_configured) or a post it does not have (404).
func (s *Service) preflightGenerate(ctx context.Context, tenantID string, raw json.RawMessage) error {
	if err := s.settings.Require(ctx, tenantID, ai.CapChat); err != nil {
		return err
	}
	var in GenerateInput
	if err := json.Unmarshal(raw, &in); err != nil {
		return fmt.Errorf("decode %s input: %w", KindGenerateText, err)
	}
	return s.coverPost(ctx, tenantID, in.PostID, in.PostChars)
}

// runGenerate asks the chat model for the type's JSON, checks it, and
// charges the tokens used.
func (s *Service) runGenerate(ctx context.Context, run *jobs.Run) (any, error) {
	var in GenerateInput
	if err := run.Input(&in); err != nil {
		return nil, err
	}
	src, err := s.sourceOf(ctx, run, in.PostID, in.Text)
	if err != nil {
		return nil, err
	}
	if in.Language != "" {
		src.Language = in.Language
	}
	spec := specs[in.Type]
	system, err := s.render(ctx, run.Job.TenantID, spec.prompt, map[string]any{
		"Title": src.Title, "Keyword": in.Keyword, "Language": src.Language})
	if err != nil {
		return nil, err
	}
	p, err := s.settings.Provider(ctx, run.Job.TenantID)
	if err != nil {
		return nil, providerFailure(ctx, err)
	}
	_ = run.Progress(ctx, 20, "asking the model for the "+strings.ReplaceAll(in.Type, "_", " "))
	gen, usage, err := generate(ctx, p, system, forModel(src.Text), in.Type)
	run.SetUsage(charge(run, generateUnits(run.Job.Input), 0, usage))
	if err != nil {
		return nil, err
	}
	return GenerateResult{Generated: gen, PostID: src.PostID, Usage: usageOf(usage)}, nil
}

// GenerateResult is seo.generate_text's result: what was generated, the
// post it was for (if any), and the model's usage.
type GenerateResult struct {
	Generated
	PostID string         `json:"post_id,omitempty"`
	Usage  map[string]int `json:"usage"`
}

// render renders the tenant's system prompt; a tenant template that does
// not render fails the job.
func (s *Service) render(ctx context.Context, tenantID, typ string, data map[string]any) (string, error) {
	system, err := s.settings.Render(ctx, tenantID, typ, data)
	if err != nil {
		if p, ok := problem.As(err); ok {
			return "", jobs.Permanent(p.Code, p.Message, err)
		}
		return "", jobs.Permanent("prompt_render_failed",
			fmt.Sprintf("the system prompt %s does not render (%v); fix it with PUT /api/v1/system-prompts/%s or reset it with DELETE", typ, err, typ), err)
	}
	return system, nil
}

// generate asks the model and checks the answer; an answer of the wrong
// shape is asked for once more, with what was wrong. It returns the usage
// of every call, also when it fails.
func generate(ctx context.Context, p *ai.Provider, system, text, typ string) (Generated, ai.CallUsage, error) {
	spec := specs[typ]
	msgs := []ai.Message{{Role: "user", Text: text}}
	var usage ai.CallUsage
	for try := 0; ; try++ {
		res, err := p.Chat(ctx, ai.ChatRequest{System: system, Messages: msgs, JSON: true, MaxTokens: spec.maxTokens})
		usage = usage.Add(res.Usage)
		if err != nil {
			return Generated{}, usage, providerFailure(ctx, err)
		}
		gen, bad := ParseGenerated(typ, res.Text)
		if bad == nil {
			return gen, usage, nil
		}
		if try == 1 {
			return Generated{}, usage, jobs.Retryable("invalid_model_answer",
				"the model's answer was not usable twice: "+bad.Error(), bad)
		}
		msgs = append(msgs, ai.Message{Role: "assistant", Text: res.Text},
			ai.Message{Role: "user", Text: fmt.Sprintf("That answer is not usable: %v. Answer again with only the JSON object the instructions describe.", bad)})
	}
}

// errShape is an answer of the wrong shape.
var errShape = errors.New("wrong shape")

// ParseGenerated reads the model's JSON answer for typ and checks it:
// text types need a non-empty string (cut to the type's limit at a
// sentence or word when longer), keywords a list of strings (deduplicated,
// at most 15), an FAQ a list of {question, answer} (at most 10).
func ParseGenerated(typ, answer string) (Generated, error) {
	spec, ok := specs[typ]
	if !ok {
		return Generated{}, fmt.Errorf("unknown type %q", typ)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(answer), &obj); err != nil {
		return Generated{}, fmt.Errorf("%w: the answer is not a JSON object", errShape)
	}
	raw, ok := obj[spec.key]
	if !ok && len(obj) == 1 {
		for _, v := range obj {
			raw, ok = v, true
		}
	}
	if !ok {
		return Generated{}, fmt.Errorf("%w: the answer has no %q field", errShape, spec.key)
	}
	g := Generated{Type: typ}
	var err error
	switch typ {
	case TypeKeywords:
		g.Keywords, err = parseKeywords(raw)
		g.Text = strings.Join(g.Keywords, ", ")
	case TypeFAQ:
		g.FAQ, err = parseFAQ(raw)
		g.Text = faqMarkdown(g.FAQ)
	default:
		g.Text, g.Trimmed, err = parseText(raw, spec)
	}
	if err != nil {
		return Generated{}, err
	}
	g.Characters = utf8.RuneCountInString(g.Text)
	return g, nil
}

func parseText(raw json.RawMessage, spec genSpec) (string, bool, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, fmt.Errorf("%w: %q must be a string", errShape, spec.key)
	}
	s = strings.Join(strings.Fields(strings.Trim(strings.TrimSpace(s), `"“”`)), " ")
	if s == "" {
		return "", false, fmt.Errorf("%w: %q is empty", errShape, spec.key)
	}
	if utf8.RuneCountInString(s) <= spec.limit {
		return s, false, nil
	}
	return trimText(s, spec.limit, spec.ellipsis), true, nil
}

// trimText cuts s to at most n characters: after the last full sentence
// that keeps two thirds of n, else at a word (with an ellipsis if asked).
func trimText(s string, n int, ellipsis bool) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	head := string(r[:n])
	if i := strings.LastIndexAny(head, ".!?"); i >= 0 && utf8.RuneCountInString(head[:i+1]) >= n*2/3 {
		return head[:i+1]
	}
	if ellipsis {
		head = string(r[:n-1])
	}
	if i := strings.LastIndex(head, " "); i > 0 && r[utf8.RuneCountInString(head)] != ' ' {
		head = head[:i]
	}
	head = strings.TrimRight(head, " ,;:-–—")
	if ellipsis {
		head += "…"
	}
	return head
}

func parseKeywords(raw json.RawMessage) ([]string, error) {
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		var joined string
		if json.Unmarshal(raw, &joined) != nil {
			return nil, fmt.Errorf("%w: \"keywords\" must be a list of strings", errShape)
		}
		list = strings.Split(joined, ",")
	}
	var out []string
	seen := map[string]bool{}
	for _, k := range list {
		k = strings.Join(strings.Fields(k), " ")
		key := strings.ToLower(k)
		if k == "" || seen[key] || utf8.RuneCountInString(k) > 80 {
			continue
		}
		seen[key] = true
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: \"keywords\" holds no keyword", errShape)
	}
	return out[:min(len(out), 15)], nil
}

func parseFAQ(raw json.RawMessage) ([]FAQItem, error) {
	var items []FAQItem
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%w: \"faq\" must be a list of {\"question\", \"answer\"}", errShape)
	}
	var out []FAQItem
	for _, it := range items {
		q, a := strings.Join(strings.Fields(it.Question), " "), strings.Join(strings.Fields(it.Answer), " ")
		if q == "" || a == "" {
			continue
		}
		if !strings.HasSuffix(q, "?") && !strings.HasSuffix(q, "？") {
			q += "?"
		}
		out = append(out, FAQItem{Question: q, Answer: a})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: \"faq\" holds no question with an answer", errShape)
	}
	return out[:min(len(out), 10)], nil
}

// faqMarkdown renders an FAQ as Markdown: a level-3 heading per question.
func faqMarkdown(items []FAQItem) string {
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteString("\n\n")
		}
		fmt.Fprintf(&b, "### %s\n\n%s", it.Question, it.Answer)
	}
	return b.String()
}
