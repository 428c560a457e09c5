package ai

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sashabaranov/go-openai"
)

// MaxSpeechInput is the most characters one speech request takes
// (OpenAI's limit); Speech splits longer text.
const MaxSpeechInput = 4096

// speechFormats are the formats Speech asks for; those in joinable can be
// split into several requests and joined.
var (
	speechFormats = []string{"mp3", "wav", "pcm", "opus", "aac", "flac"}
	joinable      = []string{"mp3", "wav", "pcm", "opus", "aac"}
)

// SpeechRequest asks for spoken text.
type SpeechRequest struct {
	// Text is what to say; any length (split at sentences above
	// MaxSpeechInput characters).
	Text string
	// Voice is the provider's voice, e.g. "alloy"; empty takes "alloy".
	Voice string
	// Format is mp3 (the default), wav, pcm (16-bit mono 24 kHz), opus,
	// aac or flac; flac cannot be split, so it takes at most
	// MaxSpeechInput characters.
	Format string
	// Speed is 0.25 to 4; zero is 1.
	Speed float64
	// Instructions steer the voice (gpt-4o-mini-tts); optional.
	Instructions string
}

// Speech turns text into audio of the requested format, always sending
// response_format. Text longer than MaxSpeechInput is split at sentence
// boundaries into several requests whose audio is joined: WAV by
// concatenating the PCM under one header, mp3, opus and aac by
// concatenating the streams.
func (p *Provider) Speech(ctx context.Context, req SpeechRequest) ([]byte, CallUsage, error) {
	model, err := model(p.cfg.Models.Speech, "speech", "KILN_MODEL_SPEECH")
	if err != nil {
		return nil, CallUsage{}, err
	}
	format := or(req.Format, "mp3")
	chunks, err := speechChunks(req.Text, format)
	if err != nil {
		return nil, CallUsage{}, err
	}
	var parts [][]byte
	usage := CallUsage{Characters: utf8.RuneCountInString(req.Text)}
	for i, chunk := range chunks {
		sreq := openai.CreateSpeechRequest{Model: openai.SpeechModel(model), Input: chunk,
			Voice: openai.SpeechVoice(or(req.Voice, "alloy")), ResponseFormat: openai.SpeechResponseFormat(format),
			Speed: req.Speed, Instructions: req.Instructions}
		audio, n, err := p.speak(ctx, sreq, fmt.Sprintf("speak part %d of %d with %s", i+1, len(chunks), model))
		usage.Requests += n
		if err != nil {
			return nil, usage, err
		}
		parts = append(parts, audio)
	}
	audio, err := joinAudio(format, parts)
	if err != nil {
		return nil, usage, fmt.Errorf("join %d speech parts: %w", len(parts), err)
	}
	usage.Seconds = audioSeconds(format, audio)
	return audio, usage, nil
}

// speak makes one speech request, with retries, and reads the audio.
func (p *Provider) speak(ctx context.Context, sreq openai.CreateSpeechRequest, op string) ([]byte, int, error) {
	var audio []byte
	n, err := p.call(ctx, op, func(ctx context.Context, c *openai.Client) error {
		res, err := c.CreateSpeech(ctx, sreq)
		if err != nil {
			return err
		}
		defer res.Close()
		if audio, err = io.ReadAll(res); err != nil {
			return fmt.Errorf("read the audio: %w", err)
		}
		if len(audio) == 0 {
			return fmt.Errorf("%w: the answer holds no audio", ErrProviderUnavailable)
		}
		return nil
	})
	return audio, n, err
}

// speechChunks checks the request and splits text into inputs of at most
// MaxSpeechInput characters.
func speechChunks(text, format string) ([]string, error) {
	if strings.TrimSpace(text) == "" {
		return nil, invalidRequest("a speech request needs text")
	}
	if !slices.Contains(speechFormats, format) {
		return nil, invalidRequest(fmt.Sprintf("speech format %q is not one of %v", format, speechFormats))
	}
	chunks := splitText(text, MaxSpeechInput)
	if len(chunks) > 1 && !slices.Contains(joinable, format) {
		return nil, invalidRequest(fmt.Sprintf("speech in %s takes at most %d characters; ask for mp3 or wav for longer text", format, MaxSpeechInput))
	}
	return chunks, nil
}

// splitText cuts text into pieces of at most limit characters, at sentence
// ends where it can, else at spaces, else anywhere.
func splitText(text string, limit int) []string {
	var out []string
	var cur strings.Builder
	curLen := 0
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
		curLen = 0
	}
	for _, piece := range sentences(text, limit) {
		n := utf8.RuneCountInString(piece)
		if curLen+n > limit {
			flush()
		}
		cur.WriteString(piece)
		curLen += n
	}
	flush()
	return out
}

// sentences splits text after sentence ends (. ! ? … followed by space,
// and line breaks), keeping the separators, and cuts any sentence longer
// than limit at spaces or, failing that, at limit.
func sentences(text string, limit int) []string {
	var out []string
	start := 0
	runes := []rune(text)
	for i, r := range runes {
		end := i == len(runes)-1 || r == '\n' || (strings.ContainsRune(".!?…", r) && unicode.IsSpace(runes[i+1]))
		if end {
			out = append(out, cutLong(string(runes[start:i+1]), limit)...)
			start = i + 1
		}
	}
	return out
}

// cutLong cuts s into pieces of at most limit characters, at spaces when
// there are any.
func cutLong(s string, limit int) []string {
	var out []string
	for utf8.RuneCountInString(s) > limit {
		r := []rune(s)
		cut := limit
		if sp := strings.LastIndexFunc(string(r[:limit]), unicode.IsSpace); sp > 0 {
			cut = utf8.RuneCountInString(string(r[:limit])[:sp]) + 1
		}
		out = append(out, string(r[:cut]))
		s = string(r[cut:])
	}
	return append(out, s)
}
