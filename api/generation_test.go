package api_test

import (
	"cmp"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/ai/aitest"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/content/generation"
	"github.com/kilnhq/kiln/content/videogen"
	"github.com/kilnhq/kiln/egress"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/settings"
)

// testEncryptionKey is the bundle's KILN_ENCRYPTION_KEY.
var testEncryptionKey = []byte("0123456789abcdef0123456789abcdef")

// genDeps is what the generation kinds (issue 7) are built over: the
// bundle's content and settings, and the test servers standing in for the
// model providers.
type genDeps struct {
	egress   *egress.Client
	settings *settings.Service
	ai       *aitest.Server
	video    *aitest.VideoQueue
	// set runs the generation kinds; its video service calls the bundle's
	// server back (known once it starts: webhookBase) while videoHooks is
	// true, else asks for no webhook (the job completes by polling).
	set         *generation.Set
	webhookBase *atomic.Value
	videoHooks  *atomic.Bool
}

// newGenDeps starts the provider test servers and the settings service;
// the deployment's providers point at the test servers unless
// opts.noProvider.
func newGenDeps(t *testing.T, opts bundleOptions, db *testkit.DB, c *content.Service, out *egress.Client, log *slog.Logger) genDeps {
	g := genDeps{egress: out, ai: aitest.New(t), video: aitest.NewVideoQueue(t)}
	defaults := map[string]settings.Integration{}
	if !opts.noProvider {
		defaults[settings.OpenAI] = settings.Integration{BaseURL: g.ai.URL(), APIKey: g.ai.APIKey(),
			Models: map[ai.Capability]string{ai.CapChat: "gpt-4o-mini", ai.CapVision: "gpt-4o-mini",
				ai.CapImage: "gpt-image-1", ai.CapSpeech: "gpt-4o-mini-tts", ai.CapEmbedding: "text-embedding-3-small"}}
		defaults[settings.Fal] = settings.Integration{BaseURL: g.video.URL(), APIKey: g.video.APIKey(),
			Models: map[ai.Capability]string{ai.CapVideo: "fal-ai/veo3"}}
	}
	s, err := settings.New(db.Pool, log, settings.Config{Defaults: defaults, EncryptionKey: testEncryptionKey,
		Prompts: generationPrompts(), HTTPClient: out.HTTPClient()})
	testkit.Must(t, "settings", err)
	g.settings = s
	g.webhookBase, g.videoHooks = &atomic.Value{}, &atomic.Bool{}
	g.webhookBase.Store("")
	g.videoHooks.Store(true)
	g.set, err = generation.New(db.Pool, c, s, log, generation.Config{Video: videogen.Config{
		PollInterval: cmp.Or(opts.videoPoll, 200*time.Millisecond), JWKSURL: g.video.JWKSURL(), HTTPClient: out.HTTPClient(),
		MaxWait: opts.videoMaxWait, RequestTimeout: opts.videoRequestTimeout,
		WebhookURL: func(provider string) string {
			if base := g.webhookBase.Load().(string); base != "" && g.videoHooks.Load() {
				return base + "/api/v1/providers/" + provider + "/webhook"
			}
			return ""
		}}})
	testkit.Must(t, "video generation", err)
	return g
}

// generationPrompts are the default system prompts of every generation
// kind, and one of the tests' own for the settings and isolation tests.
func generationPrompts() []settings.PromptDefault {
	return append(generation.Prompts(), settings.PromptDefault{Type: "test.greeting",
		Description: "greets someone (tests only)", Variables: []string{"Name"}, Template: "Greet {{.Name}}."})
}

// generationKinds are the generation kinds, built over g.
func generationKinds(g genDeps) []jobs.Kind { return g.set.Kinds() }
