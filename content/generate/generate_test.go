package generate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/ai/aitest"
	"github.com/kilnhq/kiln/ai/espeak"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/settings"
	"github.com/kilnhq/kiln/storage"
)

// fixture is one test's generator over its own schema, with a tenant and
// a site, and the OpenAI test server as the deployment's provider (unless
// built without one).
type fixture struct {
	t       *testing.T
	db      *testkit.DB
	ai      *aitest.Server
	content *content.Service
	gen     *Generator
	tenant  string
	site    string
	other   string // another site of the tenant
}

type fixtureOptions struct {
	noProvider bool
	cfg        Config
	maxBytes   int64
}

func newFixture(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	ctx := context.Background()
	db := testkit.NewDB(t)
	log := testkit.Logger(t)
	idents, err := identity.New(db.Pool, log, identity.Config{})
	testkit.Must(t, "identity", err)
	store, err := storage.NewLocal(t.TempDir())
	testkit.Must(t, "store", err)
	t.Cleanup(func() { store.Close() })
	c := content.New(db.Pool, log, content.Options{Store: store, Media: content.MediaConfig{MaxBytes: max(o.maxBytes, 32<<20)}})
	f := &fixture{t: t, db: db, ai: aitest.New(t), content: c}
	defaults := map[string]settings.Integration{}
	if !o.noProvider {
		defaults[settings.OpenAI] = settings.Integration{BaseURL: f.ai.URL(), APIKey: f.ai.APIKey(),
			Models: map[ai.Capability]string{ai.CapChat: "gpt-4o-mini", ai.CapVision: "gpt-4o-mini",
				ai.CapImage: "gpt-image-1", ai.CapSpeech: "gpt-4o-mini-tts"}}
	}
	set, err := settings.New(db.Pool, log, settings.Config{Defaults: defaults, Prompts: Prompts()})
	testkit.Must(t, "settings", err)
	f.gen = New(c, set, log, o.cfg)
	tn, err := idents.CreateTenant(ctx, "Acme", "")
	testkit.Must(t, "tenant", err)
	f.tenant = tn.ID
	for i, slug := range []string{"blog", "shop"} {
		s, err := c.CreateSite(ctx, tn.ID, content.SiteInput{Name: ptr(slug), Slug: ptr(slug)})
		testkit.Must(t, "site", err)
		if i == 0 {
			f.site = s.ID
		} else {
			f.other = s.ID
		}
	}
	return f
}

// kind returns the generator's kind called name.
func (f *fixture) kind(name string) jobs.Kind {
	for _, k := range f.gen.Kinds() {
		if k.Name == name {
			return k
		}
	}
	f.t.Fatalf("no kind %s", name)
	return jobs.Kind{}
}

// fakeRun stands in for *jobs.Run: it holds the input and records the
// usage and progress.
type fakeRun struct {
	input    json.RawMessage
	usage    int64
	progress []int
}

func (r *fakeRun) Input(v any) error { return json.Unmarshal(r.input, v) }
func (r *fakeRun) Progress(_ context.Context, p int, _ string) error {
	r.progress = append(r.progress, p)
	return nil
}
func (r *fakeRun) SetUsage(c int64) { r.usage = c }

// job is a job of kind with input, validated and priced as submit does.
func (f *fixture) job(kind string, input any) jobs.Job {
	f.t.Helper()
	raw, err := json.Marshal(input)
	testkit.Must(f.t, "marshal input", err)
	k := f.kind(kind)
	in, err := k.Validate(raw)
	testkit.Must(f.t, "validate "+string(raw), err)
	units := int64(1) // the registry's default
	if k.Units != nil {
		units = k.Units(in)
	}
	return jobs.Job{ID: ids.New("job"), Kind: kind, TenantID: f.tenant, SiteID: &f.site, Input: in,
		Credits: jobs.Credits{Reserved: units * k.Price}}
}

