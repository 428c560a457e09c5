package translate

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	htmltomarkdown "github.com/JohannesKaufmann/html-to-markdown/v2"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
)

// The language jobs: each translates one master into one language, and is
// idempotent per job id (a rerun writes the same translated post or row).

func (t *Translator) runPostLanguage(ctx context.Context, run *jobs.Run) (any, error) {
	var in languageInput
	if err := run.Input(&in); err != nil {
		return nil, err
	}
	_ = run.Progress(ctx, 10, "translating into "+LanguageName(in.Language))
	res, used, err := t.translatePost(ctx, run.Job.TenantID, run.Job.ID, in)
	if err != nil {
		return nil, err
	}
	run.SetUsage(used)
	return res, nil
}

func (t *Translator) runMediaLanguage(ctx context.Context, run *jobs.Run) (any, error) {
	var in languageInput
	if err := run.Input(&in); err != nil {
		return nil, err
	}
	_ = run.Progress(ctx, 10, "translating into "+LanguageName(in.Language))
	res, used, err := t.translateMedia(ctx, run.Job.TenantID, run.Job.ID, in)
	if err != nil {
		return nil, err
	}
	run.SetUsage(used)
	return res, nil
}

// translatePost translates the master post into in.Language and saves the
// translated post, returning the result and the credits used.
func (t *Translator) translatePost(ctx context.Context, tenantID, jobID string, in languageInput) (languageResult, int64, error) {
	post, err := t.content.FindPost(ctx, tenantID, in.MasterID)
	if err != nil {
		return languageResult{}, 0, missing(err, "post_not_found", "the post to translate no longer exists")
	}
	if err := sameLanguage(post.Language, in.Language); err != nil {
		return languageResult{}, 0, err
	}
	body, err := postMarkdown(ctx, post)
	if err != nil {
		return languageResult{}, 0, err
	}
	out, usage, err := t.translateTexts(ctx, tenantID, post.Language, in.Language, in.Keep, []source{
		{name: "title", text: post.Title}, {name: "excerpt", text: post.Excerpt}, {name: "body", text: body, segmented: true}})
	if err != nil {
		return languageResult{}, 0, err
	}
	m := master{tenantID: tenantID, siteID: post.SiteID, resourceType: ResourcePost, id: post.ID}
	saved, trID, err := t.savePost(ctx, m, jobID, in.Language, post, out)
	if err != nil {
		return languageResult{}, 0, err
	}
	return languageResult{Language: in.Language, TranslationID: trID, TranslatedPostID: saved.ID, Title: saved.Title},
		credits(usage, in.shareOr(PricePostLanguage), PricePostLanguage), nil
}

// translateMedia translates the master media item's title, alt text and
// caption into in.Language and saves them in its translation row.
func (t *Translator) translateMedia(ctx context.Context, tenantID, jobID string, in languageInput) (languageResult, int64, error) {
	m, err := t.content.GetMedia(ctx, tenantID, in.SiteID, in.MasterID)
	if err != nil {
		return languageResult{}, 0, missing(err, "media_not_found", "the media item to translate no longer exists")
	}
	site, err := t.content.GetSite(ctx, tenantID, m.SiteID)
	if err != nil {
		return languageResult{}, 0, missing(err, "site_not_found", "the media item's site no longer exists")
	}
	if err := sameLanguage(site.Language, in.Language); err != nil {
		return languageResult{}, 0, err
	}
	out, usage, err := t.translateTexts(ctx, tenantID, site.Language, in.Language, in.Keep, []source{
		{name: "title", text: m.Title}, {name: "alt_text", text: m.AltText}, {name: "caption", text: m.Caption}})
	if err != nil {
		return languageResult{}, 0, err
	}
	fields := &MediaFields{Title: out["title"], AltText: out["alt_text"], Caption: out["caption"]}
	mst := master{tenantID: tenantID, siteID: m.SiteID, resourceType: ResourceMedia, id: m.ID}
	trID, err := t.store.saveMedia(ctx, mst, done{language: in.Language, jobID: jobID, fields: fields, masterUpdatedAt: m.UpdatedAt})
	if err != nil {
		return languageResult{}, 0, err
	}
	used := int64(0)
	if usage.Requests > 0 {
		used = credits(usage, in.shareOr(PriceMediaLanguage), PriceMediaLanguage)
	}
	return languageResult{Language: in.Language, TranslationID: trID, Fields: fields}, used, nil
}

