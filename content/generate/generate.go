// Package generate defines the media generation job kinds of a site:
//
//   - media.image.generate makes images from a prompt with the tenant's
//     image model and saves each as a media file;
//   - media.image.edit edits an image as an instruction says and saves the
//     result as a new version of it (content.AddMediaVersion);
//   - media.metadata.generate has the vision model write an image's alt
//     text, caption and tags onto its media row;
//   - media.speech.generate speaks text into an audio media file, with the
//     tenant's speech model when one is configured and with the local
//     espeak-ng engine otherwise, so speech works with no API key.
//
// Every kind refuses at submit (Preflight) with 503 provider_not_configured,
// naming the setting, when the tenant has no provider for what it needs.
// Prompts come from the tenant's system prompts (settings.Render; Prompts
// lists the defaults). Each reserves credits from its input and captures
// what the provider reports using (images, tokens, characters). Handlers
// are idempotent per job: files are saved keyed by (job, index)
// (content.CreateMediaFromJob), so a job that runs again after a crash
// finds what it made instead of making it twice.
package generate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/ai/espeak"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/settings"
)

// Kind names.
const (
	KindImageGenerate = "media.image.generate"
	KindImageEdit     = "media.image.edit"
	KindMetadata      = "media.metadata.generate"
	KindSpeech        = "media.speech.generate"
)

// Default prices, in credits per unit (the cost table can override them).
const (
	// PriceImage is the price of one generated or edited image.
	PriceImage = 4
	// PriceMetadataTokens is the price of 1,000 tokens of the vision model;
	// metadata reserves MetadataUnits of them.
	PriceMetadataTokens = 1
	// PriceSpeech is the price of 1,000 characters of speech (or part).
	PriceSpeech = 1
)

// Config configures a Generator.
type Config struct {
	// Espeak configures the local speech engine. When espeak-ng is not
	// installed, speech needs the tenant's speech model.
	Espeak espeak.Config
	// DisableLocalSpeech turns the local engine off even when installed.
	DisableLocalSpeech bool
}

// Generator runs the media generation kinds.
type Generator struct {
	content  *content.Service
	settings *settings.Service
	local    *espeak.Engine
	log      *slog.Logger
	voices   func() (map[string]bool, error)
}

// New returns a Generator over the content and settings services. It looks
// for espeak-ng once; without it, speech needs a configured provider.
func New(c *content.Service, s *settings.Service, log *slog.Logger, cfg Config) *Generator {
	g := &Generator{content: c, settings: s, log: log}
	if !cfg.DisableLocalSpeech {
		engine, err := espeak.New(cfg.Espeak)
		if err != nil {
			log.Warn("local speech is off: text to speech needs a speech model (KILN_OPENAI_API_KEY, KILN_MODEL_SPEECH)", "err", err)
		} else {
			g.local = engine
		}
	}
	g.voices = sync.OnceValues(g.listVoices)
	return g
}

// LocalSpeech reports whether the local espeak-ng engine is available.
func (g *Generator) LocalSpeech() bool { return g.local != nil }

// Kinds returns the kinds to register.
func (g *Generator) Kinds() []jobs.Kind {
	return []jobs.Kind{g.imageKind(), g.editKind(), g.metadataKind(), g.speechKind()}
}

// run is what a handler uses of its job's *jobs.Run; tests pass a
// stand-in to run a handler twice for one job.
type run interface {
	Input(v any) error
	Progress(ctx context.Context, percent int, message string) error
	SetUsage(credits int64)
}

// handlerFunc is a kind's handler over the job and its run.
type handlerFunc func(ctx context.Context, j jobs.Job, r run) (any, error)

// handler adapts fn to jobs.Handler.
func handler(fn handlerFunc) jobs.Handler {
	return func(ctx context.Context, r *jobs.Run) (any, error) { return fn(ctx, r.Job, r) }
}

// siteOf returns the job's site, which every kind needs.
func siteOf(j jobs.Job) (string, error) {
	if j.SiteID == nil || *j.SiteID == "" {
		return "", jobs.Permanent("site_required", j.Kind+" needs the job's site_id", nil)
	}
	return *j.SiteID, nil
}

// resume reads a media-making job's input into in, its site, and the media
// an earlier run of it already saved (by job index), so a rerun after a
// crash makes only what is missing.
func (g *Generator) resume(ctx context.Context, j jobs.Job, r run, in any) (string, map[int]content.Media, error) {
	if err := r.Input(in); err != nil {
		return "", nil, err
	}
	siteID, err := siteOf(j)
	if err != nil {
		return "", nil, err
	}
	made, err := g.content.MediaOfJob(ctx, j.TenantID, j.ID)
	if err != nil {
		return "", nil, err
	}
	return siteID, made, nil
}

// charge records usage: used units at the unit price the job was reserved
// at (its reservation over the units its input asked for), never more than
// the reservation.
func charge(j jobs.Job, r run, used, reservedUnits int64) int64 {
	if reservedUnits <= 0 {
		reservedUnits = 1
	}
	credits := min(max(used, 0)*(j.Credits.Reserved/reservedUnits), j.Credits.Reserved)
	r.SetUsage(credits)
	return credits
}

