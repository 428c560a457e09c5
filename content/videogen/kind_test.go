package videogen

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kilnhq/kiln/internal/problem"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		want       Input
		badFields  []string
		notAnInput bool
	}{
		{name: "defaults", in: `{"prompt":"  a kiln  "}`, want: Input{Prompt: "a kiln", Duration: 5, AspectRatio: "16:9"}},
		{name: "all set", in: `{"prompt":"p","model":"fal-ai/sora-2/text-to-video","duration":12,"aspect_ratio":"9:16","image_media_id":"med_1","options":{"seed":3}}`,
			want: Input{Prompt: "p", Model: "fal-ai/sora-2/text-to-video", Duration: 12, AspectRatio: "9:16", ImageMediaID: "med_1", Options: map[string]any{"seed": float64(3)}}},
		{name: "every field wrong", in: `{"prompt":" ","duration":21,"aspect_ratio":"4:3","model":"veo3"}`,
			badFields: []string{"aspect_ratio", "duration", "model", "prompt"}},
		{name: "unknown field", in: `{"prompt":"p","fps":30}`, notAnInput: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := validate(json.RawMessage(tt.in))
			switch {
			case tt.notAnInput:
				if err == nil {
					t.Fatalf("accepted %s", tt.in)
				}
			case tt.badFields != nil:
				p, ok := problem.As(err)
				if !ok {
					t.Fatalf("error %v, want field errors", err)
				}
				if diff := cmp.Diff(tt.badFields, slices.Sorted(maps.Keys(p.Fields))); diff != "" {
					t.Errorf("bad fields (-want +got):\n%s", diff)
				}
			default:
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				if diff := cmp.Diff(tt.want, decode(raw)); diff != "" {
					t.Errorf("normalised input (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestProviderInput(t *testing.T) {
	in := Input{Prompt: "waves", Duration: 8, AspectRatio: "1:1", Options: map[string]any{"prompt": "ignored", "resolution": "720p"}}
	tests := []struct {
		model, image string
		want         map[string]any
	}{
		{"fal-ai/veo3", "", map[string]any{"prompt": "waves", "duration": "8s", "aspect_ratio": "1:1", "resolution": "720p"}},
		{"fal-ai/sora-2/text-to-video", "data:image/png;base64,AA==",
			map[string]any{"prompt": "waves", "duration": 8, "aspect_ratio": "1:1", "resolution": "720p", "image_url": "data:image/png;base64,AA=="}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, providerInput(in, tt.model, tt.image)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.model, diff)
		}
	}
}
