package generate

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
)

// Limits of media.image.generate.
const (
	// MaxImages is the most images one job makes.
	MaxImages = 4
	// MaxPrompt is the longest prompt, in characters (dall-e-3's limit;
	// dall-e-2 takes 1,000).
	MaxPrompt = 4000
	// MaxStyle is the longest style, in characters.
	MaxStyle = 200
	// DefaultSize is the size of images when the input names none.
	DefaultSize = "1024x1024"
)

// Sizes are the image sizes a job may ask for: those of OpenAI's image
// models (not every model takes every size; the provider refuses a size
// its model does not take, and the job fails provider_request_rejected).
func Sizes() []string {
	return []string{"256x256", "512x512", "1024x1024", "1024x1536", "1536x1024", "1024x1792", "1792x1024"}
}

// ImageInput is media.image.generate's input.
type ImageInput struct {
	// Prompt describes the images.
	Prompt string `json:"prompt"`
	// Size is one of Sizes; empty is DefaultSize.
	Size string `json:"size,omitempty"`
	// N is how many images, 1 to MaxImages; absent is 1.
	N *int `json:"n,omitempty"`
	// Style is a style direction added to the prompt ("watercolour",
	// "flat vector illustration"); dall-e-3 also takes "vivid" and
	// "natural" as its style parameter.
	Style string `json:"style,omitempty"`
}

// count is the number of images asked for.
func (in ImageInput) count() int {
	if in.N == nil {
		return 1
	}
	return *in.N
}

func (g *Generator) imageKind() jobs.Kind {
	return jobs.Kind{
		Name:        KindImageGenerate,
		Description: "Generate 1 to 4 images from a prompt with the tenant's image model and save each as a media file of the job's site. Priced per image.",
		Schema: json.RawMessage(`{"type":"object","required":["prompt"],"additionalProperties":false,"properties":{
			"prompt":{"type":"string","minLength":1,"maxLength":4000},
			"size":{"enum":["256x256","512x512","1024x1024","1024x1536","1536x1024","1024x1792","1792x1024"],"default":"1024x1024"},
			"n":{"type":"integer","minimum":1,"maximum":4,"default":1},
			"style":{"type":"string","maxLength":200}}}`),
		Validate: validateImage,
		Units: func(raw json.RawMessage) int64 {
			var in ImageInput
			_ = json.Unmarshal(raw, &in)
			return int64(max(in.count(), 1))
		},
		Price:       PriceImage,
		Timeout:     5 * time.Minute,
		MaxAttempts: 3,
		Preflight:   g.require(ai.CapImage),
		Handler:     handler(g.generateImages),
	}
}

// require is a Preflight refusing tenants with no provider for caps.
func (g *Generator) require(caps ...ai.Capability) func(context.Context, string, json.RawMessage) error {
	return func(ctx context.Context, tenantID string, _ json.RawMessage) error {
		return g.settings.Require(ctx, tenantID, caps...)
	}
}

func validateImage(raw json.RawMessage) (json.RawMessage, error) {
	var in ImageInput
	if err := jobs.StrictDecode(raw, &in); err != nil {
		return nil, err
	}
	in.Prompt, in.Style, in.Size = strings.TrimSpace(in.Prompt), strings.TrimSpace(in.Style), strings.TrimSpace(in.Size)
	if in.Size == "" {
		in.Size = DefaultSize
	}
	var f problem.FieldErrors
	f.Check(in.Prompt == "", "prompt", "is required")
	f.Check(utf8.RuneCountInString(in.Prompt) > MaxPrompt, "prompt", fmt.Sprintf("must be at most %d characters", MaxPrompt))
	f.Check(!slices.Contains(Sizes(), in.Size), "size", "must be one of "+strings.Join(Sizes(), ", "))
	f.Check(in.count() < 1 || in.count() > MaxImages, "n", fmt.Sprintf("must be from 1 to %d", MaxImages))
	f.Check(utf8.RuneCountInString(in.Style) > MaxStyle, "style", fmt.Sprintf("must be at most %d characters", MaxStyle))
	if err := f.Err(); err != nil {
		return nil, err
	}
	in.N = ptr(in.count())
	return json.Marshal(in)
}

// generateImages makes the images the job still lacks and saves them; a
// rerun after a crash makes only the missing ones.
func (g *Generator) generateImages(ctx context.Context, j jobs.Job, r run) (any, error) {
	var in ImageInput
	siteID, made, err := g.resume(ctx, j, r, &in)
	if err != nil {
		return nil, err
	}
	n := in.count()
	model := ""
	if missing := missingIndexes(made, n); len(missing) > 0 {
		if model, err = g.makeImages(ctx, j, r, siteID, in, made, missing); err != nil {
			return nil, err
		}
	}
	charge(j, r, int64(len(made)), int64(n))
	return imagesResult(siteID, made, n, model), nil
}

// missingIndexes lists the indexes below n that made lacks.
func missingIndexes(made map[int]content.Media, n int) []int {
	var out []int
	for i := range n {
		if _, ok := made[i]; !ok {
			out = append(out, i)
		}
	}
	return out
}

// makeImages asks the provider for one image per missing index and saves
// them into made, returning the model used.
func (g *Generator) makeImages(ctx context.Context, j jobs.Job, r run, siteID string, in ImageInput, made map[int]content.Media, missing []int) (string, error) {
	p, err := g.provider(ctx, j.TenantID)
	if err != nil {
		return "", err
	}
	prompt, err := g.render(ctx, j.TenantID, KindImageGenerate, map[string]any{"Prompt": in.Prompt, "Style": in.Style, "Size": in.Size})
	if err != nil {
		return "", err
	}
	model := p.Models().Image
	_ = r.Progress(ctx, 10, fmt.Sprintf("generating %d image(s) with %s", len(missing), model))
	req := ai.ImageRequest{Prompt: prompt, Size: in.Size, N: len(missing)}
	if model == "dall-e-3" && (in.Style == "vivid" || in.Style == "natural") {
		req.Style = in.Style
	}
	imgs, _, err := p.GenerateImages(ctx, req)
	if err != nil {
		return "", failure("generate images", err)
	}
	for k, img := range imgs[:min(len(imgs), len(missing))] {
		i := missing[k]
		meta := content.MediaInput{Filename: fmt.Sprintf("generated-%s-%d%s", j.ID, i+1, extOf(img.ContentType)), Title: ptr(clip(in.Prompt, 200)),
			Metadata: generatedMeta(j, map[string]any{"prompt": in.Prompt, "style": in.Style, "size": in.Size, "model": model,
				"revised_prompt": img.RevisedPrompt, "index": i})}
		m, err := g.save(ctx, j, siteID, i, img.Data, meta)
		if err != nil {
			return "", err
		}
		made[i] = m
		_ = r.Progress(ctx, 10+80*(k+1)/len(missing), fmt.Sprintf("saved image %d of %d", i+1, in.count()))
	}
	return model, nil
}

// imagesResult links the job's images, in index order.
func imagesResult(siteID string, made map[int]content.Media, n int, model string) map[string]any {
	ids, urls := []string{}, []string{}
	for i := range n {
		if m, ok := made[i]; ok {
			ids, urls = append(ids, m.ID), append(urls, viewURL(m))
		}
	}
	out := map[string]any{"media_ids": ids, "media": urls, "images": len(ids), "site_id": siteID}
	if model != "" {
		out["model"] = model
	}
	return out
}