// ceilDiv is a/b rounded up, for positive b.
func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// failure turns an error of a provider, settings or content call into the
// job's failure: transient provider trouble (and a storage or database
// outage) is retried; refusals (content policy, a rejected request, a
// refused key, no provider, bad or missing media) end the job at once,
// releasing its credits. Context errors pass through for the engine.
func failure(what string, err error) error {
	return jobs.FailureFrom(what, err, retryable)
}

// retryable reports a failure that may pass on a later attempt.
func retryable(err error) bool {
	p, ok := problem.As(err)
	if !ok {
		return ai.IsTransient(err)
	}
	return ai.IsTransient(err) || p.Kind == problem.Unknown ||
		(p.Kind == problem.Unavailable && p.Code != ai.ErrProviderAuthFailed.Code && p.Code != ai.ErrProviderNotConfigured.Code)
}

// provider returns the tenant's OpenAI-compatible provider.
func (g *Generator) provider(ctx context.Context, tenantID string) (*ai.Provider, error) {
	p, err := g.settings.Provider(ctx, tenantID)
	if err != nil {
		return nil, failure("resolve the tenant's provider", err)
	}
	return p, nil
}

// render renders the tenant's system prompt of type typ with data.
func (g *Generator) render(ctx context.Context, tenantID, typ string, data any) (string, error) {
	text, err := g.settings.Render(ctx, tenantID, typ, data)
	if err == nil {
		return text, nil
	}
	if _, ok := problem.As(err); ok {
		return "", failure("render the "+typ+" prompt", err)
	}
	return "", jobs.Permanent("prompt_template_failed", "the tenant's "+typ+" system prompt cannot be rendered; fix or reset it at /api/v1/system-prompts/"+typ, err)
}

// Limits on the source image of an edit or a metadata job.
const (
	// maxSourceImage is the largest image sent to a model (OpenAI's vision
	// limit is 20 MB; its edit limit is higher for the GPT image models).
	maxSourceImage = 20 << 20
)

// sourceImage reads the tenant's image mediaID of site siteID, whose type
// must be one of types.
func (g *Generator) sourceImage(ctx context.Context, tenantID, siteID, mediaID string, types []string) (content.Media, []byte, error) {
	m, err := g.content.GetMedia(ctx, tenantID, siteID, mediaID)
	if err != nil {
		if p, ok := problem.As(err); ok && p.Kind == problem.NotFound {
			return m, nil, jobs.Permanent("media_not_found", "media "+mediaID+" is not in the job's site (deleted?)", err)
		}
		return m, nil, failure("read media "+mediaID, err)
	}
	if !hasType(m.ContentType, types) {
		return m, nil, jobs.Permanent("unsupported_image",
			fmt.Sprintf("media %s is %s; this kind takes %s", mediaID, m.ContentType, strings.Join(types, ", ")), nil)
	}
	if m.SizeBytes > maxSourceImage {
		return m, nil, jobs.Permanent("image_too_large", fmt.Sprintf("media %s is larger than %d bytes, the most sent to a model", mediaID, maxSourceImage), nil)
	}
	_, rc, err := g.content.OpenMedia(ctx, tenantID, m.ID)
	if err != nil {
		return m, nil, failure("open media "+mediaID, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxSourceImage+1))
	if err != nil {
		return m, nil, fmt.Errorf("read media %s: %w", mediaID, err)
	}
	return m, data, nil
}

func hasType(contentType string, types []string) bool {
	base, _, _ := strings.Cut(contentType, ";")
	for _, t := range types {
		if strings.TrimSpace(base) == t {
			return true
		}
	}
	return false
}

// save stores data as file index of the job, once per job and index.
func (g *Generator) save(ctx context.Context, j jobs.Job, siteID string, index int, data []byte, meta content.MediaInput) (content.Media, error) {
	m, err := g.content.CreateMediaFromJob(ctx, j.TenantID, siteID, j.ID, index, data, meta)
	if err != nil {
		return m, failure(fmt.Sprintf("save file %d of job %s", index, j.ID), err)
	}
	return m, nil
}

// generatedMeta is the metadata object of a generated file: what made it.
func generatedMeta(j jobs.Job, facts map[string]any) *json.RawMessage {
	facts["kind"], facts["job_id"], facts["generated_at"] = j.Kind, j.ID, time.Now().UTC().Format(time.RFC3339)
	raw, _ := json.Marshal(map[string]any{"generated": facts})
	msg := json.RawMessage(raw)
	return &msg
}

// viewURL is the API path that serves a media file's bytes.
func viewURL(m content.Media) string {
	return "/api/v1/sites/" + m.SiteID + "/media/" + m.ID + "/view"
}

// clip cuts s to at most n characters, at a word when it can.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n]
	if i := strings.LastIndexByte(string(r), ' '); i > n/2 {
		return string(r)[:i]
	}
	return string(r)
}

// fileStem is a file name's stem for the files a job derives from it.
func fileStem(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		name = name[:i]
	}
	if name == "" {
		return "image"
	}
	return name
}

// extOf is the file extension of an image type.
func extOf(contentType string) string {
	switch contentType {
	case "image/jpeg":
		return ".jpg"
	case "image/webp":
		return ".webp"
	case "image/gif":
		return ".gif"
	}
	return ".png"
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }
