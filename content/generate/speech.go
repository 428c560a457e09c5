package generate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/ai/espeak"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
)

// Limits of media.speech.generate.
const (
	// MaxSpeechText is the longest text, in characters: about eleven
	// minutes of speech, a WAV of about 30 MB.
	MaxSpeechText = 10000
	// SpeechUnitChars is the characters one unit of speech prices.
	SpeechUnitChars = 1000
	// DefaultSpeechFormat is the format when the input names none; WAV
	// is the one every engine makes.
	DefaultSpeechFormat = "wav"
	// DefaultProviderVoice is the voice of the provider's model when the
	// input names none.
	DefaultProviderVoice = "alloy"
	maxVoice             = 64
)

// The engines that speak.
const (
	// EngineProvider is the tenant's OpenAI-compatible speech model.
	EngineProvider = "openai"
	// EngineLocal is espeak-ng on the worker.
	EngineLocal = "espeak-ng"
)

// openAIVoices maps OpenAI's voice names to espeak-ng voices, so an input
// written for the provider also speaks on the local engine.
var openAIVoices = map[string]string{
	"alloy": "en-us", "ash": "en-us+m3", "ballad": "en-gb+m2", "coral": "en-us+f2", "echo": "en-us+m1",
	"fable": "en-gb+m3", "nova": "en-us+f3", "onyx": "en-us+m4", "sage": "en-us+f4", "shimmer": "en-us+f5",
	"verse": "en-us+m2",
}

// SpeechInput is media.speech.generate's input.
type SpeechInput struct {
	// Text is what to say, at most MaxSpeechText characters; longer than
	// one request takes, it is split at sentences and the audio joined.
	Text string `json:"text"`
	// Voice is the provider's voice ("alloy", ...) or an espeak-ng voice
	// ("en-us", "de", "en-gb+f3"); OpenAI's names map to espeak-ng voices
	// on the local engine. Empty: alloy, or en on the local engine.
	Voice string `json:"voice,omitempty"`
	// Format is wav (the default) or mp3 (on the local engine only where
	// lame or ffmpeg is installed).
	Format string `json:"format,omitempty"`
}

func (g *Generator) speechKind() jobs.Kind {
	return jobs.Kind{
		Name: KindSpeech,
		Description: "Speak text into an audio media file (WAV or MP3) of the job's site: with the tenant's speech model when one is configured, " +
			"else with the local espeak-ng engine. Long text is split at sentences and joined. Priced per 1,000 characters.",
		Schema: json.RawMessage(`{"type":"object","required":["text"],"additionalProperties":false,"properties":{
			"text":{"type":"string","minLength":1,"maxLength":10000},
			"voice":{"type":"string","maxLength":64,"description":"provider voice (alloy, nova, ...) or espeak-ng voice (en-us, de, en-gb+f3)"},
			"format":{"enum":["wav","mp3"],"default":"wav"}}}`),
		Validate: validateSpeech,
		Units: func(raw json.RawMessage) int64 {
			var in SpeechInput
			_ = json.Unmarshal(raw, &in)
			return max(ceilDiv(int64(utf8.RuneCountInString(in.Text)), SpeechUnitChars), 1)
		},
		Price:       PriceSpeech,
		Timeout:     10 * time.Minute,
		MaxAttempts: 3,
		Preflight:   g.speechPreflight,
		Handler:     handler(g.speak),
	}
}

func validateSpeech(raw json.RawMessage) (json.RawMessage, error) {
	var in SpeechInput
	if err := jobs.StrictDecode(raw, &in); err != nil {
		return nil, err
	}
	in.Text, in.Voice, in.Format = strings.TrimSpace(in.Text), strings.TrimSpace(in.Voice), strings.ToLower(strings.TrimSpace(in.Format))
	if in.Format == "" {
		in.Format = DefaultSpeechFormat
	}
	var f problem.FieldErrors
	f.Check(in.Text == "", "text", "is required")
	f.Check(utf8.RuneCountInString(in.Text) > MaxSpeechText, "text", fmt.Sprintf("must be at most %d characters", MaxSpeechText))
	f.Check(in.Voice != "" && !validVoice(in.Voice), "voice",
		"must be a voice name of at most 64 letters, digits and _ - + . / (such as alloy, en-us or en-gb+f3)")
	f.Check(in.Format != "wav" && in.Format != "mp3", "format", "must be wav or mp3")
	if err := f.Err(); err != nil {
		return nil, err
	}
	return json.Marshal(in)
}

