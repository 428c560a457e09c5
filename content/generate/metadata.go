package generate

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
)

// Limits of media.metadata.generate. The prompt asks for the soft limits;
// answers are cut to the hard ones the media row takes.
const (
	// MetadataUnits is how many thousands of vision tokens a job reserves
	// (an image is 85 to about 1,100 tokens, the prompt about 250, the
	// answer at most metadataMaxTokens).
	MetadataUnits     = 3
	metadataMaxTokens = 600
	softAltText       = 250
	softCaption       = 300
	maxMetaTags       = 10
	hardAltText       = 1000
	hardCaption       = 5000
	hardTag           = 100
	// metadataKey is the key of the media row's metadata object where the
	// job records that it wrote the fields.
	metadataKey = "ai_metadata"
)

// visionTypes are the image types vision models take.
var visionTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp"}

// languagePattern accepts BCP 47 tags such as en, de or pt-BR.
var languagePattern = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$`)

// MetadataInput is media.metadata.generate's input.
type MetadataInput struct {
	// MediaID is the image to describe.
	MediaID string `json:"media_id"`
	// Language is the BCP 47 tag of the language to write in; empty is
	// English.
	Language string `json:"language,omitempty"`
}

func (g *Generator) metadataKind() jobs.Kind {
	return jobs.Kind{
		Name: KindMetadata,
		Description: "Write an image's alt text, caption and tags with the tenant's vision model, onto the media file of the job's site " +
			"(PNG, JPEG, GIF or WebP). Priced per 1,000 tokens; reserves 3.",
		Schema: json.RawMessage(`{"type":"object","required":["media_id"],"additionalProperties":false,"properties":{
			"media_id":{"type":"string","pattern":"^med_"},
			"language":{"type":"string","description":"BCP 47 tag such as en or pt-BR; default English"}}}`),
		Validate:    validateMetadata,
		Units:       func(json.RawMessage) int64 { return MetadataUnits },
		Price:       PriceMetadataTokens,
		Timeout:     3 * time.Minute,
		MaxAttempts: 3,
		Preflight:   g.require(ai.CapVision),
		Handler:     handler(g.writeMetadata),
	}
}

func validateMetadata(raw json.RawMessage) (json.RawMessage, error) {
	var in MetadataInput
	if err := jobs.StrictDecode(raw, &in); err != nil {
		return nil, err
	}
	in.MediaID, in.Language = strings.TrimSpace(in.MediaID), strings.TrimSpace(in.Language)
	var f problem.FieldErrors
	checkMediaID(&f, in.MediaID)
	f.Check(in.Language != "" && !languagePattern.MatchString(in.Language), "language", "must be a BCP 47 tag such as en or pt-BR")
	if err := f.Err(); err != nil {
		return nil, err
	}
	return json.Marshal(in)
}

// imageMetadata is what the vision model answers.
type imageMetadata struct {
	AltText string   `json:"alt_text"`
	Caption string   `json:"caption"`
	Tags    []string `json:"tags"`
}

// jobRecord is what the job keeps on the media row under metadataKey.
type jobRecord struct {
	JobID  string `json:"job_id"`
	Model  string `json:"model"`
	Tokens int64  `json:"tokens"`
	At     string `json:"generated_at"`
}

// writeMetadata describes the image and writes the fields; a rerun that
// finds its own record on the row returns it without asking again.
func (g *Generator) writeMetadata(ctx context.Context, j jobs.Job, r run) (any, error) {
	var in MetadataInput
	if err := r.Input(&in); err != nil {
		return nil, err
	}
	siteID, err := siteOf(j)
	if err != nil {
		return nil, err
	}
	m, data, err := g.sourceImage(ctx, j.TenantID, siteID, in.MediaID, visionTypes)
	if err != nil {
		return nil, err
	}
	rec, done := recordOf(m)
	if !done || rec.JobID != j.ID {
		if m, rec, err = g.describe(ctx, j, r, siteID, m, data, in.Language); err != nil {
			return nil, err
		}
	}
	charge(j, r, max(ceilDiv(rec.Tokens, 1000), 1), MetadataUnits)
	return map[string]any{"media_id": m.ID, "media_ids": []string{m.ID}, "media": []string{viewURL(m)}, "site_id": siteID,
		"alt_text": m.AltText, "caption": m.Caption, "tags": m.Tags, "model": rec.Model, "tokens": rec.Tokens}, nil
}

// recordOf reads the job record of a media row, if any.
func recordOf(m content.Media) (jobRecord, bool) {
	var meta map[string]json.RawMessage
	if json.Unmarshal(m.Metadata, &meta) != nil || meta[metadataKey] == nil {
		return jobRecord{}, false
	}
	var rec jobRecord
	return rec, json.Unmarshal(meta[metadataKey], &rec) == nil
}

// describe asks the vision model and writes its answer onto the row.
func (g *Generator) describe(ctx context.Context, j jobs.Job, r run, siteID string, m content.Media, data []byte, lang string) (content.Media, jobRecord, error) {
	p, err := g.provider(ctx, j.TenantID)
	if err != nil {
		return m, jobRecord{}, err
	}
	system, err := g.render(ctx, j.TenantID, KindMetadata, map[string]any{"Filename": m.Filename, "Title": m.Title,
		"Language": languageName(lang), "MaxAltText": softAltText, "MaxCaption": softCaption, "MaxTags": maxMetaTags})
	if err != nil {
		return m, jobRecord{}, err
	}
	model := p.Models().Vision
	_ = r.Progress(ctx, 10, "describing "+m.Filename+" with "+model)
	res, err := p.Chat(ctx, ai.ChatRequest{System: system, JSON: true, MaxTokens: metadataMaxTokens,
		Messages: []ai.Message{{Role: "user", Text: "Write the alt text, caption and tags of this image as the JSON object described."}},
		Images:   []ai.ImageInput{{Data: data, Detail: "auto"}}})
	if err != nil {
		return m, jobRecord{}, failure("describe the image", err)
	}
	answer, err := parseMetadata(res.Text)
	if err != nil {
		return m, jobRecord{}, err
	}
	rec := jobRecord{JobID: j.ID, Model: model, Tokens: int64(res.Usage.PromptTokens + res.Usage.CompletionTokens),
		At: time.Now().UTC().Format(time.RFC3339)}
	_ = r.Progress(ctx, 80, "writing alt text, caption and tags")
	updated, err := g.content.UpdateMedia(ctx, j.TenantID, siteID, m.ID, content.MediaInput{AltText: &answer.AltText,
		Caption: &answer.Caption, Tags: &answer.Tags, Metadata: withRecord(m.Metadata, rec)})
	if err != nil {
		return m, jobRecord{}, failure("write the metadata of "+m.ID, err)
	}
	return updated, rec, nil
}

// parseMetadata reads and bounds the model's answer. An answer without alt
// text is retried: the model may do better next time.
func parseMetadata(text string) (imageMetadata, error) {
	var a imageMetadata
	if err := json.Unmarshal([]byte(text), &a); err != nil {
		return a, jobs.Retryable("invalid_model_answer", "the vision model's answer is not the JSON object asked for", err)
	}
	a.AltText, a.Caption = clip(a.AltText, hardAltText), clip(a.Caption, hardCaption)
	if a.AltText == "" {
		return a, jobs.Retryable("invalid_model_answer", "the vision model's answer has no alt_text", nil)
	}
	tags := []string{}
	for _, t := range a.Tags {
		if t = clip(t, hardTag); t != "" && len(tags) < maxMetaTags {
			tags = append(tags, t)
		}
	}
	a.Tags = tags
	return a, nil
}

// withRecord returns the row's metadata with the job's record set.
func withRecord(raw json.RawMessage, rec jobRecord) *json.RawMessage {
	meta := map[string]any{}
	_ = json.Unmarshal(raw, &meta)
	if meta == nil {
		meta = map[string]any{}
	}
	meta[metadataKey] = rec
	out, _ := json.Marshal(meta)
	msg := json.RawMessage(out)
	return &msg
}

// languageName is how the prompt names the language of a BCP 47 tag.
func languageName(tag string) string {
	if tag == "" {
		return "English"
	}
	names := map[string]string{"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
		"pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "sv": "Swedish", "da": "Danish", "no": "Norwegian",
		"fi": "Finnish", "cs": "Czech", "ja": "Japanese", "zh": "Chinese", "ko": "Korean", "ru": "Russian",
		"uk": "Ukrainian", "tr": "Turkish", "ar": "Arabic"}
	base, _, _ := strings.Cut(strings.ToLower(tag), "-")
	if name, ok := names[base]; ok {
		return fmt.Sprintf("%s (%s)", name, tag)
	}
	return "the language with the BCP 47 tag " + tag
}
