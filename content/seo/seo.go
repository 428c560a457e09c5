// Package seo defines the SEO job kinds of posts and free text.
//
// seo.analyze runs rule-based checks (Analyze, a pure function: title and
// meta description length, heading structure, keyword use, readability,
// links, image alt text), each with a score and concrete fixes; when the
// tenant has a chat model, the model adds suggestions, and without one the
// job still succeeds with the rule-based report. seo.generate_text asks the
// chat model for a meta description, title, keywords, summary or FAQ as
// JSON and validates the answer. Parse reads the Markdown structure both
// use; content/transform checks a transformed post with it too.
package seo

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/settings"
)

// Kind names.
const (
	KindGenerateText = "seo.generate_text"
	KindAnalyze      = "seo.analyze"
)

// Limits and prices.
const (
	// MaxText is the longest text (in characters) a job takes.
	MaxText = 200_000
	// MaxModelChars is how much of the text (in characters) is sent to the
	// model; a longer text is cut at a paragraph before that.
	MaxModelChars = 24_000
	// TokensPerUnit is the priced unit of model work: 1,000 tokens
	// (prompt and completion), at a default price of 1 credit.
	TokensPerUnit = 1000
	// promptOverhead is the tokens of a system prompt, with margin.
	promptOverhead = 400
)

// Service runs the SEO kinds over the tenant's posts and settings.
type Service struct {
	content  *content.Service
	settings *settings.Service
	log      *slog.Logger
}

// New returns the service.
func New(c *content.Service, s *settings.Service, log *slog.Logger) *Service {
	return &Service{content: c, settings: s, log: log}
}

// Kinds returns the kinds to register: seo.generate_text and seo.analyze.
func (s *Service) Kinds() []jobs.Kind {
	return []jobs.Kind{s.generateKind(), s.analyzeKind()}
}

// source is the text a job works on, with what is known about it.
type source struct {
	PostID, Text, Title, Description, Language, SiteURL string
}

// sourceOf reads the job's text: the post postID of the job's site, or
// text. Its errors are job failures.
func (s *Service) sourceOf(ctx context.Context, run *jobs.Run, postID, text string) (source, error) {
	src := source{Text: text, Language: "en"}
	if run.Job.SiteID != nil {
		site, err := s.content.GetSite(ctx, run.Job.TenantID, *run.Job.SiteID)
		if err != nil {
			return src, contentFailure("read the job's site", err)
		}
		src.SiteURL, src.Language = site.URL, site.Language
	}
	if postID == "" {
		return src, nil
	}
	post, err := s.content.FindPost(ctx, run.Job.TenantID, postID)
	if err == nil && run.Job.SiteID != nil && post.SiteID != *run.Job.SiteID {
		err = problem.NotFoundf("post")
	}
	if err != nil {
		return src, contentFailure("read post "+postID, err)
	}
	src.PostID, src.Text, src.Title, src.Description = post.ID, post.BodyMarkdown, post.Title, post.Excerpt
	if post.Language != "" {
		src.Language = post.Language
	}
	return src, nil
}

// contentFailure maps a content error: a problem (the post is gone, say)
// fails the job with its code; anything else is retried.
func contentFailure(what string, err error) error {
	if p, ok := problem.As(err); ok {
		return jobs.Permanent(p.Code, p.Message, err)
	}
	return fmt.Errorf("%s: %w", what, err)
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

// forModel cuts text to MaxModelChars, at a paragraph break when there is
// one in the last quarter.
func forModel(text string) string {
	r := []rune(text)
	if len(r) <= MaxModelChars {
		return text
	}
	cut := string(r[:MaxModelChars])
	if i := strings.LastIndex(cut, "\n\n"); i > len(cut)*3/4 {
		cut = cut[:i]
	}
	return cut
}

// modelChars is how many characters of a text of n characters go to the
// model; n 0 (unknown) counts as the most.
func modelChars(n int) int {
	if n <= 0 || n > MaxModelChars {
		return MaxModelChars
	}
	return n
}

// tokensOf estimates the prompt tokens of chars characters: 3 characters
// a token, a margin over English's 4 for other languages.
func tokensOf(chars int) int { return chars/3 + promptOverhead }

// unitsOf is the priced units of tokens.
func unitsOf(tokens int) int64 { return int64(math.Ceil(float64(tokens) / TokensPerUnit)) }

// charge is the credits of a run that used tokens, with base units on top:
// the price per unit is the reservation over the input's units, and the
// charge never exceeds the reservation.
func charge(run *jobs.Run, units int64, base int64, usage ai.CallUsage) int64 {
	reserved := run.Job.Credits.Reserved
	price := reserved / max(units, 1)
	used := (base + unitsOf(usage.PromptTokens+usage.CompletionTokens)) * price
	if used > reserved {
		run.Logger.Warn("usage beyond the reservation; charging the reservation", "used", used, "reserved", reserved)
		return reserved
	}
	return used
}

// usageOf is the usage a result reports.
func usageOf(u ai.CallUsage) map[string]int {
	return map[string]int{"requests": u.Requests, "prompt_tokens": u.PromptTokens, "completion_tokens": u.CompletionTokens}
}

// checkSource validates the post_id / text pair of an input: exactly one,
// a post id, a text within MaxText.
func checkSource(f *problem.FieldErrors, postID, text string, postChars int) {
	switch {
	case postID == "" && strings.TrimSpace(text) == "":
		f.Add("post_id", "give post_id (a post of the site) or text")
		f.Add("text", "give post_id (a post of the site) or text")
	case postID != "" && text != "":
		f.Add("text", "give post_id or text, not both")
	case postID != "" && !ids.HasPrefix(postID, "post"):
		f.Add("post_id", "must be a post id (post_…)")
	case utf8.RuneCountInString(text) > MaxText:
		f.Add("text", fmt.Sprintf("must be at most %d characters", MaxText))
	}
	f.Check(postChars < 0, "post_chars", "must not be negative")
	f.Check(postChars > 0 && postID == "", "post_chars", "goes with post_id only")
}

// checkCommon validates the keyword and language of an input.
func checkCommon(f *problem.FieldErrors, keyword, language string) {
	f.Check(utf8.RuneCountInString(keyword) > 100, "keyword", "must be at most 100 characters")
	f.Check(language != "" && !validLanguage(language), "language", "must be a BCP 47 tag such as en or pt-BR")
}

func validLanguage(tag string) bool {
	parts := strings.Split(tag, "-")
	if len(parts[0]) < 2 || len(parts[0]) > 3 || strings.ToLower(parts[0]) != parts[0] {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 8 || strings.Trim(strings.ToLower(p), "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			return false
		}
	}
	return true
}

// coverPost checks at submit that the post exists in the tenant and that
// the reservation, priced from postChars, covers what will be sent to the
// model.
func (s *Service) coverPost(ctx context.Context, tenantID, postID string, postChars int) error {
	if postID == "" {
		return nil
	}
	post, err := s.content.FindPost(ctx, tenantID, postID)
	if err != nil {
		return err
	}
	if n := utf8.RuneCountInString(post.BodyMarkdown); modelChars(postChars) < modelChars(n) {
		var f problem.FieldErrors
		f.Add("input.post_chars", fmt.Sprintf("is %d but the post's body is %d characters; the cost is estimated from it, so set it to at least %d or leave it out",
			postChars, n, n))
		return f.Err()
	}
	return nil
}

// kindTimeout bounds a job: two model calls with the provider's retries.
const kindTimeout = 10 * time.Minute