// validVoice accepts what both engines could take as a voice name:
// letters, digits and _ - + . /, starting with a letter or digit.
func validVoice(v string) bool {
	if len(v) > maxVoice || strings.Contains(v, "..") {
		return false
	}
	for i, c := range v {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("_-+./", c)) {
			return false
		}
	}
	return true
}

// speechEngine picks the engine for a tenant: its speech model when it has
// one, else the local engine; with neither, the 503 naming the setting.
func (g *Generator) speechEngine(ctx context.Context, tenantID string) (string, error) {
	err := g.settings.Require(ctx, tenantID, ai.CapSpeech)
	switch {
	case err == nil:
		return EngineProvider, nil
	case errors.Is(err, ai.ErrProviderNotConfigured) && g.local != nil:
		return EngineLocal, nil
	}
	return "", err
}

// speechPreflight refuses at submit what the engine the tenant would get
// cannot do: no engine at all (503), or, on the local engine, MP3 without
// an encoder or a voice espeak-ng does not have (422).
func (g *Generator) speechPreflight(ctx context.Context, tenantID string, raw json.RawMessage) error {
	engine, err := g.speechEngine(ctx, tenantID)
	if err != nil || engine != EngineLocal {
		return err
	}
	var in SpeechInput
	if err := json.Unmarshal(raw, &in); err != nil {
		return fmt.Errorf("decode the speech input: %w", err)
	}
	var f problem.FieldErrors
	// The fields are named as a submit names the input's (input.<field>).
	f.Check(!slices.Contains(g.local.Formats(), in.Format), "input.format",
		"mp3 needs lame or ffmpeg on the server for the local espeak-ng engine (no speech model is configured); ask for wav")
	if reason := g.checkLocalVoice(localVoice(in.Voice)); reason != "" {
		f.Add("input.voice", reason)
	}
	return f.Err()
}

// localVoice is the espeak-ng voice for an input's voice.
func localVoice(v string) string {
	if v == "" {
		return espeak.DefaultVoice
	}
	if mapped, ok := openAIVoices[strings.ToLower(v)]; ok {
		return mapped
	}
	return v
}

// checkLocalVoice explains why espeak-ng has no voice v, or returns "".
// When the voice list cannot be read, the voice is left to espeak-ng.
func (g *Generator) checkLocalVoice(v string) string {
	known, err := g.voices()
	if err != nil {
		return ""
	}
	base, _, _ := strings.Cut(strings.ToLower(v), "+")
	if known[base] {
		return ""
	}
	return fmt.Sprintf("%q is not a voice of the local espeak-ng engine (no speech model is configured): use a language code such as en, en-us, de or fr, "+
		"optionally with a variant such as +f3, or an OpenAI voice name (alloy, nova, ...)", v)
}