// run runs job j's handler once and returns its result as JSON and the
// usage it recorded.
func (f *fixture) run(j jobs.Job) (map[string]any, int64, error) {
	f.t.Helper()
	k := f.kind(j.Kind)
	r := &fakeRun{input: j.Input}
	var h handlerFunc
	switch k.Name {
	case KindImageGenerate:
		h = f.gen.generateImages
	case KindImageEdit:
		h = f.gen.editImage
	case KindMetadata:
		h = f.gen.writeMetadata
	case KindSpeech:
		h = f.gen.speak
	}
	res, err := h(context.Background(), j, r)
	if err != nil {
		return nil, r.usage, err
	}
	raw, err := json.Marshal(res)
	testkit.Must(f.t, "marshal result", err)
	var out map[string]any
	testkit.Must(f.t, "decode result", json.Unmarshal(raw, &out))
	return out, r.usage, nil
}

// mustRun runs j and fails the test on an error.
func (f *fixture) mustRun(j jobs.Job) (map[string]any, int64) {
	f.t.Helper()
	res, usage, err := f.run(j)
	if err != nil {
		f.t.Fatalf("%s: %v", j.Kind, err)
	}
	return res, usage
}

// read returns a media file's row and bytes.
func (f *fixture) read(id string) (content.Media, []byte) {
	f.t.Helper()
	m, rc, err := f.content.OpenMedia(context.Background(), f.tenant, id)
	testkit.Must(f.t, "open "+id, err)
	defer rc.Close()
	data, err := io.ReadAll(rc)
	testkit.Must(f.t, "read "+id, err)
	return m, data
}

// upload stores a file in the fixture's site.
func (f *fixture) upload(name string, data []byte, site string) content.Media {
	f.t.Helper()
	m, err := f.content.CreateMedia(context.Background(), f.tenant, site, bytes.NewReader(data), content.MediaInput{Filename: name, Title: ptr("Logo")})
	testkit.Must(f.t, "upload", err)
	return m
}

