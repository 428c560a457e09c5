package generate

import "github.com/kilnhq/kiln/settings"

// Prompts returns the platform default prompts of the media kinds. Each
// type is named after its kind; a tenant overrides them through
// /api/v1/system-prompts/{type}. They are Go text/templates over the
// listed variables.
func Prompts() []settings.PromptDefault {
	return []settings.PromptDefault{
		{
			Type:        KindImageGenerate,
			Description: "The prompt sent to the image model for media.image.generate, built from the caller's prompt and optional style.",
			Variables:   []string{"Prompt", "Style", "Size"},
			Template:    imageTemplate,
		},
		{
			Type:        KindImageEdit,
			Description: "The prompt sent to the image model for media.image.edit, built from the caller's instruction.",
			Variables:   []string{"Instruction", "Filename", "Title"},
			Template:    editTemplate,
		},
		{
			Type:        KindMetadata,
			Description: "The system prompt of the vision model for media.metadata.generate: what alt text, caption and tags to write, as JSON.",
			Variables:   []string{"Filename", "Title", "Language", "MaxAltText", "MaxCaption", "MaxTags"},
			Template:    metadataTemplate,
		},
	}
}

const imageTemplate = `{{.Prompt}}{{if .Style}}

Style: {{.Style}}.{{end}}`

const editTemplate = `Edit the image as follows: {{.Instruction}}

Change only what the instruction asks for. Keep the composition, the subjects, the colours and the style of everything else as they are.`

const metadataTemplate = `You write the metadata of images on a website, for accessibility and search.
Look at the image and answer with one JSON object with exactly these keys:
- "alt_text": what the image shows, for someone who cannot see it: concrete and objective, one or two sentences, at most {{.MaxAltText}} characters, without "image of" or "picture of".
- "caption": a short caption a reader would see under the image, at most {{.MaxCaption}} characters.
- "tags": 3 to {{.MaxTags}} short lowercase keywords (subjects, setting, style), most relevant first.
Name text that appears in the image when it matters. Do not guess names of people.
{{if .Title}}The image's title is "{{.Title}}". {{end}}Its file name is "{{.Filename}}".
Write the alt text, caption and tags in {{.Language}}.`