// listVoices reads espeak-ng's voices once: language codes and voice
// files, lowercased.
func (g *Generator) listVoices() (map[string]bool, error) {
	if g.local == nil {
		return nil, errors.New("no local speech engine")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	voices, err := g.local.Voices(ctx)
	if err != nil {
		g.log.Warn("list espeak-ng voices; voices are not checked at submit", "err", err)
		return nil, err
	}
	known := map[string]bool{}
	for _, v := range voices {
		known[strings.ToLower(v.Language)], known[strings.ToLower(v.File)] = true, true
		for _, o := range v.OtherLanguages {
			known[strings.ToLower(o)] = true
		}
	}
	return known, nil
}

// spoken is the audio of a speech job and what made it.
type spoken struct {
	audio      []byte
	engine     string
	voice      string
	model      string
	characters int
	seconds    float64
}

// speak makes the audio once and saves it; a rerun finds the file.
func (g *Generator) speak(ctx context.Context, j jobs.Job, r run) (any, error) {
	var in SpeechInput
	siteID, made, err := g.resume(ctx, j, r, &in)
	if err != nil {
		return nil, err
	}
	m, done := made[0]
	if !done {
		if m, err = g.makeSpeech(ctx, j, r, siteID, in); err != nil {
			return nil, err
		}
	}
	facts := speechFacts(m)
	charge(j, r, max(ceilDiv(int64(facts.Characters), SpeechUnitChars), 1), max(ceilDiv(int64(utf8.RuneCountInString(in.Text)), SpeechUnitChars), 1))
	return map[string]any{"media_id": m.ID, "media_ids": []string{m.ID}, "media": []string{viewURL(m)}, "site_id": siteID,
		"content_type": m.ContentType, "size_bytes": m.SizeBytes, "duration_seconds": facts.Seconds, "engine": facts.Engine,
		"voice": facts.Voice, "format": in.Format, "characters": facts.Characters}, nil
}

// makeSpeech speaks the text on the tenant's engine and saves the audio.
func (g *Generator) makeSpeech(ctx context.Context, j jobs.Job, r run, siteID string, in SpeechInput) (content.Media, error) {
	engine, err := g.speechEngine(ctx, j.TenantID)
	if err != nil {
		return content.Media{}, failure("choose the speech engine", err)
	}
	_ = r.Progress(ctx, 10, fmt.Sprintf("speaking %d characters with %s", utf8.RuneCountInString(in.Text), engine))
	var s spoken
	if engine == EngineProvider {
		s, err = g.speakProvider(ctx, j.TenantID, in)
	} else {
		s, err = g.speakLocal(ctx, in)
	}
	if err != nil {
		return content.Media{}, err
	}
	_ = r.Progress(ctx, 80, fmt.Sprintf("saving %.1f seconds of audio", s.seconds))
	meta := content.MediaInput{Filename: "speech-" + j.ID + "." + in.Format, Title: ptr(clip(in.Text, 200)),
		Metadata: generatedMeta(j, map[string]any{"engine": s.engine, "voice": s.voice, "model": s.model, "format": in.Format,
			"characters": s.characters, "duration_seconds": s.seconds})}
	return g.save(ctx, j, siteID, 0, s.audio, meta)
}

// speakProvider speaks with the tenant's speech model, which splits long
// text and joins the audio.
func (g *Generator) speakProvider(ctx context.Context, tenantID string, in SpeechInput) (spoken, error) {
	p, err := g.provider(ctx, tenantID)
	if err != nil {
		return spoken{}, err
	}
	voice := in.Voice
	if voice == "" {
		voice = DefaultProviderVoice
	}
	audio, usage, err := p.Speech(ctx, ai.SpeechRequest{Text: in.Text, Voice: voice, Format: in.Format})
	if err != nil {
		return spoken{}, failure("speak the text", err)
	}
	return spoken{audio: audio, engine: EngineProvider, voice: voice, model: p.Models().Speech,
		characters: usage.Characters, seconds: round(usage.Seconds)}, nil
}

// speakLocal speaks with espeak-ng, which splits long text and joins the
// WAVs, and encodes MP3 when asked.
func (g *Generator) speakLocal(ctx context.Context, in SpeechInput) (spoken, error) {
	if g.local == nil {
		return spoken{}, jobs.Permanent(ai.ErrProviderNotConfigured.Code, "no speech model is configured and espeak-ng is not installed on the worker", nil)
	}
	voice := localVoice(in.Voice)
	if reason := g.checkLocalVoice(voice); reason != "" {
		return spoken{}, jobs.Permanent("invalid_voice", reason, nil)
	}
	wav, err := g.local.Synthesize(ctx, in.Text, voice, 0)
	if err != nil {
		return spoken{}, jobs.Retryable("speech_failed", "espeak-ng could not speak the text", err)
	}
	info, err := espeak.ParseWAV(wav)
	if err != nil {
		return spoken{}, jobs.Retryable("speech_failed", "espeak-ng wrote an unreadable WAV", err)
	}
	audio, err := g.local.Encode(ctx, wav, in.Format)
	if errors.Is(err, espeak.ErrFormatUnsupported) {
		return spoken{}, jobs.Permanent("format_unsupported", err.Error(), err)
	}
	if err != nil {
		return spoken{}, jobs.Retryable("speech_failed", "the audio could not be encoded as "+in.Format, err)
	}
	return spoken{audio: audio, engine: EngineLocal, voice: voice, characters: utf8.RuneCountInString(in.Text),
		seconds: round(info.Duration.Seconds())}, nil
}

// speechFact is what a speech file's metadata says about it.
type speechFact struct {
	Engine     string  `json:"engine"`
	Voice      string  `json:"voice"`
	Characters int     `json:"characters"`
	Seconds    float64 `json:"duration_seconds"`
}

// speechFacts reads the facts a speech job recorded on its file.
func speechFacts(m content.Media) speechFact {
	var meta struct {
		Generated speechFact `json:"generated"`
	}
	_ = json.Unmarshal(m.Metadata, &meta)
	return meta.Generated
}

// round keeps two decimals of a duration in seconds.
func round(secs float64) float64 { return math.Round(secs*100) / 100 }
