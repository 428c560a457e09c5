package api_test

import (
	"cmp"
	"encoding/base64"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/ai/aitest"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/content/generate"
	"github.com/kilnhq/kiln/content/seo"
	"github.com/kilnhq/kiln/content/transform"
	"github.com/kilnhq/kiln/content/translate"
	"github.com/kilnhq/kiln/content/videogen"
	"github.com/kilnhq/kiln/egress"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/settings"
	"github.com/kilnhq/kiln/storage"
)

// testEncryptionKey is the bundle's KILN_ENCRYPTION_KEY.
var testEncryptionKey = []byte("0123456789abcdef0123456789abcdef")

// testEncryptionKeyBase64 is testEncryptionKey as the variable holds it.
var testEncryptionKeyBase64 = base64.StdEncoding.EncodeToString(testEncryptionKey)

// genDeps is what the generation kinds (issue 7) are built over: the
// bundle's content and settings, and the test servers standing in for the
// model providers.
type genDeps struct {
	t        *testing.T
	db       *testkit.DB
	content  *content.Service
	store    storage.Store
	egress   *egress.Client
	settings *settings.Service
	ai       *aitest.Server
	video    *aitest.VideoQueue
	log      *slog.Logger
	// videoGen runs media.video.generate; its webhook URL is the bundle's
	// server (known once it starts) while videoHooks is true, else none
	// (the job completes by polling).
	videoGen    *videogen.Service
	webhookBase *atomic.Value
	videoHooks  *atomic.Bool
}

// newGenDeps starts the provider test servers and the settings service;
// the deployment's providers point at the test servers unless
// opts.noProvider.
func newGenDeps(t *testing.T, opts bundleOptions, db *testkit.DB, c *content.Service, store storage.Store,
	out *egress.Client, log *slog.Logger) genDeps {
	g := genDeps{t: t, db: db, content: c, store: store, egress: out, log: log,
		ai: aitest.New(t), video: aitest.NewVideoQueue(t)}
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
	g.videoGen, err = videogen.New(db.Pool, c, s, log, videogen.Config{PollInterval: cmp.Or(opts.videoPoll, 200*time.Millisecond),
		JWKSURL: g.video.JWKSURL(), HTTPClient: out.HTTPClient(),
		WebhookURL: func(provider string) string {
			if base := g.webhookBase.Load().(string); base != "" && g.videoHooks.Load() {
				return base + "/api/v1/providers/" + provider + "/webhook"
			}
			return ""
		}})
	testkit.Must(t, "video generation", err)
	return g
}

// generationPrompts are the default system prompts of every generation
// kind.
func generationPrompts() []settings.PromptDefault {
	// A prompt of the tests' own, for the settings and isolation tests.
	out := []settings.PromptDefault{{Type: "test.greeting", Description: "greets someone (tests only)",
		Variables: []string{"Name"}, Template: "Greet {{.Name}}."}}
	// media kinds (content/generate): append their prompts here
	out = append(out, generate.Prompts()...)
	// text kinds (content/seo, content/transform): append their prompts here
	out = append(out, seo.Prompts()...)
	out = append(out, transform.Prompts()...)
	// translation kinds (content/translate): append their prompts here
	out = append(out, translate.Prompts()...)
	out = append(out, videogen.Prompts()...)
	return out
}

// generationKinds are the generation kinds, built over g.
func generationKinds(g genDeps) []jobs.Kind {
	var out []jobs.Kind
	// media kinds (content/generate): append their kinds here
	out = append(out, generate.New(g.content, g.settings, g.log, generate.Config{}).Kinds()...)
	// text kinds (content/seo, content/transform): append their kinds here
	out = append(out, seo.New(g.content, g.settings, g.log).Kinds()...)
	out = append(out, transform.New(g.db.Pool, g.content, g.settings, g.log).Kinds()...)
	// translation kinds (content/translate): append their kinds here
	out = append(out, translate.New(g.db.Pool, g.content, g.settings, g.log).Kinds()...)
	out = append(out, g.videoGen.Kinds()...)
	return out
}