// count returns the media rows of the schema.
func (f *fixture) count() int {
	f.t.Helper()
	var n int
	testkit.Must(f.t, "count", f.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM media`).Scan(&n))
	return n
}

// pngOf encodes a w×h PNG.
func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		img.Set(x, x%h, color.RGBA{R: 200, A: 255})
	}
	var buf bytes.Buffer
	testkit.Must(t, "png", png.Encode(&buf, img))
	return buf.Bytes()
}

// failureOf returns the job failure err carries.
func failureOf(t *testing.T, err error) *jobs.Failure {
	t.Helper()
	var f *jobs.Failure
	if !errors.As(err, &f) {
		t.Fatalf("error %v is not a job failure", err)
	}
	return f
}

// fieldsOf lists the invalid fields of a 422, sorted.
func fieldsOf(err error) []string {
	p, ok := problem.As(err)
	if !ok {
		return nil
	}
	var out []string
	for f := range p.Fields {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

func TestValidate(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	med := ids.New("med")
	cases := []struct {
		kind   string
		in     string
		fields []string
	}{
		{KindImageGenerate, `{"prompt":"a red fox"}`, nil},
		{KindImageGenerate, `{"prompt":"a red fox","size":"1792x1024","n":4,"style":"watercolour"}`, nil},
		{KindImageGenerate, `{"prompt":"  "}`, []string{"prompt"}},
		{KindImageGenerate, `{"prompt":"` + long(MaxPrompt+1) + `"}`, []string{"prompt"}},
		{KindImageGenerate, `{"prompt":"x","n":0}`, []string{"n"}},
		{KindImageGenerate, `{"prompt":"x","n":5}`, []string{"n"}},
		{KindImageGenerate, `{"prompt":"x","size":"1000x1000"}`, []string{"size"}},
		{KindImageGenerate, `{"prompt":"x","style":"` + long(MaxStyle+1) + `"}`, []string{"style"}},
		{KindImageGenerate, `{"prompt":"x","seed":1}`, []string{"input"}},
		{KindImageEdit, `{"media_id":"` + med + `","instruction":"make it blue"}`, nil},
		{KindImageEdit, `{"media_id":"post_1","instruction":""}`, []string{"instruction", "media_id"}},
		{KindImageEdit, `{"instruction":"` + long(MaxInstruction+1) + `"}`, []string{"instruction", "media_id"}},
		{KindMetadata, `{"media_id":"` + med + `"}`, nil},
		{KindMetadata, `{"media_id":"` + med + `","language":"pt-BR"}`, nil},
		{KindMetadata, `{"media_id":"` + med + `","language":"Portuguese please"}`, []string{"language"}},
		{KindMetadata, `{}`, []string{"media_id"}},
		{KindSpeech, `{"text":"Hello.","voice":"en-gb+f3","format":"mp3"}`, nil},
		{KindSpeech, `{"text":""}`, []string{"text"}},
		{KindSpeech, `{"text":"` + long(MaxSpeechText+1) + `"}`, []string{"text"}},
		{KindSpeech, `{"text":"x","voice":"-v /etc/passwd"}`, []string{"voice"}},
		{KindSpeech, `{"text":"x","voice":"../../x"}`, []string{"voice"}},
		{KindSpeech, `{"text":"x","format":"ogg"}`, []string{"format"}},
	}
	f := &fixture{t: t, gen: &Generator{}}
	for _, c := range cases {
		_, err := f.kind(c.kind).Validate(json.RawMessage(c.in))
		if got := fieldsOf(err); !slices.Equal(got, c.fields) || (c.fields == nil && err != nil) {
			t.Errorf("%s %s: fields %v (%v), want %v", c.kind, clip(c.in, 60), got, err, c.fields)
		}
	}
}

func TestValidateNormalizes(t *testing.T) {
	out, err := validateImage(json.RawMessage(`{"prompt":"  a fox  "}`))
	testkit.Must(t, "validate", err)
	if string(out) != `{"prompt":"a fox","size":"1024x1024","n":1}` {
		t.Errorf("normalized image input = %s", out)
	}
	out, err = validateSpeech(json.RawMessage(`{"text":" Hi. ","format":"WAV"}`))
	testkit.Must(t, "validate", err)
	if string(out) != `{"text":"Hi.","format":"wav"}` {
		t.Errorf("normalized speech input = %s", out)
	}
	units := map[string]int64{`{"text":"` + strings.Repeat("a", 1000) + `"}`: 1, `{"text":"` + strings.Repeat("a", 1001) + `"}`: 2}
	k := (&Generator{}).speechKind()
	for in, want := range units {
		if got := k.Units(json.RawMessage(in)); got != want {
			t.Errorf("speech units of %d characters = %d, want %d", len(in)-11, got, want)
		}
	}
}

func TestFailure(t *testing.T) {
	wrapped := func(p *problem.Problem) error {
		return errors.Join(errors.New("generate 1 images after 3 requests"), p)
	}
	cases := []struct {
		err       error
		code      string
		retryable bool
	}{
		{wrapped(ai.ErrProviderRateLimited), "provider_rate_limited", true},
		{wrapped(ai.ErrProviderUnavailable), "provider_unavailable", true},
		{wrapped(ai.ErrContentRejected), "content_rejected", false},
		{wrapped(ai.ErrProviderAuthFailed), "provider_auth_failed", false},
		{wrapped(ai.ErrProviderRequestRejected), "provider_request_rejected", false},
		{wrapped(ai.ErrProviderNotConfigured), "provider_not_configured", false},
		{content.MediaTooLarge(10), "media_too_large", false},
		{content.ErrMediaStorageUnavailable, "media_storage_unavailable", true},
		{problem.NotFoundf("site"), "site_not_found", false},
	}
	for _, c := range cases {
		f := failureOf(t, failure("test", c.err))
		if f.Code != c.code || f.Retryable != c.retryable || f.Chargeable {
			t.Errorf("failure(%v) = %s retryable=%v chargeable=%v, want %s retryable=%v", c.err, f.Code, f.Retryable, f.Chargeable, c.code, c.retryable)
		}
	}
	if err := failure("test", context.Canceled); !errors.Is(err, context.Canceled) {
		t.Errorf("a canceled context became %v", err)
	}
	var f *jobs.Failure
	if err := failure("test", errors.New("boom")); errors.As(err, &f) || !strings.Contains(err.Error(), "test: boom") {
		t.Errorf("an unknown error became %v; want it wrapped and retried as a handler error", err)
	}
}

func TestGenerateImages(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	j := f.job(KindImageGenerate, map[string]any{"prompt": "a red fox in snow", "n": 2, "size": "1536x1024", "style": "watercolour"})
	res, usage := f.mustRun(j)
	ids := res["media_ids"].([]any)
	if len(ids) != 2 || usage != 2*PriceImage || res["model"] != "gpt-image-1" || len(res["media"].([]any)) != 2 {
		t.Fatalf("result %v, usage %d", res, usage)
	}
	for _, id := range ids {
		m, data := f.read(id.(string))
		cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
		testkit.Must(t, "decode the stored image", err)
		if format != "png" || cfg.Width != 1536 || cfg.Height != 1024 || m.ContentType != "image/png" || m.SiteID != f.site ||
			m.Title != "a red fox in snow" || generatedKind(m) != KindImageGenerate {
			t.Fatalf("image %s: %s %dx%d, row %+v", id, format, cfg.Width, cfg.Height, m)
		}
	}
	reqs := f.ai.RequestsTo(aitest.PathImages)
	if len(reqs) != 1 || reqs[0].JSON["prompt"] != "a red fox in snow\n\nStyle: watercolour." || reqs[0].JSON["n"] != float64(2) {
		t.Fatalf("image requests: %d, first %v", len(reqs), reqs[0].JSON)
	}

	// Run again (a crash after the work): nothing new is asked or saved.
	again, usage := f.mustRun(j)
	if f.ai.Calls(aitest.PathImages) != 1 || f.count() != 2 || !slices.Equal(again["media_ids"].([]any), ids) || usage != 2*PriceImage {
		t.Fatalf("rerun: %d calls, %d rows, result %v, usage %d", f.ai.Calls(aitest.PathImages), f.count(), again, usage)
	}
}

// A run that crashed after saving some images makes only the missing ones,
// with the tenant's own prompt template.
func TestGenerateImagesResumes(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	_, err := f.gen.settings.PutPrompt(context.Background(), f.tenant, KindImageGenerate, "Oil painting: {{.Prompt}}")
	testkit.Must(t, "tenant prompt", err)
	j := f.job(KindImageGenerate, map[string]any{"prompt": "a lighthouse", "n": 3})
	first, err := f.content.CreateMediaFromJob(context.Background(), f.tenant, f.site, j.ID, 1, pngOf(t, 8, 8), content.MediaInput{})
	testkit.Must(t, "first image", err)
	res, usage := f.mustRun(j)
	ids := res["media_ids"].([]any)
	reqs := f.ai.RequestsTo(aitest.PathImages)
	if len(ids) != 3 || ids[1] != first.ID || usage != 3*PriceImage || len(reqs) != 1 || reqs[0].JSON["n"] != float64(2) ||
		reqs[0].JSON["prompt"] != "Oil painting: a lighthouse" {
		t.Fatalf("result %v, usage %d, request %v", res, usage, reqs[0].JSON)
	}
}

func TestGenerateImagesFailures(t *testing.T) {
	cases := []struct {
		name      string
		step      aitest.Step
		code      string
		retryable bool
	}{
		{"content policy", aitest.ContentPolicy(), "content_rejected", false},
		{"bad key", aitest.InvalidAPIKey(), "provider_auth_failed", false},
		{"size refused", aitest.Fail(400), "provider_request_rejected", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{})
			f.ai.Script(aitest.PathImages, c.step)
			_, _, err := f.run(f.job(KindImageGenerate, map[string]any{"prompt": "a fox"}))
			if fl := failureOf(t, err); fl.Code != c.code || fl.Retryable != c.retryable || fl.Chargeable {
				t.Fatalf("failure %+v, want %s retryable=%v", fl, c.code, c.retryable)
			}
			if f.count() != 0 || f.ai.Calls(aitest.PathImages) != 1 {
				t.Fatalf("%d media rows, %d calls; want none saved and no retry", f.count(), f.ai.Calls(aitest.PathImages))
			}
		})
	}
}

func TestEditImageVersions(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	src := f.upload("logo.png", pngOf(t, 64, 48), f.site)
	j := f.job(KindImageEdit, map[string]any{"media_id": src.ID, "instruction": "make the background blue"})
	res, usage := f.mustRun(j)
	v2 := res["media_id"].(string)
	if res["version"] != float64(2) || res["root_media_id"] != src.ID || usage != PriceImage || v2 == src.ID {
		t.Fatalf("result %v, usage %d", res, usage)
	}
	m, data := f.read(v2)
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	testkit.Must(t, "decode the edited image", err)
	if format != "png" || cfg.Width != 64 || cfg.Height != 48 || m.Filename != "logo-edited.png" || m.Title != "Logo" {
		t.Fatalf("edited image: %s %dx%d, row %+v", format, cfg.Width, cfg.Height, m)
	}
	edits := f.ai.RequestsTo(aitest.PathImageEdits)
	if len(edits) != 1 || !strings.Contains(edits[0].Form["prompt"], "make the background blue") ||
		!bytes.Equal(edits[0].Files["image"].Data, pngOf(t, 64, 48)) {
		t.Fatalf("edit request: %d, prompt %q", len(edits), edits[0].Form["prompt"])
	}

	// Run again: the same version, no new call. Then edit the version.
	again, _ := f.mustRun(j)
	if again["media_id"] != v2 || again["version"] != float64(2) || f.ai.Calls(aitest.PathImageEdits) != 1 {
		t.Fatalf("rerun: %v, %d calls", again, f.ai.Calls(aitest.PathImageEdits))
	}
	res3, _ := f.mustRun(f.job(KindImageEdit, map[string]any{"media_id": v2, "instruction": "add a hat"}))
	if res3["version"] != float64(3) || res3["root_media_id"] != src.ID || res3["source_media_id"] != v2 {
		t.Fatalf("edit of a version: %v", res3)
	}
	list, err := f.content.MediaVersions(context.Background(), f.tenant, f.site, res3["media_id"].(string))
	testkit.Must(t, "versions", err)
	if len(list) != 3 || list[0].MediaID != src.ID || list[1].MediaID != v2 || list[2].Instruction != "add a hat" {
		t.Fatalf("versions: %+v", list)
	}
}

func TestEditImageRefusesSources(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	text := f.upload("notes.txt", []byte("just words\n"), f.site)
	elsewhere := f.upload("logo.png", pngOf(t, 8, 8), f.other)
	cases := map[string]string{text.ID: "unsupported_image", elsewhere.ID: "media_not_found", ids.New("med"): "media_not_found"}
	for id, code := range cases {
		_, _, err := f.run(f.job(KindImageEdit, map[string]any{"media_id": id, "instruction": "blue"}))
		if fl := failureOf(t, err); fl.Code != code || fl.Retryable {
			t.Errorf("edit of %s: %+v, want %s", id, fl, code)
		}
	}
	if f.ai.Calls(aitest.PathImageEdits) != 0 {
		t.Fatal("the provider was asked to edit a refused source")
	}
}

func TestWriteMetadata(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.ai.SetReply(`{"alt_text":"A red diagonal line on a white background.","caption":"Our logo","tags":["logo"," red ","logo","line"]}`)
	src := f.upload("logo.png", pngOf(t, 32, 32), f.site)
	j := f.job(KindMetadata, map[string]any{"media_id": src.ID, "language": "de"})
	res, usage := f.mustRun(j)
	m, _ := f.read(src.ID)
	if m.AltText != "A red diagonal line on a white background." || m.Caption != "Our logo" || !slices.Equal(m.Tags, []string{"logo", "red", "line"}) {
		t.Fatalf("media after metadata: %+v", m)
	}
	reqs := f.ai.RequestsTo(aitest.PathChat)
	p := reqs[0].JSON
	body := string(reqs[0].Body)
	if len(reqs) != 1 || p["model"] != "gpt-4o-mini" || !strings.Contains(body, "data:image/png;base64,") ||
		!strings.Contains(body, "German (de)") || !strings.Contains(body, `\"logo.png\"`) || !strings.Contains(body, "json_object") {
		t.Fatalf("vision request: %s", clip(body, 600))
	}
	tokens := int64(res["tokens"].(float64))
	if tokens <= 0 || usage != max(ceilDiv(tokens, 1000), 1)*PriceMetadataTokens || usage > MetadataUnits*PriceMetadataTokens {
		t.Fatalf("usage %d for %d tokens", usage, tokens)
	}
	// Run again: the row records the job, so the model is not asked again.
	again, usage2 := f.mustRun(j)
	if f.ai.Calls(aitest.PathChat) != 1 || again["alt_text"] != m.AltText || usage2 != usage {
		t.Fatalf("rerun: %d calls, %v, usage %d", f.ai.Calls(aitest.PathChat), again, usage2)
	}
}

