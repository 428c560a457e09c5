package videogen

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
)

// Limits of the input.
const (
	maxPrompt      = 4000
	minDuration    = 1
	maxDuration    = 20
	maxSourceImage = 10 << 20
)

// aspectRatios are the frame shapes a request may ask for.
var aspectRatios = []string{"16:9", "9:16", "1:1"}

// Input is media.video.generate's input.
type Input struct {
	Prompt string `json:"prompt"`
	// Model is the provider's model id (a fal endpoint such as
	// "fal-ai/veo3"); empty takes the tenant's or deployment's default.
	Model string `json:"model,omitempty"`
	// Duration is the video's length in seconds; it prices the job.
	Duration    int    `json:"duration"`
	AspectRatio string `json:"aspect_ratio"`
	// ImageMediaID, when set, animates that image of the site.
	ImageMediaID string `json:"image_media_id,omitempty"`
	// Options are passed to the model as they are (resolution, seed...).
	Options map[string]any `json:"options,omitempty"`
}

const schema = `{
  "type": "object",
  "required": ["prompt"],
  "additionalProperties": false,
  "properties": {
    "prompt": {"type": "string", "minLength": 1, "maxLength": 4000},
    "model": {"type": "string", "description": "provider model id, e.g. fal-ai/veo3 or fal-ai/sora-2/text-to-video; default KILN_VIDEO_MODEL or the tenant's"},
    "duration": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5, "description": "seconds; priced per second"},
    "aspect_ratio": {"type": "string", "enum": ["16:9", "9:16", "1:1"], "default": "16:9"},
    "image_media_id": {"type": "string", "description": "an image of the site to animate (image to video)"},
    "options": {"type": "object", "description": "extra model parameters, passed through"}
  }
}`

// Kinds returns the kind this package runs.
func (s *Service) Kinds() []jobs.Kind {
	return []jobs.Kind{{
		Name:        Kind,
		Description: "Generates a video with an external model (fal.ai queue API: Veo 3, Sora 2, Kling...) into the site's media; the job waits on the provider without holding a worker.",
		Schema:      json.RawMessage(schema),
		Validate:    validate,
		Units:       func(in json.RawMessage) int64 { return int64(decode(in).Duration) },
		Price:       10,
		Timeout:     5 * time.Minute, // one run: submit, poll, or download
		MaxAttempts: 5,
		Preflight:   s.preflight,
		Handler:     s.run,
		OnCancel:    s.cancelUpstream,
	}}
}

func decode(raw json.RawMessage) Input {
	var in Input
	_ = json.Unmarshal(raw, &in)
	return in
}

// validate checks the input and fills its defaults.
func validate(raw json.RawMessage) (json.RawMessage, error) {
	var in Input
	if err := jobs.StrictDecode(raw, &in); err != nil {
		return nil, err
	}
	in.Prompt = strings.TrimSpace(in.Prompt)
	if in.Duration == 0 {
		in.Duration = 5
	}
	if in.AspectRatio == "" {
		in.AspectRatio = "16:9"
	}
	var f problem.FieldErrors
	f.Check(in.Prompt == "", "prompt", "is required")
	f.Check(len(in.Prompt) > maxPrompt, "prompt", fmt.Sprintf("must be at most %d characters", maxPrompt))
	f.Check(in.Duration < minDuration || in.Duration > maxDuration, "duration", fmt.Sprintf("must be %d to %d seconds", minDuration, maxDuration))
	f.Check(!slices.Contains(aspectRatios, in.AspectRatio), "aspect_ratio", "must be 16:9, 9:16 or 1:1")
	f.Check(in.Model != "" && !validModel(in.Model), "model", "must be a provider model id such as fal-ai/veo3 (owner/app[/path])")
	if err := f.Err(); err != nil {
		return nil, err
	}
	return json.Marshal(in)
}

// preflight refuses the job when the tenant has no video provider, or the
// image to animate is not one of its images.
func (s *Service) preflight(ctx context.Context, tenantID string, raw json.RawMessage) error {
	in := decode(raw)
	if in.Model == "" {
		if err := s.settings.Require(ctx, tenantID, ai.CapVideo); err != nil {
			return err
		}
	} else if _, _, err := s.client(ctx, tenantID); err != nil {
		return err
	}
	if in.ImageMediaID == "" {
		return nil
	}
	m, rc, err := s.content.OpenMedia(ctx, tenantID, in.ImageMediaID)
	if err != nil {
		return err
	}
	rc.Close()
	if !strings.HasPrefix(m.ContentType, "image/") {
		var f problem.FieldErrors
		f.Add("input.image_media_id", "must be an image; this media is "+m.ContentType)
		return f.Err()
	}
	return nil
}

// imageDataURI reads the image to animate as a data URI, which fal's
// models take in place of a URL (the media is not public).
func (s *Service) imageDataURI(ctx context.Context, tenantID, mediaID string) (string, error) {
	m, rc, err := s.content.OpenMedia(ctx, tenantID, mediaID)
	if err != nil {
		return "", jobs.Permanent("source_image_missing", "the image to animate is gone", err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxSourceImage+1))
	if err != nil {
		return "", fmt.Errorf("read image %s: %w", mediaID, err)
	}
	if len(data) > maxSourceImage {
		return "", jobs.Permanent("source_image_too_large", fmt.Sprintf("the image to animate is larger than %d MiB", maxSourceImage>>20), nil)
	}
	return "data:" + m.ContentType + ";base64," + base64.StdEncoding.EncodeToString(data), nil
}

// providerInput is what the model receives. Veo models take the duration
// as "8s"; the others as a number of seconds.
func providerInput(in Input, model, image string) map[string]any {
	out := map[string]any{}
	for k, v := range in.Options {
		out[k] = v
	}
	out["prompt"] = in.Prompt
	out["aspect_ratio"] = in.AspectRatio
	if strings.Contains(model, "veo") {
		out["duration"] = fmt.Sprintf("%ds", in.Duration)
	} else {
		out["duration"] = in.Duration
	}
	if image != "" {
		out["image_url"] = image
	}
	return out
}

// validModel accepts a fal endpoint id: owner/app with optional path
// segments of letters, digits and - _ . (no empty or dot-dot segment).
func validModel(m string) bool {
	parts := strings.Split(m, "/")
	if len(m) > 200 || len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
			return false
		}
	}
	return true
}