// sameLanguage refuses to translate a master into its own language.
func sameLanguage(source, target string) error {
	if strings.EqualFold(source, target) {
		return jobs.Permanent("same_language", fmt.Sprintf("the original is written in %s already", target), nil)
	}
	return nil
}

// postMarkdown is the post's body as Markdown: body_markdown, or, for a
// post that only has HTML, its HTML converted.
func postMarkdown(ctx context.Context, post content.Post) (string, error) {
	if strings.TrimSpace(post.BodyMarkdown) != "" || strings.TrimSpace(post.BodyHTML) == "" {
		return post.BodyMarkdown, nil
	}
	md, err := htmltomarkdown.ConvertString(post.BodyHTML)
	if err != nil {
		return "", jobs.Permanent("unreadable_body", "the post's body_html cannot be converted to Markdown for translation", err)
	}
	return strings.TrimSpace(md), ctx.Err()
}

// source is a text to translate; segmented texts (a post's body) are cut
// at blank lines into calls of a bounded size.
type source struct {
	name      string
	text      string
	segmented bool
}

// protectedSource is a source with its placeholders and the names of the
// fields it was sent as.
type protectedSource struct {
	source
	prot  Protected
	names []string
}

// translateTexts translates the sources that are not blank from one
// language into another: it protects them, asks the tenant's chat model
// under the tenant's system prompt, and restores and checks each answer.
// Blank sources come back empty, without a call.
func (t *Translator) translateTexts(ctx context.Context, tenantID, from, to string, keep []string, srcs []source) (map[string]string, ai.CallUsage, error) {
	protected, fields := protectSources(srcs)
	out := map[string]string{}
	for _, s := range srcs {
		out[s.name] = ""
	}
	if len(fields) == 0 {
		return out, ai.CallUsage{}, nil
	}
	c, err := t.newCall(ctx, tenantID, from, to, keep)
	if err != nil {
		return nil, ai.CallUsage{}, err
	}
	got, usage, err := c.translate(ctx, fields)
	if err != nil {
		return nil, usage, err
	}
	sent := make(map[string]string, len(fields))
	for _, f := range fields {
		sent[f.name] = f.text
	}
	for _, ps := range protected {
		parts := make([]string, len(ps.names))
		for i, name := range ps.names {
			parts[i] = sameEnds(sent[name], got[name])
		}
		text, err := ps.restore(strings.Join(parts, "\n\n"), keep)
		if err != nil {
			return nil, usage, err
		}
		out[ps.name] = text
	}
	return out, usage, nil
}

// sameEnds gives a translation the blank lines its source began and ended
// with, which models drop.
func sameEnds(source, translated string) string {
	if strings.Trim(source, "\n") == "" {
		return source
	}
	lead := source[:len(source)-len(strings.TrimLeft(source, "\n"))]
	trail := source[len(strings.TrimRight(source, "\n")):]
	return lead + strings.Trim(translated, "\n") + trail
}

// protectSources protects the sources that are not blank, numbering their
// placeholders apart, and cuts them into the fields to send.
func protectSources(srcs []source) ([]protectedSource, []field) {
	var pr Protector
	var protected []protectedSource
	var fields []field
	for _, s := range srcs {
		if strings.TrimSpace(s.text) == "" {
			continue
		}
		ps := protectedSource{source: s, prot: pr.Protect(s.text)}
		segs := []string{ps.prot.Text}
		if s.segmented {
			segs = Segments(ps.prot.Text, maxCallBytes)
		}
		for i, seg := range segs {
			name := s.name
			if len(segs) > 1 {
				name = fmt.Sprintf("%s_%d", s.name, i+1)
			}
			ps.names = append(ps.names, name)
			fields = append(fields, field{name: name, text: seg})
		}
		protected = append(protected, ps)
	}
	return protected, fields
}

// restore checks the translated text's structure, puts the protected
// parts back, and checks the terms to keep.
func (ps protectedSource) restore(translated string, keep []string) (string, error) {
	if err := CheckStructure(ps.prot.Text, translated); err != nil {
		return "", structureFailure("the translation of "+ps.name, err)
	}
	text, err := ps.prot.Restore(translated)
	if err != nil {
		return "", structureFailure("the translation of "+ps.name, err)
	}
	if err := checkKept(ps.name, ps.text, text, keep); err != nil {
		return "", err
	}
	return text, nil
}

