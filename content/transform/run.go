package transform

import (
	"context"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/content/seo"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
)

// Result is post.transform's result.
type Result struct {
	PostID      string `json:"post_id"`
	SiteID      string `json:"site_id"`
	RevisionID  string `json:"revision_id"`
	Preset      string `json:"preset,omitempty"`
	Tone        string `json:"tone,omitempty"`
	Instruction string `json:"instruction,omitempty"`
	// CharactersBefore and CharactersAfter are the body's length.
	CharactersBefore int `json:"characters_before"`
	CharactersAfter  int `json:"characters_after"`
	// Headings and Links (distinct link and image URLs) are counted in the
	// new body.
	Headings int            `json:"headings"`
	Links    int            `json:"links"`
	Usage    map[string]int `json:"usage"`
}

// run transforms the post, unless this job already did: then it finishes
// what it started (the revision it recorded) without asking the model
// again.
func (s *Service) run(ctx context.Context, run *jobs.Run) (any, error) {
	var in Input
	if err := run.Input(&in); err != nil {
		return nil, err
	}
	rev, done, err := s.revisions.ofJob(ctx, run.Job.TenantID, run.Job.ID)
	if err != nil {
		return nil, err
	}
	if !done {
		if rev, err = s.transform(ctx, run, in); err != nil {
			return nil, err
		}
	}
	run.SetUsage(charge(run, in, rev.promptTokens, rev.completionTokens))
	if !rev.applied {
		_ = run.Progress(ctx, 90, "saving the new body")
		if _, err := s.revisions.apply(ctx, rev); err != nil {
			return nil, contentFailure("save post "+rev.PostID, err)
		}
	}
	return resultOf(in, rev), nil
}

// transform asks the model, checks the answer's structure, and records
// the revision (not yet applied).
func (s *Service) transform(ctx context.Context, run *jobs.Run, in Input) (Revision, error) {
	post, err := s.post(ctx, run, in)
	if err != nil {
		return Revision{}, err
	}
	system, err := s.system(ctx, run, in, post)
	if err != nil {
		return Revision{}, err
	}
	p, err := s.settings.Provider(ctx, run.Job.TenantID)
	if err != nil {
		return Revision{}, providerFailure(ctx, err)
	}
	_ = run.Progress(ctx, 10, "asking the model")
	_, answerTokens := in.budget(utf8.RuneCountInString(post.BodyMarkdown))
	res, err := p.Chat(ctx, ai.ChatRequest{System: system, Messages: []ai.Message{{Role: "user", Text: post.BodyMarkdown}},
		MaxTokens: answerTokens})
	if err != nil {
		return Revision{}, providerFailure(ctx, err)
	}
	_ = run.Progress(ctx, 80, "checking the structure")
	body, err := checkAnswer(run, post.BodyMarkdown, res)
	if err != nil {
		return Revision{}, err
	}
	html, err := content.RenderMarkdown(body)
	if err != nil {
		return Revision{}, err
	}
	return s.revisions.record(ctx, run.Job.TenantID, change{post: post, kind: RevisionTransform, note: noteOf(in),
		jobID: run.Job.ID, newMarkdown: body, newHTML: html,
		promptTokens: res.Usage.PromptTokens, compTokens: res.Usage.CompletionTokens})
}

// post reads the job's post, which must be in the job's site and within
// what the job reserved for.
func (s *Service) post(ctx context.Context, run *jobs.Run, in Input) (content.Post, error) {
	post, err := s.content.FindPost(ctx, run.Job.TenantID, in.PostID)
	if err == nil && run.Job.SiteID != nil && post.SiteID != *run.Job.SiteID {
		err = problem.NotFoundf("post")
	}
	if err != nil {
		return post, contentFailure("read post "+in.PostID, err)
	}
	switch n := utf8.RuneCountInString(post.BodyMarkdown); {
	case n > MaxPostChars:
		return post, jobs.Permanent(CodePostTooLong, fmt.Sprintf("the post's body is %d characters; post.transform takes at most %d", n, MaxPostChars), nil)
	case n > in.coveredChars():
		return post, jobs.Permanent(CodePostChanged, fmt.Sprintf(
			"the post's body grew to %d characters after the job was submitted for %d; submit the transform again", n, in.coveredChars()), nil)
	}
	return post, nil
}