func TestWriteMetadataBadAnswers(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	src := f.upload("logo.png", pngOf(t, 16, 16), f.site)
	f.ai.SetReply(`{"caption":"no alt text"}`)
	_, _, err := f.run(f.job(KindMetadata, map[string]any{"media_id": src.ID}))
	if fl := failureOf(t, err); fl.Code != "invalid_model_answer" || !fl.Retryable {
		t.Fatalf("answer without alt text: %+v", fl)
	}
	audio := f.upload("a.wav", wavOf(t), f.site)
	_, _, err = f.run(f.job(KindMetadata, map[string]any{"media_id": audio.ID}))
	if fl := failureOf(t, err); fl.Code != "unsupported_image" {
		t.Fatalf("metadata of audio: %+v", fl)
	}
	if m, _ := f.read(src.ID); m.AltText != "" {
		t.Fatalf("a bad answer was written: %+v", m)
	}
}

// generatedKind is the kind a generated file's metadata names.
func generatedKind(m content.Media) string {
	var meta struct {
		Generated struct {
			Kind string `json:"kind"`
		} `json:"generated"`
	}
	_ = json.Unmarshal(m.Metadata, &meta)
	return meta.Generated.Kind
}

// wavOf is a short WAV of silence.
func wavOf(t *testing.T) []byte {
	t.Helper()
	pcm := make([]byte, 4800)
	h := []byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\xc0\x5d\x00\x00\x80\xbb\x00\x00\x02\x00\x10\x00data")
	h = append(h, byte(len(pcm)), byte(len(pcm)>>8), 0, 0)
	return append(h, pcm...)
}

func TestSpeechProvider(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	text := strings.Repeat("Kiln speaks long text in parts. ", 140) // 4,480 characters: two requests
	j := f.job(KindSpeech, map[string]any{"text": text, "voice": "nova", "format": "wav"})
	res, usage := f.mustRun(j)
	m, data := f.read(res["media_id"].(string))
	info, err := espeak.ParseWAV(data)
	testkit.Must(t, "parse the WAV", err)
	chars := len(strings.TrimSpace(text))
	want := float64(chars) / aitest.SpeechCharsPerSecond
	if m.ContentType != "audio/wav" || res["engine"] != EngineProvider || res["voice"] != "nova" ||
		info.Duration.Seconds() < want*0.9 || res["duration_seconds"].(float64) < want*0.9 || usage != 5*PriceSpeech {
		t.Fatalf("speech %s, %.1fs (want about %.1fs), result %v, usage %d", m.ContentType, info.Duration.Seconds(), want, res, usage)
	}
	if reqs := f.ai.RequestsTo(aitest.PathSpeech); len(reqs) != 2 || reqs[0].JSON["voice"] != "nova" || reqs[0].JSON["response_format"] != "wav" {
		t.Fatalf("speech requests: %d", len(reqs))
	}
	if _, _ = f.mustRun(j); f.ai.Calls(aitest.PathSpeech) != 2 || f.count() != 1 {
		t.Fatalf("rerun made %d calls, %d rows", f.ai.Calls(aitest.PathSpeech), f.count())
	}
}

func TestSpeechLocal(t *testing.T) {
	f := newFixture(t, fixtureOptions{noProvider: true, cfg: Config{Espeak: espeak.Config{MaxChunkChars: 120}}})
	if !f.gen.LocalSpeech() {
		t.Fatal("espeak-ng is not installed; run deploy/dev/tools.sh")
	}
	ctx := context.Background()
	short := f.job(KindSpeech, map[string]any{"text": "Hello from Kiln."})
	long := f.job(KindSpeech, map[string]any{"text": strings.Repeat("Hello from Kiln, spoken on the worker. ", 8), "voice": "alloy"})
	for _, j := range []jobs.Job{short, long} {
		testkit.Must(t, "preflight", f.kind(KindSpeech).Preflight(ctx, f.tenant, j.Input))
	}
	resShort, _ := f.mustRun(short)
	resLong, usage := f.mustRun(long)
	durations := map[string]float64{}
	for name, res := range map[string]map[string]any{"short": resShort, "long": resLong} {
		m, data := f.read(res["media_id"].(string))
		info, err := espeak.ParseWAV(data)
		testkit.Must(t, "parse the WAV", err)
		if m.ContentType != "audio/wav" || info.Duration <= 0 || info.Channels != 1 || res["engine"] != EngineLocal {
			t.Fatalf("%s speech: %s %+v, result %v", name, m.ContentType, info, res)
		}
		durations[name] = info.Duration.Seconds()
	}
	// The long text was spoken in chunks of at most 120 characters, joined.
	if durations["long"] < 4*durations["short"] || resLong["voice"] != "en-us" || usage != PriceSpeech {
		t.Fatalf("durations %v, long result %v, usage %d", durations, resLong, usage)
	}
	if f.ai.Calls(aitest.PathSpeech) != 0 {
		t.Fatal("the provider was called with no provider configured")
	}
}

func TestPreflight(t *testing.T) {
	ctx := context.Background()
	none := newFixture(t, fixtureOptions{noProvider: true})
	for _, kind := range []string{KindImageGenerate, KindImageEdit, KindMetadata} {
		err := none.kind(kind).Preflight(ctx, none.tenant, json.RawMessage(`{}`))
		p, ok := problem.As(err)
		if !ok || p.Kind != problem.Unavailable || p.Code != "provider_not_configured" || !strings.Contains(p.Message, "KILN_OPENAI_API_KEY") {
			t.Errorf("%s preflight without a provider: %v", kind, err)
		}
	}
	if !none.gen.LocalSpeech() {
		t.Fatal("espeak-ng is not installed; run deploy/dev/tools.sh")
	}
	speech := none.kind(KindSpeech).Preflight
	cases := []struct {
		in     string
		fields []string
	}{
		{`{"text":"x","format":"wav","voice":"de"}`, nil},
		{`{"text":"x","format":"wav","voice":"en-gb+f3"}`, nil},
		{`{"text":"x","format":"wav","voice":"shimmer"}`, nil},
		{`{"text":"x","format":"wav","voice":"klingon"}`, []string{"input.voice"}},
	}
	if !slices.Contains(none.gen.local.Formats(), "mp3") {
		cases = append(cases, struct {
			in     string
			fields []string
		}{`{"text":"x","format":"mp3"}`, []string{"input.format"}})
	}
	for _, c := range cases {
		if got := fieldsOf(speech(ctx, none.tenant, json.RawMessage(c.in))); !slices.Equal(got, c.fields) {
			t.Errorf("speech preflight %s on espeak-ng: fields %v, want %v", c.in, got, c.fields)
		}
	}
	off := newFixture(t, fixtureOptions{noProvider: true, cfg: Config{DisableLocalSpeech: true}})
	err := off.kind(KindSpeech).Preflight(ctx, off.tenant, json.RawMessage(`{"text":"x","format":"wav"}`))
	if p, ok := problem.As(err); !ok || p.Code != "provider_not_configured" || !strings.Contains(p.Message, "KILN_OPENAI_API_KEY") {
		t.Errorf("speech with neither engine: %v", err)
	}
	with := newFixture(t, fixtureOptions{})
	for _, k := range with.gen.Kinds() {
		if err := k.Preflight(ctx, with.tenant, json.RawMessage(`{"text":"x","format":"mp3","voice":"klingon"}`)); err != nil {
			t.Errorf("%s preflight with a provider: %v", k.Name, err)
		}
	}
}

func TestPromptsRender(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	for _, p := range Prompts() {
		data := map[string]any{}
		for _, v := range p.Variables {
			data[v] = ""
		}
		if _, err := f.gen.settings.Render(ctx, f.tenant, p.Type, data); err != nil {
			t.Errorf("prompt %s does not render with its variables empty: %v", p.Type, err)
		}
		if _, err := f.gen.settings.Render(ctx, f.tenant, p.Type, map[string]any{}); err == nil && len(p.Variables) > 0 {
			t.Errorf("prompt %s renders without its variables; they are not used", p.Type)
		}
	}
}
