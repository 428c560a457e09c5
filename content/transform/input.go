package transform

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
)

// The presets.
const (
	PresetSummarize  = "summarize"
	PresetRewrite    = "rewrite"
	PresetExpand     = "expand"
	PresetSimplify   = "simplify"
	PresetChangeTone = "change_tone"
)

// Presets lists the presets.
func Presets() []string {
	return []string{PresetSummarize, PresetRewrite, PresetExpand, PresetSimplify, PresetChangeTone}
}

// Limits and prices.
const (
	// MaxPostChars is the longest body (in characters) a transform takes.
	MaxPostChars = 60_000
	// MaxInstruction is the longest free instruction.
	MaxInstruction = 2000
	// TokensPerUnit is the priced unit: 1,000 tokens (prompt and
	// completion) at a default price of 1 credit.
	TokensPerUnit = 1000
	// defaultPostChars is the body length reserved for when the input does
	// not say (post_chars 0).
	defaultPostChars = 12_000
	// promptOverhead is the tokens of the system prompt, with margin.
	promptOverhead = 500
)

// Input is post.transform's input: the post, and exactly one of
// instruction and preset (tone with change_tone only). The route sets
// post_chars, the body's length, from which the cost is estimated.
type Input struct {
	PostID      string `json:"post_id"`
	Instruction string `json:"instruction,omitempty"`
	Preset      string `json:"preset,omitempty"`
	Tone        string `json:"tone,omitempty"`
	PostChars   int    `json:"post_chars,omitempty"`
}

// tonePattern is a tone: a few words, such as "friendly" or "formal but warm".
var tonePattern = regexp.MustCompile(`^[\p{L}][\p{L} ,'-]{0,39}$`)

func validate(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		raw = json.RawMessage(`{}`)
	}
	var in Input
	if err := jobs.StrictDecode(raw, &in); err != nil {
		return nil, err
	}
	in.Instruction, in.Tone = strings.TrimSpace(in.Instruction), strings.TrimSpace(in.Tone)
	if err := in.check(); err != nil {
		return nil, err
	}
	return json.Marshal(in)
}

func (in Input) check() error {
	var f problem.FieldErrors
	f.Check(in.PostID == "", "post_id", "is required")
	f.Check(in.PostID != "" && !ids.HasPrefix(in.PostID, "post"), "post_id", "must be a post id (post_…)")
	switch {
	case in.Instruction == "" && in.Preset == "":
		f.Add("instruction", "give an instruction or a preset")
		f.Add("preset", "give an instruction or a preset")
	case in.Instruction != "" && in.Preset != "":
		f.Add("preset", "give an instruction or a preset, not both")
	case in.Preset != "" && !slices.Contains(Presets(), in.Preset):
		f.Add("preset", "must be one of summarize, rewrite, expand, simplify, change_tone")
	}
	f.Check(utf8.RuneCountInString(in.Instruction) > MaxInstruction, "instruction", fmt.Sprintf("must be at most %d characters", MaxInstruction))
	f.Check(in.Preset == PresetChangeTone && in.Tone == "", "tone", "is required with the change_tone preset (say friendly, formal, playful)")
	f.Check(in.Preset != PresetChangeTone && in.Tone != "", "tone", "goes with the change_tone preset only")
	f.Check(in.Tone != "" && !tonePattern.MatchString(in.Tone), "tone", "must be 1 to 40 letters, spaces, commas or hyphens, such as friendly or formal but warm")
	f.Check(in.PostChars < 0 || in.PostChars > MaxPostChars, "post_chars", fmt.Sprintf("must be from 0 to %d", MaxPostChars))
	return f.Err()
}

// coveredChars is the body length the reservation covers.
func (in Input) coveredChars() int {
	if in.PostChars > 0 {
		return in.PostChars
	}
	return defaultPostChars
}

// answerFactor is how long the answer may be, relative to the body.
func (in Input) answerFactor() float64 {
	switch in.Preset {
	case PresetSummarize:
		return 0.75
	case PresetExpand, "": // a free instruction may ask for anything
		return 2.5
	}
	return 1.5
}

// budget is the prompt tokens estimated and the answer tokens allowed
// (max_tokens) for a body of chars characters: 3 characters a token, a
// margin over English's 4.
func (in Input) budget(chars int) (prompt, answer int) {
	body := chars/3 + 1
	return body + promptOverhead + utf8.RuneCountInString(in.Instruction)/3, int(float64(body)*in.answerFactor()) + 300
}

// units prices the input: the estimated tokens of the covered body.
func units(raw json.RawMessage) int64 {
	var in Input
	_ = json.Unmarshal(raw, &in)
	prompt, answer := in.budget(in.coveredChars())
	return int64(math.Ceil(float64(prompt+answer) / TokensPerUnit))
}

func (s *Service) kind() jobs.Kind {
	return jobs.Kind{
		Name: Kind,
		Description: "Transform a post's Markdown body with the chat model by a preset (summarize, rewrite, expand, simplify, change_tone) " +
			"or an instruction, keeping its headings and links; the old body is kept as a revision that can be restored.",
		Schema: json.RawMessage(`{"type":"object","required":["post_id"],"additionalProperties":false,"properties":{
			"post_id":{"type":"string"},
			"instruction":{"type":"string","maxLength":2000,"description":"what to do; or preset"},
			"preset":{"enum":["summarize","rewrite","expand","simplify","change_tone"]},
			"tone":{"type":"string","maxLength":40,"description":"with change_tone only, e.g. friendly"},
			"post_chars":{"type":"integer","minimum":0,"maximum":60000,"description":"the body's length in characters, from which the cost is estimated (12000 if absent); set by the route"}}}`),
		Validate:    validate,
		Units:       units,
		Price:       1,
		Timeout:     10 * time.Minute,
		MaxAttempts: 3,
		Preflight:   s.preflight,
		Handler:     s.run,
	}
}

// preflight refuses at submit a tenant without a chat model (503
// provider_not_configured), a post it does not have (404), and a body
// too long or longer than post_chars says (422).
func (s *Service) preflight(ctx context.Context, tenantID string, raw json.RawMessage) error {
	if err := s.settings.Require(ctx, tenantID, ai.CapChat); err != nil {
		return err
	}
	var in Input
	if err := json.Unmarshal(raw, &in); err != nil {
		return fmt.Errorf("decode %s input: %w", Kind, err)
	}
	post, err := s.content.FindPost(ctx, tenantID, in.PostID)
	if err != nil {
		return err
	}
	var f problem.FieldErrors
	switch n := utf8.RuneCountInString(post.BodyMarkdown); {
	case strings.TrimSpace(post.BodyMarkdown) == "":
		f.Add("input.post_id", "the post has no body_markdown to transform")
	case n > MaxPostChars:
		f.Add("input.post_id", fmt.Sprintf("the post's body is %d characters; post.transform takes at most %d", n, MaxPostChars))
	case n > in.coveredChars():
		f.Add("input.post_chars", fmt.Sprintf("the post's body is %d characters, more than post_chars (%d) from which the cost is estimated; set it to at least %d",
			n, in.coveredChars(), n))
	}
	return f.Err()
}
