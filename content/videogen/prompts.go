package videogen

import "github.com/kilnhq/kiln/settings"

// PromptType is the system prompt the video prompt is rendered from.
const PromptType = Kind

// Prompts returns the kind's default system prompt: the caller's prompt as
// it is. A tenant can wrap it, with a house style say ("{{.Prompt}}, shot
// on 35 mm film, warm light").
func Prompts() []settings.PromptDefault {
	return []settings.PromptDefault{{
		Type:        PromptType,
		Description: "The prompt sent to the video model; the caller's prompt is .Prompt.",
		Variables:   []string{"Prompt", "Duration", "AspectRatio"},
		Template:    "{{.Prompt}}",
	}}
}
