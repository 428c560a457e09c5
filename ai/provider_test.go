package ai_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/ai/aitest"
	"github.com/kilnhq/kiln/internal/testkit"
)

// newProvider returns a Provider for srv with fast backoff; mod adjusts
// the configuration.
func newProvider(t *testing.T, srv *aitest.Server, mod func(*ai.ProviderConfig)) *ai.Provider {
	t.Helper()
	cfg := ai.ProviderConfig{
		BaseURL: srv.URL(), APIKey: srv.APIKey(),
		Models:  ai.Models{Chat: "gpt-4o-mini", Vision: "gpt-4o", Image: "dall-e-2", Speech: "tts-1"},
		Timeout: 10 * time.Second, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Log: testkit.Logger(t),
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := ai.NewProvider(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// pngOf encodes a w×h image of one colour.
func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	img.Set(0, 0, color.NRGBA{A: 0})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestChat(t *testing.T) {
	srv := aitest.New(t)
	p := newProvider(t, srv, nil)
	res, err := p.Chat(context.Background(), ai.ChatRequest{
		System:   "You are terse.",
		Messages: []ai.Message{{Text: "Name a colour."}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "aitest reply to: Name a colour." || res.FinishReason != "stop" {
		t.Errorf("answer %q (%s)", res.Text, res.FinishReason)
	}
	if res.Usage.Requests != 1 || res.Usage.PromptTokens == 0 || res.Usage.CompletionTokens == 0 {
		t.Errorf("usage %+v: want 1 request and tokens both ways", res.Usage)
	}
	req := srv.RequestsTo(aitest.PathChat)[0]
	if req.JSON["model"] != "gpt-4o-mini" || !strings.Contains(req.Prompt(), "You are terse.") {
		t.Errorf("request %s: want model gpt-4o-mini and the system prompt", req.Body)
	}
}

func TestChatJSON(t *testing.T) {
	srv := aitest.New(t)
	srv.SetReply(`{"alt": "a red square", "tags": ["red", "square"]}`)
	p := newProvider(t, srv, nil)
	res, err := p.Chat(context.Background(), ai.ChatRequest{
		System: "Describe the image.", Messages: []ai.Message{{Text: "alt text and tags"}}, JSON: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Alt  string   `json:"alt"`
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal([]byte(res.Text), &got); err != nil || got.Alt != "a red square" || len(got.Tags) != 2 {
		t.Fatalf("answer %q: %v, decoded %+v", res.Text, err, got)
	}
	req := srv.RequestsTo(aitest.PathChat)[0]
	if rf, _ := req.JSON["response_format"].(map[string]any); rf["type"] != "json_object" {
		t.Errorf("response_format = %v, want json_object", req.JSON["response_format"])
	}
}

func TestChatVision(t *testing.T) {
	srv := aitest.New(t)
	p := newProvider(t, srv, nil)
	res, err := p.Chat(context.Background(), ai.ChatRequest{
		Messages: []ai.Message{{Text: "What is shown?"}},
		Images:   []ai.ImageInput{{Data: pngOf(t, 8, 6), Detail: "low"}, {URL: "https://example.com/cat.jpg"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Text, "[saw 2 image(s): png 8x6; remote image https://example.com/cat.jpg]") {
		t.Errorf("answer %q does not acknowledge both images", res.Text)
	}
	req := srv.RequestsTo(aitest.PathChat)[0]
	if req.JSON["model"] != "gpt-4o" {
		t.Errorf("model %v, want the vision model gpt-4o", req.JSON["model"])
	}
	msgs := req.JSON["messages"].([]any)
	parts := msgs[len(msgs)-1].(map[string]any)["content"].([]any)
	img := parts[1].(map[string]any)["image_url"].(map[string]any)
	if url, _ := img["url"].(string); !strings.HasPrefix(url, "data:image/png;base64,") || img["detail"] != "low" {
		t.Errorf("image part %v: want a PNG data URL with detail low", img)
	}
}

// decodePNG decodes an image and checks its size.
func decodePNG(t *testing.T, data []byte, w, h int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("image does not decode as PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("image is %dx%d, want %dx%d", b.Dx(), b.Dy(), w, h)
	}
}

func TestGenerateImages(t *testing.T) {
	tests := []struct {
		model        string
		req          ai.ImageRequest
		w, h         int
		wantRequests int
		wantFormat   any // response_format sent
		wantTokens   bool
	}{
		{"dall-e-2", ai.ImageRequest{Prompt: "a red kiln", Size: "256x256", N: 2}, 256, 256, 1, "b64_json", false},
		{"dall-e-3", ai.ImageRequest{Prompt: "a red kiln", Size: "1024x1024", N: 2, Style: "natural"}, 1024, 1024, 2, "b64_json", false},
		{"gpt-image-1", ai.ImageRequest{Prompt: "a red kiln", N: 1}, 1024, 1024, 1, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			srv := aitest.New(t)
			p := newProvider(t, srv, func(c *ai.ProviderConfig) { c.Models.Image = tt.model })
			imgs, usage, err := p.GenerateImages(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if len(imgs) != tt.req.N || usage.Images != tt.req.N || usage.Requests != tt.wantRequests {
				t.Fatalf("%d images, usage %+v; want %d images in %d requests", len(imgs), usage, tt.req.N, tt.wantRequests)
			}
			for _, img := range imgs {
				decodePNG(t, img.Data, tt.w, tt.h)
				if img.ContentType != "image/png" {
					t.Errorf("content type %q", img.ContentType)
				}
			}
			if tt.model == "dall-e-3" && imgs[0].RevisedPrompt != "aitest revised: a red kiln" {
				t.Errorf("revised prompt %q", imgs[0].RevisedPrompt)
			}
			if got := srv.RequestsTo(aitest.PathImages)[0].JSON["response_format"]; got != tt.wantFormat {
				t.Errorf("response_format = %v, want %v", got, tt.wantFormat)
			}
			if tt.wantTokens != (usage.PromptTokens > 0 && usage.CompletionTokens > 0) {
				t.Errorf("usage %+v: tokens reported %v, want %v", usage, !tt.wantTokens, tt.wantTokens)
			}
		})
	}
}

func TestEditImage(t *testing.T) {
	srv := aitest.New(t)
	p := newProvider(t, srv, nil)
	src := pngOf(t, 256, 256)
	imgs, usage, err := p.EditImage(context.Background(), ai.ImageEditRequest{
		Image: src, Mask: pngOf(t, 256, 256), Prompt: "make it blue", Size: "512x512",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || usage.Images != 1 || usage.Requests != 1 {
		t.Fatalf("%d images, usage %+v", len(imgs), usage)
	}
	decodePNG(t, imgs[0].Data, 512, 512)
	req := srv.RequestsTo(aitest.PathImageEdits)[0]
	if f := req.Files["image"]; f.ContentType != "image/png" || !bytes.Equal(f.Data, src) {
		t.Errorf("image part %q of %d bytes, want image/png of %d", f.ContentType, len(f.Data), len(src))
	}
	if req.Form["prompt"] != "make it blue" || req.Form["response_format"] != "b64_json" || req.Files["mask"].Data == nil {
		t.Errorf("form %v, files %v: want prompt, b64_json and a mask", req.Form, len(req.Files))
	}
}

// wavInfo checks a WAV file's header sizes and returns its duration.
func wavInfo(t *testing.T, b []byte) time.Duration {
	t.Helper()
	le := binary.LittleEndian
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		t.Fatalf("not a canonical WAV: % x", b[:min(len(b), 44)])
	}
	if int(le.Uint32(b[4:8])) != len(b)-8 || int(le.Uint32(b[40:44])) != len(b)-44 {
		t.Fatalf("WAV sizes RIFF %d data %d do not fit a %d-byte file", le.Uint32(b[4:8]), le.Uint32(b[40:44]), len(b))
	}
	if le.Uint16(b[20:22]) != 1 || le.Uint16(b[22:24]) != 1 || le.Uint32(b[24:28]) != 24000 {
		t.Fatalf("WAV format %d, %d channels, %d Hz; want PCM mono 24 kHz", le.Uint16(b[20:22]), le.Uint16(b[22:24]), le.Uint32(b[24:28]))
	}
	return time.Duration(float64(len(b)-44) / float64(le.Uint32(b[28:32])) * float64(time.Second))
}

func TestSpeech(t *testing.T) {
	text := "Kiln turns long work into one clean job." // 40 characters: 2.67 s at 15 chars/s
	want := time.Duration(float64(len(text)) / aitest.SpeechCharsPerSecond * float64(time.Second))
	tests := []struct {
		format string
		check  func(t *testing.T, audio []byte) time.Duration
	}{
		{"wav", wavInfo},
		{"pcm", func(t *testing.T, a []byte) time.Duration { return time.Duration(len(a)) * time.Second / 48000 }},
		{"mp3", func(t *testing.T, a []byte) time.Duration {
			if a[0] != 0xFF || a[1]&0xE0 != 0xE0 {
				t.Fatalf("mp3 does not start with a frame sync: % x", a[:4])
			}
			return time.Duration(len(a)/192) * 24 * time.Millisecond // 192-byte frames of 24 ms
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			srv := aitest.New(t)
			p := newProvider(t, srv, nil)
			audio, usage, err := p.Speech(context.Background(), ai.SpeechRequest{Text: text, Voice: "nova", Format: tt.format})
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.check(t, audio); got < want-30*time.Millisecond || got > want+30*time.Millisecond {
				t.Errorf("audio lasts %v, want %v", got, want)
			}
			if usage.Characters != len(text) || usage.Requests != 1 || usage.Seconds < want.Seconds()-0.03 || usage.Seconds > want.Seconds()+0.03 {
				t.Errorf("usage %+v, want %d characters, 1 request, %.2f s", usage, len(text), want.Seconds())
			}
			if got := srv.RequestsTo(aitest.PathSpeech)[0].JSON["response_format"]; got != tt.format {
				t.Errorf("response_format = %v, want %s", got, tt.format)
			}
		})
	}
}

func TestSpeechSplitsLongText(t *testing.T) {
	var b strings.Builder
	for b.Len() < 10_000 {
		b.WriteString("The kiln fires the pots slowly, and the glaze settles into glass. ")
	}
	text := strings.TrimSpace(b.String())
	for _, format := range []string{"wav", "mp3"} {
		t.Run(format, func(t *testing.T) {
			srv := aitest.New(t)
			p := newProvider(t, srv, nil)
			audio, usage, err := p.Speech(context.Background(), ai.SpeechRequest{Text: text, Format: format})
			if err != nil {
				t.Fatal(err)
			}
			reqs := srv.RequestsTo(aitest.PathSpeech)
			if len(reqs) != 3 || usage.Requests != 3 {
				t.Fatalf("%d requests (usage %d), want 3 for %d characters", len(reqs), usage.Requests, len(text))
			}
			var sent []string
			for _, r := range reqs {
				in := r.JSON["input"].(string)
				if len(in) > ai.MaxSpeechInput || !strings.HasSuffix(in, ".") {
					t.Errorf("input of %d characters ending %q: want at most %d, cut at a sentence end", len(in), in[len(in)-5:], ai.MaxSpeechInput)
				}
				sent = append(sent, in)
			}
			if strings.Join(sent, " ") != text {
				t.Error("the inputs joined are not the text")
			}
			wantSecs := float64(len(text)-2) / aitest.SpeechCharsPerSecond // two separating spaces not sent
			if usage.Seconds < wantSecs-0.1 || usage.Seconds > wantSecs+0.1 {
				t.Errorf("usage.Seconds = %.2f, want %.2f", usage.Seconds, wantSecs)
			}
			if format == "wav" {
				if got := wavInfo(t, audio).Seconds(); got < wantSecs-0.01 || got > wantSecs+0.01 {
					t.Errorf("joined WAV lasts %.3f s, want %.3f", got, wantSecs)
				}
			}
		})
	}
}

// calls are the provider methods, each making one request when it
// succeeds, and the endpoint they call.
var calls = []struct {
	name string
	path string
	call func(ctx context.Context, p *ai.Provider) error
}{
	{"chat", aitest.PathChat, func(ctx context.Context, p *ai.Provider) error {
		_, err := p.Chat(ctx, ai.ChatRequest{Messages: []ai.Message{{Text: "hello"}}})
		return err
	}},
	{"images", aitest.PathImages, func(ctx context.Context, p *ai.Provider) error {
		_, _, err := p.GenerateImages(ctx, ai.ImageRequest{Prompt: "a kiln", Size: "256x256"})
		return err
	}},
	{"edit", aitest.PathImageEdits, func(ctx context.Context, p *ai.Provider) error {
		var buf bytes.Buffer
		_ = png.Encode(&buf, image.NewGray(image.Rect(0, 0, 64, 64)))
		_, _, err := p.EditImage(ctx, ai.ImageEditRequest{Image: buf.Bytes(), Prompt: "brighter", Size: "256x256"})
		return err
	}},
	{"speech", aitest.PathSpeech, func(ctx context.Context, p *ai.Provider) error {
		_, _, err := p.Speech(ctx, ai.SpeechRequest{Text: "Hello there.", Format: "wav"})
		return err
	}},
}

func TestProviderFaults(t *testing.T) {
	tests := []struct {
		name      string
		steps     []aitest.Step
		cfg       func(*ai.ProviderConfig)
		wantErr   error // nil: the call succeeds
		wantCalls int
		min, max  time.Duration
		wantMsg   string
	}{
		{name: "429 honours Retry-After then succeeds", steps: []aitest.Step{aitest.Fail(429).RetryAfter(1)},
			cfg:       func(c *ai.ProviderConfig) { c.MinBackoff, c.MaxBackoff = 20*time.Second, 20*time.Second },
			wantCalls: 2, min: time.Second, max: 5 * time.Second},
		{name: "500 then success", steps: []aitest.Step{aitest.Fail(500)}, wantCalls: 2},
		{name: "502 HTML page then success", steps: []aitest.Step{aitest.Fail(502)}, wantCalls: 2},
		{name: "content policy is not retried", steps: []aitest.Step{aitest.ContentPolicy()},
			wantErr: ai.ErrContentRejected, wantCalls: 1},
		{name: "invalid key is not retried", steps: []aitest.Step{aitest.InvalidAPIKey()},
			wantErr: ai.ErrProviderAuthFailed, wantCalls: 1},
		{name: "429 until the retries run out", steps: []aitest.Step{aitest.Fail(429), aitest.Fail(429), aitest.Fail(429)},
			cfg: func(c *ai.ProviderConfig) { c.MaxRetries = 2 }, wantErr: ai.ErrProviderRateLimited, wantCalls: 3},
		{name: "a Retry-After beyond the limit fails at once", steps: []aitest.Step{aitest.Fail(429).RetryAfter(3600)},
			wantErr: ai.ErrProviderRateLimited, wantCalls: 1, max: 2 * time.Second},
		{name: "a slow provider times out", steps: []aitest.Step{aitest.OK().After(time.Minute), aitest.OK().After(time.Minute)},
			cfg:     func(c *ai.ProviderConfig) { c.Timeout, c.MaxRetries = 300*time.Millisecond, 1 },
			wantErr: ai.ErrProviderUnavailable, wantCalls: 2, min: 600 * time.Millisecond, max: 5 * time.Second,
			wantMsg: "did not answer within 300ms"},
	}
	for _, tt := range tests {
		for _, c := range calls {
			t.Run(tt.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				srv := aitest.New(t)
				srv.Script(c.path, tt.steps...)
				p := newProvider(t, srv, tt.cfg)
				start := time.Now()
				err := c.call(context.Background(), p)
				elapsed := time.Since(start)
				switch {
				case tt.wantErr == nil && err != nil:
					t.Fatalf("err = %v, want success", err)
				case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				case tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg):
					t.Errorf("err = %v, want it to say %q", err, tt.wantMsg)
				}
				if got := srv.Calls(c.path); got != tt.wantCalls {
					t.Errorf("%d calls, want %d", got, tt.wantCalls)
				}
				if elapsed < tt.min || (tt.max > 0 && elapsed > tt.max) {
					t.Errorf("took %v, want between %v and %v", elapsed, tt.min, tt.max)
				}
			})
		}
	}
}

func TestProviderNotConfigured(t *testing.T) {
	srv := aitest.New(t)
	p := newProvider(t, srv, func(c *ai.ProviderConfig) { c.Models = ai.Models{} })
	settings := map[string]string{"chat": "KILN_MODEL_CHAT", "images": "KILN_MODEL_IMAGE", "edit": "KILN_MODEL_IMAGE", "speech": "KILN_MODEL_SPEECH"}
	for _, c := range calls {
		err := c.call(context.Background(), p)
		if !errors.Is(err, ai.ErrProviderNotConfigured) || !strings.Contains(err.Error(), settings[c.name]) {
			t.Errorf("%s: err = %v, want provider_not_configured naming %s", c.name, err, settings[c.name])
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

func TestProviderCallerCancel(t *testing.T) {
	srv := aitest.New(t)
	srv.Delay(aitest.PathChat, time.Minute)
	p := newProvider(t, srv, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := p.Chat(ctx, ai.ChatRequest{Messages: []ai.Message{{Text: "hello"}}})
	if !errors.Is(err, context.DeadlineExceeded) || srv.Calls(aitest.PathChat) != 1 {
		t.Fatalf("err = %v after %d calls; want the caller's deadline, not retried", err, srv.Calls(aitest.PathChat))
	}
}

func TestProviderAzureURLs(t *testing.T) {
	srv := aitest.New(t) // answers only /v1 paths: the Azure request is recorded, then refused
	p := newProvider(t, srv, func(c *ai.ProviderConfig) {
		c.Azure, c.BaseURL, c.Models.Chat = true, strings.TrimSuffix(srv.URL(), "/v1"), "my-gpt4o-deployment"
	})
	_, err := p.Chat(context.Background(), ai.ChatRequest{Messages: []ai.Message{{Text: "hi"}}})
	if !errors.Is(err, ai.ErrProviderRequestRejected) {
		t.Fatalf("err = %v, want the test server's 404 as request rejected", err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1 (a 404 is not retried)", len(reqs))
	}
	r := reqs[0]
	if r.Path != "/openai/deployments/my-gpt4o-deployment/chat/completions" ||
		r.Query.Get("api-version") != ai.DefaultAzureAPIVersion || r.Header.Get("Api-Key") != srv.APIKey() {
		t.Errorf("request %s ?%s api-key %q: want Azure's deployment path, api-version and api-key header",
			r.Path, r.Query.Encode(), r.Header.Get("Api-Key"))
	}
}