// system renders the tenant's prompt for the input; on a later attempt it
// adds a reminder of what gets an answer refused.
func (s *Service) system(ctx context.Context, run *jobs.Run, in Input, post content.Post) (string, error) {
	system, err := s.settings.Render(ctx, run.Job.TenantID, PromptType, map[string]any{
		"Instruction": instructionOf(in), "Preset": in.Preset, "Tone": in.Tone, "Title": post.Title, "Language": post.Language})
	if err != nil {
		if p, ok := problem.As(err); ok {
			return "", jobs.Permanent(p.Code, p.Message, err)
		}
		return "", jobs.Permanent("prompt_render_failed", fmt.Sprintf(
			"the system prompt %s does not render (%v); fix it with PUT /api/v1/system-prompts/%s or reset it with DELETE", PromptType, err, PromptType), err)
	}
	if run.Job.Attempt > 1 {
		system += "\n\nThis is a second try: an earlier answer may have been refused for dropping a heading or a link, " +
			"or for being cut short. Keep every heading and every link URL, and answer with the whole body."
	}
	return system, nil
}

// checkAnswer returns the model's new body, or a failure retried once
// when the answer was cut or lost the post's structure.
func checkAnswer(run *jobs.Run, original string, res ai.ChatResult) (string, error) {
	if res.FinishReason == "length" {
		return "", onceMore(run, CodeIncomplete, "the model's answer was cut at its length limit", nil)
	}
	body := cleanAnswer(res.Text, original)
	if err := CheckStructure(original, body); err != nil {
		return "", onceMore(run, CodeLostStructure, "the transformed body lost the post's structure: "+err.Error(), err)
	}
	return body, nil
}

// onceMore fails the attempt with code: retried on the first attempt,
// final on a later one.
func onceMore(run *jobs.Run, code, message string, err error) error {
	if run.Job.Attempt <= 1 {
		return jobs.Retryable(code, message, err)
	}
	return jobs.Permanent(code, message, err)
}

// noteOf says what the transform was, for the revision.
func noteOf(in Input) string {
	switch in.Preset {
	case "":
		return "instruction: " + in.Instruction
	case PresetChangeTone:
		return "preset change_tone (" + in.Tone + ")"
	}
	return "preset " + in.Preset
}

func resultOf(in Input, rev Revision) Result {
	doc := seo.Parse(rev.newMarkdown)
	return Result{PostID: rev.PostID, SiteID: rev.SiteID, RevisionID: rev.ID, Preset: in.Preset, Tone: in.Tone,
		Instruction: in.Instruction, CharactersBefore: rev.Characters, CharactersAfter: rev.NewCharacters,
		Headings: len(doc.Headings), Links: len(urlsOf(doc)),
		Usage: map[string]int{"prompt_tokens": rev.promptTokens, "completion_tokens": rev.completionTokens}}
}

// charge is the credits of the tokens used: the price per unit is the
// reservation over the input's units, and the charge never exceeds the
// reservation.
func charge(run *jobs.Run, in Input, prompt, completion int) int64 {
	reserved := run.Job.Credits.Reserved
	price := reserved / max(units(run.Job.Input), 1)
	used := int64(math.Ceil(float64(prompt+completion)/TokensPerUnit)) * price
	if used > reserved {
		run.Logger.Warn("usage beyond the reservation; charging the reservation", "used", used, "reserved", reserved, "post_id", in.PostID)
		return reserved
	}
	return used
}

// providerFailure maps a model provider error to the job's error:
// transient ones (rate limits, outages) are retried; content_rejected,
// provider_request_rejected, provider_auth_failed and
// provider_not_configured fail the job at once. None is charged.
func providerFailure(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return jobs.FailureFrom("call the model", err, ai.IsTransient)
}

// contentFailure maps a content error: a problem (the post is gone, say)
// fails the job with its code; anything else is retried.
func contentFailure(what string, err error) error {
	var f *jobs.Failure
	if errors.As(err, &f) {
		return err
	}
	if p, ok := problem.As(err); ok {
		return jobs.Permanent(p.Code, p.Message, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