// newCall resolves the tenant's chat provider and renders its system
// prompt for the two languages.
func (t *Translator) newCall(ctx context.Context, tenantID, from, to string, keep []string) (call, error) {
	provider, err := t.settings.Provider(ctx, tenantID)
	if err != nil {
		return call{}, providerFailure(err)
	}
	quoted := make([]string, len(keep))
	for i, k := range keep {
		quoted[i] = fmt.Sprintf("%q", k)
	}
	system, err := t.settings.Render(ctx, tenantID, PromptType, map[string]any{
		"SourceLanguage": LanguageName(from), "TargetLanguage": LanguageName(to), "Keep": strings.Join(quoted, ", ")})
	if err != nil {
		if _, ok := problem.As(err); ok {
			return call{}, err
		}
		return call{}, jobs.Permanent("prompt_render_failed", "the tenant's translate system prompt cannot be rendered; fix or reset it", err)
	}
	return call{provider: provider, system: system, source: from, target: to, keep: keep}, nil
}

// savePost writes the translation into the language's translated post (a
// new draft the first time, keyed by the job) and links it. If another job
// linked a post for the language meanwhile, the translation goes into
// that post and the one made here is removed.
func (t *Translator) savePost(ctx context.Context, m master, jobID, lang string, post content.Post, tr map[string]string) (content.Post, string, error) {
	existing, err := t.store.translatedPost(ctx, m, lang)
	if err != nil {
		return content.Post{}, "", err
	}
	for range 3 {
		saved, made, err := t.writePost(ctx, m, jobID, existing, lang, post, tr)
		if err != nil {
			return content.Post{}, "", err
		}
		id, linked, err := t.store.linkPost(ctx, m, done{language: lang, jobID: jobID, postID: saved.ID, masterUpdatedAt: post.UpdatedAt})
		if err != nil {
			return content.Post{}, "", err
		}
		if linked {
			return saved, id, nil // id is the translation's
		}
		if made {
			if err := t.content.DeletePost(ctx, m.tenantID, m.siteID, saved.ID); err != nil {
				return content.Post{}, "", fmt.Errorf("remove the duplicate %s translation %s: %w", lang, saved.ID, err)
			}
		}
		existing = id // the post that holds the language
	}
	return content.Post{}, "", fmt.Errorf("link the %s translation of %s: other jobs keep taking it", lang, m.id)
}

// writePost replaces the content of the existing translated post, or,
// when there is none (or it was deleted), saves the job's own post. made
// reports the latter.
func (t *Translator) writePost(ctx context.Context, m master, jobID, existing, lang string, post content.Post, tr map[string]string) (content.Post, bool, error) {
	title, body, excerpt := tr["title"], tr["body"], tr["excerpt"]
	html, err := content.RenderMarkdown(body)
	if err != nil {
		return content.Post{}, false, err
	}
	in := content.PostInput{Title: &title, BodyMarkdown: &body, BodyHTML: &html, Excerpt: &excerpt, Language: &lang,
		Author: &post.Author, LeadImage: &post.LeadImage, Tags: &post.Tags}
	if existing != "" {
		saved, err := t.content.ReplacePostContent(ctx, m.tenantID, existing, in)
		if p, ok := problem.As(err); !ok || p.Kind != problem.NotFound {
			return saved, false, saveFailure(err)
		}
	}
	draft := content.PostDraft
	meta, err := json.Marshal(map[string]any{"translation_of": post.ID, "source_language": post.Language})
	if err != nil {
		return content.Post{}, false, fmt.Errorf("encode the metadata of a translated post: %w", err)
	}
	raw := json.RawMessage(meta)
	in.Status, in.Metadata = &draft, &raw
	saved, err := t.content.SavePostFromJob(ctx, m.tenantID, m.siteID, jobID, in)
	return saved, err == nil, saveFailure(err)
}

// saveFailure makes content's refusals (a translated title too long, say)
// permanent failures with their code.
func saveFailure(err error) error {
	if p, ok := problem.As(err); ok {
		return jobs.Permanent(p.Code, "the translated post cannot be saved: "+p.Message, err)
	}
	if err != nil {
		return fmt.Errorf("save the translated post: %w", err)
	}
	return nil
}
