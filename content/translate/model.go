package translate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/jobs"
)

// Sizes of the model calls.
const (
	// maxCallBytes bounds the text of the fields sent in one chat call
	// (about 3,000 tokens), so the answer fits the model's output limit.
	maxCallBytes = 12000
	// tokensPerCredit is what one credit of a language job buys.
	tokensPerCredit = 2000
)

// field is one text to translate, protected.
type field struct {
	name string
	text string
}

// call is one translation asked of the model: from and to which language,
// under which system prompt, keeping which terms.
type call struct {
	provider *ai.Provider
	system   string
	source   string
	target   string
	keep     []string
}

// request is the JSON the user message carries.
type request struct {
	SourceLanguage string            `json:"source_language"`
	TargetLanguage string            `json:"target_language"`
	Keep           []string          `json:"keep"`
	Fields         map[string]string `json:"fields"`
}

// userMessage is the instruction, fixed by Kiln, that asks for the answer's
// shape; the tenant's system prompt says how to translate.
func (c call) userMessage(fields map[string]string) string {
	raw, _ := json.Marshal(request{SourceLanguage: c.source, TargetLanguage: c.target, Keep: c.keep, Fields: fields})
	return fmt.Sprintf("Translate the values of \"fields\" in the JSON object below from %s to %s, following the system "+
		"instructions. Copy every placeholder such as ⟦1⟧ exactly once. Answer with a JSON object {\"fields\": {...}} "+
		"that has exactly the same keys, each holding the translated text.\n\n%s",
		LanguageName(c.source), LanguageName(c.target), raw)
}

// translate asks the model for the fields in calls of at most maxCallBytes
// and returns the translations by name, with the usage of every call made.
func (c call) translate(ctx context.Context, fields []field) (map[string]string, ai.CallUsage, error) {
	out := map[string]string{}
	var usage ai.CallUsage
	for _, batch := range batches(fields) {
		got, u, err := c.ask(ctx, batch)
		usage = usage.Add(u)
		if err != nil {
			return nil, usage, err
		}
		for k, v := range got {
			out[k] = v
		}
	}
	return out, usage, nil
}

// batches groups fields into calls of at most maxCallBytes (a longer field
// goes alone).
func batches(fields []field) [][]field {
	var out [][]field
	var cur []field
	size := 0
	for _, f := range fields {
		if len(cur) > 0 && size+len(f.text) > maxCallBytes {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, f)
		size += len(f.text)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// ask makes one chat call for a batch of fields.
func (c call) ask(ctx context.Context, batch []field) (map[string]string, ai.CallUsage, error) {
	in := make(map[string]string, len(batch))
	for _, f := range batch {
		in[f.name] = f.text
	}
	temp := float32(0.2)
	res, err := c.provider.Chat(ctx, ai.ChatRequest{System: c.system, JSON: true, Temperature: &temp,
		Messages: []ai.Message{{Role: "user", Text: c.userMessage(in)}}})
	if err != nil {
		return nil, res.Usage, providerFailure(err)
	}
	out, err := readAnswer(res.Text, batch)
	return out, res.Usage, err
}

// readAnswer reads the model's {"fields": {...}} (or the fields at the top
// level) and checks that every field came back as text.
func readAnswer(text string, batch []field) (map[string]string, error) {
	var answer map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &answer); err != nil {
		return nil, lostStructure("the model's answer is not a JSON object", err)
	}
	if raw, ok := answer["fields"]; ok {
		answer = nil
		if err := json.Unmarshal(raw, &answer); err != nil {
			return nil, lostStructure("the model's answer has no object \"fields\"", err)
		}
	}
	out := make(map[string]string, len(batch))
	var missing []string
	for _, f := range batch {
		var s string
		if err := json.Unmarshal(answer[f.name], &s); err != nil {
			missing = append(missing, f.name)
			continue
		}
		out[f.name] = s
	}
	if len(missing) > 0 {
		return nil, lostStructure("the model's answer lacks the fields "+strings.Join(missing, ", "), nil)
	}
	return out, nil
}

// lostStructure is the retryable failure of a translation that came back
// incomplete or broken; another try usually succeeds.
func lostStructure(msg string, err error) error {
	return jobs.Retryable("translation_lost_structure", msg, err)
}

// structureFailure turns an ErrLostStructure from Restore or
// CheckStructure into the job's retryable failure.
func structureFailure(what string, err error) error {
	if errors.Is(err, ErrLostStructure) {
		return lostStructure(what+": "+strings.TrimPrefix(err.Error(), ErrLostStructure.Error()+": "), err)
	}
	return err
}

// providerFailure classifies a provider error for the job: rate limits and
// outages are retried; content policy, rejected requests, refused keys and
// missing settings end the language at once (and release its credits).
func providerFailure(err error) error {
	return jobs.FailureFrom("translate", err, ai.IsTransient)
}

// credits converts a language's usage into credits. share is what the
// parent reserved for the language (its price for the tenant, which the
// cost table may change); at the default price, share is defaultPrice and
// a credit buys tokensPerCredit tokens. The charge scales with the share:
// at least 1 (when share > 0), at most share.
func credits(u ai.CallUsage, share, defaultPrice int64) int64 {
	if share <= 0 {
		return 0
	}
	tokens := int64(u.PromptTokens + u.CompletionTokens)
	budget := tokensPerCredit * defaultPrice // the tokens a full share buys
	n := (tokens*share + budget - 1) / budget
	return min(max(n, 1), share)
}

// checkKept reports, as a retryable failure, a term to keep that the
// source text has and its translation lost.
func checkKept(name, source, translated string, keep []string) error {
	var lost []string
	for _, term := range keep {
		if strings.Contains(source, term) && !strings.Contains(translated, term) {
			lost = append(lost, fmt.Sprintf("%q", term))
		}
	}
	if len(lost) > 0 {
		return lostStructure(fmt.Sprintf("the translation of %s lost the terms to keep %s", name, strings.Join(lost, ", ")), nil)
	}
	return nil
}
