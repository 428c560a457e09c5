package generate

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
)

// MaxInstruction is the longest edit instruction, in characters.
const MaxInstruction = 2000

// editTypes are the image types the edit endpoint takes.
var editTypes = []string{"image/png", "image/jpeg", "image/webp"}

// EditInput is media.image.edit's input.
type EditInput struct {
	// MediaID is the image to edit: an original or any of its versions.
	MediaID string `json:"media_id"`
	// Instruction says what to change.
	Instruction string `json:"instruction"`
}

func (g *Generator) editKind() jobs.Kind {
	return jobs.Kind{
		Name: KindImageEdit,
		Description: "Edit an image of the job's site (PNG, JPEG or WebP) as an instruction says, with the tenant's image model; " +
			"the result is saved as a new media file and recorded as the next version of the image (GET /sites/{site}/media/{id}/image-versions). Priced per image.",
		Schema: json.RawMessage(`{"type":"object","required":["media_id","instruction"],"additionalProperties":false,"properties":{
			"media_id":{"type":"string","pattern":"^med_"},
			"instruction":{"type":"string","minLength":1,"maxLength":2000}}}`),
		Validate:    validateEdit,
		Price:       PriceImage,
		Timeout:     5 * time.Minute,
		MaxAttempts: 3,
		Preflight:   g.require(ai.CapImage),
		Handler:     handler(g.editImage),
	}
}

func validateEdit(raw json.RawMessage) (json.RawMessage, error) {
	var in EditInput
	if err := jobs.StrictDecode(raw, &in); err != nil {
		return nil, err
	}
	in.MediaID, in.Instruction = strings.TrimSpace(in.MediaID), strings.TrimSpace(in.Instruction)
	var f problem.FieldErrors
	checkMediaID(&f, in.MediaID)
	f.Check(in.Instruction == "", "instruction", "is required")
	f.Check(utf8.RuneCountInString(in.Instruction) > MaxInstruction, "instruction", fmt.Sprintf("must be at most %d characters", MaxInstruction))
	if err := f.Err(); err != nil {
		return nil, err
	}
	return json.Marshal(in)
}

// checkMediaID checks the media_id field of an input.
func checkMediaID(f *problem.FieldErrors, id string) {
	f.Check(id == "", "media_id", "is required")
	f.Check(id != "" && !ids.HasPrefix(id, "med"), "media_id", "must be a media id (med_…)")
}

// editImage makes the edited image once and records it as a version; a
// rerun finds the file and the version the first run made.
func (g *Generator) editImage(ctx context.Context, j jobs.Job, r run) (any, error) {
	var in EditInput
	siteID, made, err := g.resume(ctx, j, r, &in)
	if err != nil {
		return nil, err
	}
	edited, done := made[0]
	model := ""
	if !done {
		if edited, model, err = g.makeEdit(ctx, j, r, siteID, in); err != nil {
			return nil, err
		}
	}
	v, err := g.content.AddMediaVersion(ctx, j.TenantID, in.MediaID, edited.ID, j.ID, in.Instruction)
	if err != nil {
		return nil, failure("record the version", err)
	}
	charge(j, r, 1, 1)
	out := map[string]any{"media_id": edited.ID, "media_ids": []string{edited.ID}, "media": []string{viewURL(edited)},
		"version": v.Version, "root_media_id": v.RootMediaID, "source_media_id": in.MediaID, "site_id": siteID,
		"versions": "/api/v1/sites/" + siteID + "/media/" + v.RootMediaID + "/image-versions"}
	if model != "" {
		out["model"] = model
	}
	return out, nil
}

// makeEdit asks the provider for the edited image and saves it.
func (g *Generator) makeEdit(ctx context.Context, j jobs.Job, r run, siteID string, in EditInput) (content.Media, string, error) {
	src, data, err := g.sourceImage(ctx, j.TenantID, siteID, in.MediaID, editTypes)
	if err != nil {
		return content.Media{}, "", err
	}
	p, err := g.provider(ctx, j.TenantID)
	if err != nil {
		return content.Media{}, "", err
	}
	prompt, err := g.render(ctx, j.TenantID, KindImageEdit, map[string]any{"Instruction": in.Instruction, "Filename": src.Filename, "Title": src.Title})
	if err != nil {
		return content.Media{}, "", err
	}
	model := p.Models().Image
	_ = r.Progress(ctx, 10, "editing "+src.Filename+" with "+model)
	imgs, _, err := p.EditImage(ctx, ai.ImageEditRequest{Image: data, Prompt: prompt})
	if err != nil {
		return content.Media{}, "", failure("edit the image", err)
	}
	_ = r.Progress(ctx, 80, "saving the new version")
	// The title and tags carry over; alt text and caption described the
	// old picture (media.metadata.generate writes new ones).
	meta := content.MediaInput{Filename: fileStem(src.Filename) + "-edited" + extOf(imgs[0].ContentType), Title: ptr(src.Title), Tags: ptr(src.Tags),
		Metadata: generatedMeta(j, map[string]any{"instruction": in.Instruction, "source_media_id": src.ID, "model": model,
			"revised_prompt": imgs[0].RevisedPrompt})}
	m, err := g.save(ctx, j, siteID, 0, imgs[0].Data, meta)
	return m, model, err
}
