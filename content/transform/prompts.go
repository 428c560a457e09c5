package transform

import (
	"fmt"

	"github.com/kilnhq/kiln/settings"
)

// PromptType is the system prompt of post.transform: one type for every
// preset and for free instructions. Its template sees Instruction (the
// preset's instruction, or the caller's), Preset ("" for a free
// instruction), Tone (change_tone's, else ""), Title and Language (the
// post's); a tenant can branch on Preset, e.g. {{if eq .Preset
// "summarize"}}…{{end}}. The post's body is the user message.
const PromptType = "post.transform"

// Prompts returns the default system prompt of post.transform, for
// settings.Config.Prompts.
func Prompts() []settings.PromptDefault {
	return []settings.PromptDefault{{
		Type:        PromptType,
		Description: "post.transform: how the chat model changes a post's Markdown body (sent as the user message) by a preset or instruction.",
		Variables:   []string{"Instruction", "Preset", "Tone", "Title", "Language"},
		Template: `You are an editor who changes blog posts written in Markdown, as instructed, without breaking their structure.
The post is titled "{{.Title}}" and written in {{.Language}}.

Instruction: {{.Instruction}}

Rules:
- Answer with the whole changed post body in Markdown and nothing else: no preamble, no notes, no code fence around it.
- Keep every heading, in the same order and at the same level (# stays #, ## stays ##). You may reword a heading; never drop, merge or re-level one.
- Keep every link and image, with its exact URL; you may reword link text.
- Keep code blocks unchanged, and keep lists and tables as lists and tables.
- Do not invent facts, figures, quotes or links.
- Write in the post's language ({{.Language}}).`,
	}}
}

// instructionOf is the Instruction variable of an input: the preset's
// instruction, or the caller's own.
func instructionOf(in Input) string {
	switch in.Preset {
	case PresetSummarize:
		return "Summarize the post: shorten every section to its key points, to about a third of its length."
	case PresetRewrite:
		return "Rewrite the post in fresh wording, keeping its meaning, facts and length."
	case PresetExpand:
		return "Expand the post: develop every section with more explanation, examples and detail, to about twice its length."
	case PresetSimplify:
		return "Simplify the post for a general reader: short sentences, plain everyday words, no jargon; keep every fact."
	case PresetChangeTone:
		return fmt.Sprintf("Rewrite the post in a %s tone, keeping its meaning, facts and length.", in.Tone)
	}
	return in.Instruction
}
