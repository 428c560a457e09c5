package aitest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai"
)

// client returns a go-openai client for srv.
func client(srv *Server) *openai.Client { return openai.NewClientWithConfig(srv.ClientConfig()) }

func chatRequest1(text string) openai.ChatCompletionRequest {
	return openai.ChatCompletionRequest{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: text}},
	}
}

// wantAPIError asserts err is an *openai.APIError with the status and code.
func wantAPIError(t *testing.T, err error, status int, code string) *openai.APIError {
	t.Helper()
	var e *openai.APIError
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *openai.APIError", err, err)
	}
	gotCode, _ := e.Code.(string)
	if e.HTTPStatusCode != status || gotCode != code {
		t.Fatalf("error = %d %q (%s), want %d %q", e.HTTPStatusCode, gotCode, e.Message, status, code)
	}
	return e
}

func TestChatCompletion(t *testing.T) {
	srv := New(t)
	resp, err := client(srv).CreateChatCompletion(context.Background(), openai.ChatCompletionRequest{
		Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: "You are terse."},
			{Role: openai.ChatMessageRoleUser, Content: "Name a colour."},
		},
	})
	if err != nil {
		t.Fatalf("CreateChatCompletion: %v", err)
	}
	if len(resp.Choices) != 1 || resp.Choices[0].Message.Content != "aitest reply to: Name a colour." {
		t.Fatalf("choices = %+v, want the default reply to the user message", resp.Choices)
	}
	c := resp.Choices[0]
	if c.FinishReason != openai.FinishReasonStop || c.Message.Role != openai.ChatMessageRoleAssistant {
		t.Errorf("choice = %+v, want an assistant message that stopped", c)
	}
	u := resp.Usage
	if u.PromptTokens < 10 || u.CompletionTokens != countTokens(c.Message.Content) || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Errorf("usage = %+v, want prompt tokens for two messages and completion tokens of the reply", u)
	}
	if !strings.HasPrefix(resp.ID, "chatcmpl-") || resp.Object != "chat.completion" || resp.Model != "gpt-4o-mini" || resp.Created == 0 {
		t.Errorf("response metadata = %q %q %q %d", resp.ID, resp.Object, resp.Model, resp.Created)
	}
	if got := resp.Header().Get("X-Request-Id"); !strings.HasPrefix(got, "req_") {
		t.Errorf("X-Request-Id = %q", got)
	}
	if rl := resp.GetRateLimitHeaders(); rl.LimitRequests != 10000 || rl.RemainingRequests != 9999 {
		t.Errorf("rate limit headers = %+v", rl)
	}
}

func TestChatReplies(t *testing.T) {
	srv := New(t)
	c := client(srv)
	ask := func(text string) string {
		t.Helper()
		resp, err := c.CreateChatCompletion(context.Background(), chatRequest1(text))
		if err != nil {
			t.Fatalf("CreateChatCompletion: %v", err)
		}
		return resp.Choices[0].Message.Content
	}
	srv.SetReply("fixed answer")
	srv.Script(PathChat, Reply("scripted once"))
	if got := ask("a"); got != "scripted once" {
		t.Errorf("first reply = %q, want the scripted step", got)
	}
	if got := ask("b"); got != "fixed answer" {
		t.Errorf("second reply = %q, want SetReply's", got)
	}
	srv.SetReplyFunc(func(p Prompt) string { return "Bonjour" + strings.Repeat("!", len(p.Last)) })
	if got := ask("abc"); got != "Bonjour!!!" {
		t.Errorf("reply = %q, want the reply function's", got)
	}
	srv.SetReply("")
	if got := ask("hi"); got != "aitest reply to: hi" {
		t.Errorf("reply = %q, want the default again", got)
	}
}

func TestChatJSONMode(t *testing.T) {
	srv := New(t)
	c := client(srv)
	req := func(text string) openai.ChatCompletionRequest {
		r := chatRequest1(text)
		r.ResponseFormat = &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONObject}
		return r
	}
	tests := []struct {
		name, scripted, wantKey string
	}{
		{"default reply wrapped", "", "reply"},
		{"scripted object kept", `{"alt":"a cat","tags":["cat"]}`, "alt"},
		{"scripted text wrapped", "not json", "reply"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv.SetReply(tc.scripted)
			resp, err := c.CreateChatCompletion(context.Background(), req("Answer in JSON."))
			if err != nil {
				t.Fatalf("CreateChatCompletion: %v", err)
			}
			var obj map[string]any
			if err := json.Unmarshal([]byte(resp.Choices[0].Message.Content), &obj); err != nil {
				t.Fatalf("content %q is not a JSON object: %v", resp.Choices[0].Message.Content, err)
			}
			if _, ok := obj[tc.wantKey]; !ok {
				t.Errorf("content %v lacks key %q", obj, tc.wantKey)
			}
		})
	}
	_, err := c.CreateChatCompletion(context.Background(), req("No magic word here."))
	e := wantAPIError(t, err, http.StatusBadRequest, "")
	if e.Param == nil || *e.Param != "messages" || !strings.Contains(e.Message, "'json'") {
		t.Errorf("error = %+v, want OpenAI's json_object rule on 'messages'", e)
	}
}

// pngDataURL encodes a w x h PNG as a data URL.
func pngDataURL(t *testing.T, w, h int) string {
	t.Helper()
	var buf bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, w, h))
	img.Set(1, 1, color.White)
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}

func visionRequest(url, detail string) openai.ChatCompletionRequest {
	return openai.ChatCompletionRequest{
		Model: "gpt-4o",
		Messages: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, MultiContent: []openai.ChatMessagePart{
			{Type: openai.ChatMessagePartTypeText, Text: "Describe this image."},
			{Type: openai.ChatMessagePartTypeImageURL, ImageURL: &openai.ChatMessageImageURL{URL: url, Detail: openai.ImageURLDetail(detail)}},
		}}},
	}
}

func TestChatVision(t *testing.T) {
	srv := New(t)
	c := client(srv)
	var seen []Image
	srv.SetReplyFunc(func(p Prompt) string { seen = p.Images; return defaultReply(p) })
	resp, err := c.CreateChatCompletion(context.Background(), visionRequest(pngDataURL(t, 32, 16), "low"))
	if err != nil {
		t.Fatalf("CreateChatCompletion: %v", err)
	}
	if got := resp.Choices[0].Message.Content; !strings.Contains(got, "[saw 1 image(s): png 32x16]") {
		t.Errorf("reply %q does not acknowledge the image", got)
	}
	if len(seen) != 1 || seen[0].Detail != "low" || seen[0].Width != 32 {
		t.Errorf("reply function saw images %+v", seen)
	}
	textOnly, err := c.CreateChatCompletion(context.Background(), chatRequest1("Describe this image."))
	if err != nil {
		t.Fatalf("CreateChatCompletion: %v", err)
	}
	if diff := resp.Usage.PromptTokens - textOnly.Usage.PromptTokens; diff != 85 {
		t.Errorf("a low-detail image added %d prompt tokens, want 85", diff)
	}
	remote, err := c.CreateChatCompletion(context.Background(), visionRequest("https://example.com/cat.jpg", ""))
	if err != nil || !strings.Contains(remote.Choices[0].Message.Content, "remote image https://example.com/cat.jpg") {
		t.Errorf("remote image reply = %v, %v", remote.Choices, err)
	}
	_, err = c.CreateChatCompletion(context.Background(), visionRequest("data:image/png;base64,bm90IGFuIGltYWdl", ""))
	wantAPIError(t, err, http.StatusBadRequest, "invalid_image_format")
	_, err = c.CreateChatCompletion(context.Background(), visionRequest("ftp://x/y.png", ""))
	wantAPIError(t, err, http.StatusBadRequest, "invalid_image_url")
}

func TestChatLimitsAndChoices(t *testing.T) {
	srv := New(t)
	c := client(srv)
	srv.SetReply("one two three four five six seven eight nine ten")
	req := chatRequest1("count")
	req.MaxCompletionTokens = 2
	resp, err := c.CreateChatCompletion(context.Background(), req)
	if err != nil {
		t.Fatalf("CreateChatCompletion: %v", err)
	}
	if ch := resp.Choices[0]; ch.FinishReason != openai.FinishReasonLength || ch.Message.Content != "one two " {
		t.Errorf("choice = %q %q, want the reply cut at 2 tokens with finish_reason length", ch.Message.Content, ch.FinishReason)
	}
	req = chatRequest1("count")
	req.N = 3
	resp, err = c.CreateChatCompletion(context.Background(), req)
	if err != nil {
		t.Fatalf("CreateChatCompletion: %v", err)
	}
	if len(resp.Choices) != 3 || resp.Choices[2].Index != 2 || resp.Usage.CompletionTokens != 3*countTokens(resp.Choices[0].Message.Content) {
		t.Errorf("n=3 gave %d choices, usage %+v", len(resp.Choices), resp.Usage)
	}
	_, err = c.CreateChatCompletion(context.Background(), openai.ChatCompletionRequest{Model: "gpt-4o-mini"})
	wantAPIError(t, err, http.StatusBadRequest, "")
}

func TestChatStream(t *testing.T) {
	srv := New(t)
	srv.SetReply("streamed words arrive one by one")
	req := chatRequest1("stream please")
	req.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	stream, err := client(srv).CreateChatCompletionStream(context.Background(), req)
	if err != nil {
		t.Fatalf("CreateChatCompletionStream: %v", err)
	}
	defer stream.Close()
	var text strings.Builder
	var finish openai.FinishReason
	var usage *openai.Usage
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		for _, ch := range chunk.Choices {
			text.WriteString(ch.Delta.Content)
			if ch.FinishReason != "" {
				finish = ch.FinishReason
			}
		}
		if chunk.Usage != nil {
			usage = chunk.Usage
		}
	}
	if text.String() != "streamed words arrive one by one" || finish != openai.FinishReasonStop {
		t.Errorf("streamed %q, finish %q", text.String(), finish)
	}
	if usage == nil || usage.CompletionTokens != countTokens(text.String()) {
		t.Errorf("usage chunk = %+v", usage)
	}
}

// decodePNG decodes an image and returns its size.
func decodePNG(t *testing.T, b []byte) image.Point {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decoding the PNG: %v", err)
	}
	return img.Bounds().Size()
}

func TestImageGeneration(t *testing.T) {
	srv := New(t)
	c := client(srv)
	tests := []struct {
		name                   string
		req                    openai.ImageRequest
		wantW, wantH, wantN    int
		wantURL, wantUsage     bool
		wantRevised            bool
		wantDifferentPerImages bool
	}{
		{"dall-e-2 b64 two images", openai.ImageRequest{Prompt: "two cats", Model: "dall-e-2", N: 2, Size: "256x256",
			ResponseFormat: "b64_json"}, 256, 256, 2, false, false, false, true},
		{"dall-e-3 url wide", openai.ImageRequest{Prompt: "a wide sky", Model: "dall-e-3", Size: "1792x1024"},
			1792, 1024, 1, true, false, true, false},
		{"gpt-image-1 always b64", openai.ImageRequest{Prompt: "a poster", Model: "gpt-image-1", Size: "1024x1536"},
			1024, 1536, 1, false, true, false, false},
		{"default model and size", openai.ImageRequest{Prompt: "anything"}, 1024, 1024, 1, true, false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.CreateImage(context.Background(), tc.req)
			if err != nil {
				t.Fatalf("CreateImage: %v", err)
			}
			if len(resp.Data) != tc.wantN {
				t.Fatalf("got %d images, want %d", len(resp.Data), tc.wantN)
			}
			var blobs [][]byte
			for _, d := range resp.Data {
				b := imageBytes(t, srv, d, tc.wantURL)
				if size := decodePNG(t, b); size != image.Pt(tc.wantW, tc.wantH) {
					t.Errorf("image size = %v, want %dx%d", size, tc.wantW, tc.wantH)
				}
				if (d.RevisedPrompt != "") != tc.wantRevised {
					t.Errorf("revised_prompt = %q", d.RevisedPrompt)
				}
				blobs = append(blobs, b)
			}
			if tc.wantDifferentPerImages && bytes.Equal(blobs[0], blobs[1]) {
				t.Error("the images of one request are identical")
			}
			if (resp.Usage.TotalTokens > 0) != tc.wantUsage {
				t.Errorf("usage = %+v", resp.Usage)
			}
		})
	}
}

// imageBytes returns an image's bytes from b64_json or by fetching its URL.
func imageBytes(t *testing.T, srv *Server, d openai.ImageResponseDataInner, wantURL bool) []byte {
	t.Helper()
	if !wantURL {
		if d.URL != "" || d.B64JSON == "" {
			t.Fatalf("want b64_json only, got url %q", d.URL)
		}
		b, err := base64.StdEncoding.DecodeString(d.B64JSON)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if d.URL == "" || d.B64JSON != "" {
		t.Fatalf("want a url only, got %+v", d)
	}
	resp, err := srv.http.Client().Get(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "image/png" {
		t.Fatalf("GET %s = %d %s", d.URL, resp.StatusCode, ct)
	}
	b, _ := io.ReadAll(resp.Body)
	return b
}

func TestImageGenerationRejects(t *testing.T) {
	srv := New(t)
	tests := []struct {
		name   string
		req    openai.ImageRequest
		status int
		code   string
	}{
		{"dall-e-3 takes n=1", openai.ImageRequest{Prompt: "x", Model: "dall-e-3", N: 2}, 400, ""},
		{"size not for model", openai.ImageRequest{Prompt: "x", Model: "dall-e-2", Size: "1792x1024"}, 400, ""},
		{"bad response_format", openai.ImageRequest{Prompt: "x", ResponseFormat: "gif"}, 400, ""},
		{"no prompt", openai.ImageRequest{Model: "dall-e-2"}, 400, ""},
		{"prompt too long", openai.ImageRequest{Prompt: strings.Repeat("a", 1001), Model: "dall-e-2"}, 400, ""},
		{"unknown model", openai.ImageRequest{Prompt: "x", Model: "dall-e-9"}, 404, "model_not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client(srv).CreateImage(context.Background(), tc.req)
			wantAPIError(t, err, tc.status, tc.code)
		})
	}
}

// namedReader gives go-openai a file name and type for a multipart part,
// as an *os.File would.
type namedReader struct {
	*bytes.Reader
	name, ctype string
}

func (r namedReader) Name() string        { return r.name }
func (r namedReader) ContentType() string { return r.ctype }

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(pngDataURL(t, w, h), "data:image/png;base64,"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestImageEdit(t *testing.T) {
	srv := New(t)
	c := client(srv)
	src := pngBytes(t, 512, 512)
	resp, err := c.CreateEditImage(context.Background(), openai.ImageEditRequest{
		Image:          namedReader{bytes.NewReader(src), "photo.png", "image/png"},
		Mask:           namedReader{bytes.NewReader(pngBytes(t, 512, 512)), "mask.png", "image/png"},
		Prompt:         "add a hat",
		ResponseFormat: openai.CreateImageResponseFormatB64JSON,
	})
	if err != nil {
		t.Fatalf("CreateEditImage: %v", err)
	}
	if len(resp.Data) != 1 {
		t.Fatalf("got %d images", len(resp.Data))
	}
	if size := decodePNG(t, imageBytes(t, srv, resp.Data[0], false)); size != image.Pt(512, 512) {
		t.Errorf("edited image size = %v, want the input's 512x512", size)
	}
	rec := srv.RequestsTo(PathImageEdits)[0]
	if !bytes.Equal(rec.Files["image"].Data, src) || rec.Files["image"].Filename != "photo.png" || rec.Form["prompt"] != "add a hat" {
		t.Errorf("recorded edit = files %v form %v", rec.Files["image"].Filename, rec.Form)
	}
	if rec.Prompt() != "add a hat" {
		t.Errorf("Prompt() = %q", rec.Prompt())
	}

	tests := []struct {
		name  string
		image io.Reader
		mask  io.Reader
		want  string
	}{
		{"octet-stream part", bytes.NewReader(src), nil, "unsupported mimetype ('application/octet-stream')"},
		{"not square for dall-e-2", namedReader{bytes.NewReader(pngBytes(t, 64, 32)), "a.png", "image/png"}, nil, "square PNG"},
		{"mask of another size", namedReader{bytes.NewReader(src), "a.png", "image/png"},
			namedReader{bytes.NewReader(pngBytes(t, 64, 64)), "m.png", "image/png"}, "same size"},
		{"undecodable", namedReader{bytes.NewReader([]byte("nope")), "a.png", "image/png"}, nil, "could not be decoded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateEditImage(context.Background(), openai.ImageEditRequest{Image: tc.image, Mask: tc.mask, Prompt: "x"})
			if e := wantAPIError(t, err, http.StatusBadRequest, ""); !strings.Contains(e.Message, tc.want) {
				t.Errorf("message %q, want it to contain %q", e.Message, tc.want)
			}
		})
	}
}

// speech asks for speech and returns the audio.
func speech(t *testing.T, c *openai.Client, req openai.CreateSpeechRequest) []byte {
	t.Helper()
	resp, err := c.CreateSpeech(context.Background(), req)
	if err != nil {
		t.Fatalf("CreateSpeech: %v", err)
	}
	defer resp.Close()
	b, err := io.ReadAll(resp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSpeech(t *testing.T) {
	srv := New(t)
	c := client(srv)
	text := "Kiln reads this sentence aloud for this test." // 45 characters: 3 s at 15 per second
	base := openai.CreateSpeechRequest{Model: openai.TTSModel1, Input: text, Voice: openai.VoiceAlloy}

	wavReq := base
	wavReq.ResponseFormat = openai.SpeechResponseFormatWav
	wav := speech(t, c, wavReq)
	info := parseTestWAV(t, wav)
	if info.rate != 24000 || info.channels != 1 || info.bits != 16 || math.Abs(info.seconds-3) > 0.01 {
		t.Errorf("wav = %+v, want 24 kHz mono 16-bit lasting 3 s", info)
	}
	if info.peak < 4000 {
		t.Errorf("wav peak %d, want audible tones", info.peak)
	}

	fast := wavReq
	fast.Speed = 2
	if got := parseTestWAV(t, speech(t, c, fast)).seconds; math.Abs(got-1.5) > 0.01 {
		t.Errorf("speed 2 lasts %.3f s, want 1.5", got)
	}

	pcmReq := base
	pcmReq.ResponseFormat = openai.SpeechResponseFormatPcm
	if pcm := speech(t, c, pcmReq); len(pcm) != len(wav)-44 {
		t.Errorf("pcm is %d bytes, want the wav's %d data bytes", len(pcm), len(wav)-44)
	}

	for _, format := range []openai.SpeechResponseFormat{"", openai.SpeechResponseFormatMp3} {
		req := base
		req.ResponseFormat = format
		frames := mp3Frames(t, speech(t, c, req))
		if secs := float64(frames) * 1152 / 48000; math.Abs(secs-3) > 0.03 {
			t.Errorf("format %q: mp3 of %d frames lasts %.3f s, want about 3", format, frames, secs)
		}
	}
}

func TestSpeechRejects(t *testing.T) {
	srv := New(t)
	tests := []struct {
		name string
		req  openai.CreateSpeechRequest
		want string
	}{
		{"opus refused clearly", openai.CreateSpeechRequest{Model: "tts-1", Input: "x", Voice: "alloy", ResponseFormat: "opus"},
			`response_format "opus" is not produced by the test server`},
		{"input over 4096", openai.CreateSpeechRequest{Model: "tts-1", Input: strings.Repeat("a", 4097), Voice: "alloy"},
			"at most 4096 characters"},
		{"unknown voice", openai.CreateSpeechRequest{Model: "tts-1", Input: "x", Voice: "bob"}, "Invalid value for 'voice'"},
		{"speed out of range", openai.CreateSpeechRequest{Model: "tts-1", Input: "x", Voice: "alloy", Speed: 5}, "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client(srv).CreateSpeech(context.Background(), tc.req)
			if e := wantAPIError(t, err, http.StatusBadRequest, ""); !strings.Contains(e.Message, tc.want) {
				t.Errorf("message %q, want it to contain %q", e.Message, tc.want)
			}
		})
	}
}

type testWAV struct {
	rate, channels, bits, peak int
	seconds                    float64
}

// parseTestWAV reads a canonical 44-byte-header PCM WAV.
func parseTestWAV(t *testing.T, b []byte) testWAV {
	t.Helper()
	le := binary.LittleEndian
	if len(b) < 44 || string(b[:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		t.Fatalf("not a canonical WAV: % x", b[:min(len(b), 44)])
	}
	if int(le.Uint32(b[4:8])) != len(b)-8 || int(le.Uint32(b[40:44])) != len(b)-44 || le.Uint16(b[20:22]) != 1 {
		t.Fatalf("WAV sizes or format tag wrong")
	}
	w := testWAV{channels: int(le.Uint16(b[22:24])), rate: int(le.Uint32(b[24:28])), bits: int(le.Uint16(b[34:36]))}
	w.seconds = float64(len(b)-44) / float64(w.rate*w.channels*w.bits/8)
	for i := 44; i+1 < len(b); i += 2 {
		v := int(int16(le.Uint16(b[i:])))
		w.peak = max(w.peak, v, -v)
	}
	return w
}

// mp3Frames walks MPEG-1 Layer III frame headers and counts the frames.
func mp3Frames(t *testing.T, b []byte) int {
	t.Helper()
	bitrates := []int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}
	rates := []int{44100, 48000, 32000}
	n := 0
	for off := 0; off < len(b); n++ {
		h := b[off:]
		if len(h) < 4 || h[0] != 0xFF || h[1]&0xFE != 0xFA {
			t.Fatalf("frame %d at %d: no MPEG-1 Layer III sync: % x", n, off, h[:min(4, len(h))])
		}
		bi, si := int(h[2]>>4), int(h[2]>>2&3)
		if bi == 0 || bi >= len(bitrates) || si >= len(rates) {
			t.Fatalf("frame %d: bad bitrate or rate index", n)
		}
		off += 144*bitrates[bi]*1000/rates[si] + int(h[2]>>1&1)
	}
	return n
}

func TestEmbeddings(t *testing.T) {
	srv := New(t)
	c := client(srv)
	embed := func(req openai.EmbeddingRequest) openai.EmbeddingResponse {
		t.Helper()
		resp, err := c.CreateEmbeddings(context.Background(), req)
		if err != nil {
			t.Fatalf("CreateEmbeddings: %v", err)
		}
		return resp
	}
	texts := []string{"the red kiln fires clay", "the red kiln fires pots", "stock markets fell today"}
	resp := embed(openai.EmbeddingRequest{Model: openai.SmallEmbedding3, Input: texts})
	if len(resp.Data) != 3 || len(resp.Data[0].Embedding) != 1536 || resp.Data[2].Index != 2 {
		t.Fatalf("got %d vectors of %d dims", len(resp.Data), len(resp.Data[0].Embedding))
	}
	if resp.Usage.PromptTokens == 0 || resp.Usage.TotalTokens != resp.Usage.PromptTokens {
		t.Errorf("usage = %+v", resp.Usage)
	}
	near, far := dot(resp.Data[0].Embedding, resp.Data[1].Embedding), dot(resp.Data[0].Embedding, resp.Data[2].Embedding)
	if math.Abs(dot(resp.Data[0].Embedding, resp.Data[0].Embedding)-1) > 1e-5 || near <= far {
		t.Errorf("similarities near %.3f far %.3f, want unit vectors with shared words closer", near, far)
	}

	short := embed(openai.EmbeddingRequest{Model: openai.SmallEmbedding3, Input: texts[0], Dimensions: 256})
	b64 := embed(openai.EmbeddingRequest{Model: openai.SmallEmbedding3, Input: []string{texts[0]}, Dimensions: 256,
		EncodingFormat: openai.EmbeddingEncodingFormatBase64})
	if len(short.Data[0].Embedding) != 256 || !equalVectors(short.Data[0].Embedding, b64.Data[0].Embedding) {
		t.Errorf("dimensions 256: float %d dims, base64 equal = %v", len(short.Data[0].Embedding),
			equalVectors(short.Data[0].Embedding, b64.Data[0].Embedding))
	}

	_, err := c.CreateEmbeddings(context.Background(), openai.EmbeddingRequest{Model: openai.AdaEmbeddingV2, Input: "x", Dimensions: 8})
	wantAPIError(t, err, http.StatusBadRequest, "")
	_, err = c.CreateEmbeddings(context.Background(), openai.EmbeddingRequest{Model: openai.SmallEmbedding3, Input: []string{}})
	wantAPIError(t, err, http.StatusBadRequest, "")
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func equalVectors(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestModels(t *testing.T) {
	srv := New(t, WithModels("llava:7b"))
	c := client(srv)
	list, err := c.ListModels(context.Background())
	if err != nil {
		t.Fatalf("ListModels: %v", err)
	}
	ids := map[string]bool{}
	for _, m := range list.Models {
		ids[m.ID] = m.Object == "model"
	}
	if !ids["gpt-4o-mini"] || !ids["llava:7b"] || len(ids) != len(DefaultModels())+1 {
		t.Errorf("models = %v", ids)
	}
	if m, err := c.GetModel(context.Background(), "llava:7b"); err != nil || m.ID != "llava:7b" {
		t.Errorf("GetModel = %+v, %v", m, err)
	}
	_, err = c.GetModel(context.Background(), "gpt-99")
	wantAPIError(t, err, http.StatusNotFound, "model_not_found")
	req := chatRequest1("hi")
	req.Model = "gpt-99"
	_, err = c.CreateChatCompletion(context.Background(), req)
	wantAPIError(t, err, http.StatusNotFound, "model_not_found")
}

// endpointCalls call each endpoint once through go-openai.
func endpointCalls(t *testing.T) map[string]func(context.Context, *openai.Client) error {
	src := pngBytes(t, 64, 64)
	return map[string]func(context.Context, *openai.Client) error{
		PathChat: func(ctx context.Context, c *openai.Client) error {
			_, err := c.CreateChatCompletion(ctx, chatRequest1("hi"))
			return err
		},
		PathImages: func(ctx context.Context, c *openai.Client) error {
			_, err := c.CreateImage(ctx, openai.ImageRequest{Prompt: "x", Size: "256x256", ResponseFormat: "b64_json"})
			return err
		},
		PathImageEdits: func(ctx context.Context, c *openai.Client) error {
			_, err := c.CreateEditImage(ctx, openai.ImageEditRequest{Prompt: "x", Size: "256x256",
				Image: namedReader{bytes.NewReader(src), "a.png", "image/png"}})
			return err
		},
		PathSpeech: func(ctx context.Context, c *openai.Client) error {
			resp, err := c.CreateSpeech(ctx, openai.CreateSpeechRequest{Model: "tts-1", Input: "hi", Voice: "alloy"})
			if err == nil {
				resp.Close()
			}
			return err
		},
		PathEmbeddings: func(ctx context.Context, c *openai.Client) error {
			_, err := c.CreateEmbeddings(ctx, openai.EmbeddingRequest{Model: openai.SmallEmbedding3, Input: "x"})
			return err
		},
		PathModels: func(ctx context.Context, c *openai.Client) error {
			_, err := c.ListModels(ctx)
			return err
		},
	}
}

// headerRecorder keeps the headers of the last response.
type headerRecorder struct {
	mu   sync.Mutex
	last http.Header
}

func (h *headerRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		h.mu.Lock()
		h.last = resp.Header.Clone()
		h.mu.Unlock()
	}
	return resp, err
}

func TestFaultsOnEveryEndpoint(t *testing.T) {
	faults := []struct {
		name       string
		step       Step
		status     int
		code, typ  string
		retryAfter string
	}{
		{"rate limited", Fail(429).RetryAfter(2), 429, "rate_limit_exceeded", "requests", "2"},
		{"rate limited ms", Fail(429).RetryAfterMS(250), 429, "rate_limit_exceeded", "requests", "1"},
		{"quota", Fail(429).Code("insufficient_quota"), 429, "insufficient_quota", "insufficient_quota", ""},
		{"server error", Fail(500), 500, "", "server_error", ""},
		{"overloaded", Fail(503).RetryAfter(1), 503, "", "server_error", "1"},
		{"content policy", ContentPolicy(), 400, "content_policy_violation", "invalid_request_error", ""},
		{"invalid key", InvalidAPIKey(), 401, "invalid_api_key", "invalid_request_error", ""},
	}
	for path, call := range endpointCalls(t) {
		for _, f := range faults {
			t.Run(path+"/"+f.name, func(t *testing.T) {
				srv := New(t)
				rec := &headerRecorder{}
				cfg := srv.ClientConfig()
				cfg.HTTPClient = &http.Client{Transport: rec}
				c := openai.NewClientWithConfig(cfg)
				srv.Script(path, f.step)
				e := wantAPIError(t, call(context.Background(), c), f.status, f.code)
				if e.Type != f.typ || e.Message == "" {
					t.Errorf("error type %q message %q, want type %q", e.Type, e.Message, f.typ)
				}
				if got := rec.last.Get("Retry-After"); got != f.retryAfter {
					t.Errorf("Retry-After = %q, want %q", got, f.retryAfter)
				}
				if err := call(context.Background(), c); err != nil {
					t.Errorf("the call after the scripted fault failed: %v", err)
				}
				if srv.Calls(path) != 2 {
					t.Errorf("Calls = %d, want 2", srv.Calls(path))
				}
			})
		}
	}
}

func TestEdgeErrorIsHTML(t *testing.T) {
	srv := New(t)
	srv.Script(PathChat, Fail(502))
	_, err := client(srv).CreateChatCompletion(context.Background(), chatRequest1("hi"))
	var re *openai.RequestError
	if !errors.As(err, &re) || re.HTTPStatusCode != 502 || !bytes.Contains(re.Body, []byte("502 Bad Gateway")) {
		t.Fatalf("error = %v (%T), want a RequestError with the 502 page", err, err)
	}
}

func TestScriptSequence(t *testing.T) {
	srv := New(t)
	c := client(srv)
	call := endpointCalls(t)[PathImages]
	srv.Script("images/generations", Fail(429).RetryAfter(1), Fail(500), OK())
	wants := []int{429, 500, 0, 0}
	for i, want := range wants {
		err := call(context.Background(), c)
		var e *openai.APIError
		switch {
		case want == 0 && err != nil:
			t.Errorf("call %d: %v, want success", i+1, err)
		case want != 0 && (!errors.As(err, &e) || e.HTTPStatusCode != want):
			t.Errorf("call %d: %v, want %d", i+1, err, want)
		}
	}
	var statuses []int
	for _, r := range srv.RequestsTo(PathImages) {
		statuses = append(statuses, r.Status)
	}
	if fmt.Sprint(statuses) != "[429 500 200 200]" || srv.Calls(PathImages) != 4 {
		t.Errorf("recorded statuses %v, calls %d", statuses, srv.Calls(PathImages))
	}
}

func TestChooseByPrompt(t *testing.T) {
	srv := New(t)
	failed := map[string]int{}
	var mu sync.Mutex
	srv.Choose(PathChat, func(r Request) Step {
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(r.Prompt(), "French") && failed["fr"] == 0 {
			failed["fr"]++
			return Fail(503)
		}
		return Reply("translated: " + r.Prompt())
	})
	c := client(srv)
	var wg sync.WaitGroup
	errs := make(map[string]error)
	for _, lang := range []string{"German", "French", "Spanish"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.CreateChatCompletion(context.Background(), chatRequest1("Translate to "+lang))
			mu.Lock()
			errs[lang] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	if errs["German"] != nil || errs["Spanish"] != nil {
		t.Errorf("other languages failed: %v", errs)
	}
	wantAPIError(t, errs["French"], 503, "")
	resp, err := c.CreateChatCompletion(context.Background(), chatRequest1("Translate to French"))
	if err != nil || resp.Choices[0].Message.Content != "translated: Translate to French" {
		t.Errorf("retry = %v, %v", resp.Choices, err)
	}
}

func TestAPIKeyCheck(t *testing.T) {
	srv := New(t, WithAPIKey("sk-right-key-123456"))
	call := endpointCalls(t)[PathChat]
	tests := []struct {
		key, code string
	}{
		{"sk-wrong-key-123456", "invalid_api_key"},
		{"", ""},
	}
	for _, tc := range tests {
		cfg := srv.ClientConfig()
		c := openai.NewClientWithConfig(openai.ClientConfig{BaseURL: cfg.BaseURL, HTTPClient: cfg.HTTPClient, APIType: openai.APITypeOpenAI})
		if tc.key != "" {
			c = openai.NewClientWithConfig(withKey(cfg, tc.key))
		}
		e := wantAPIError(t, call(context.Background(), c), 401, tc.code)
		if strings.Contains(e.Message, tc.key) && tc.key != "" {
			t.Errorf("the 401 message shows the whole key: %q", e.Message)
		}
	}
	if err := call(context.Background(), client(srv)); err != nil {
		t.Errorf("the right key failed: %v", err)
	}
	if got := srv.RequestsTo(PathChat)[2].Header.Get("Authorization"); got != "Bearer sk-right-key-123456" {
		t.Errorf("recorded Authorization = %q", got)
	}
	open := New(t, WithAPIKey(""))
	if err := call(context.Background(), openai.NewClientWithConfig(withKey(open.ClientConfig(), "anything"))); err != nil {
		t.Errorf("a server without a key check refused: %v", err)
	}
}

func withKey(cfg openai.ClientConfig, key string) openai.ClientConfig {
	c := openai.DefaultConfig(key)
	c.BaseURL, c.HTTPClient = cfg.BaseURL, cfg.HTTPClient
	return c
}

func TestDelayRespectsCancellation(t *testing.T) {
	srv := New(t)
	c := client(srv)
	srv.Delay(PathChat, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.CreateChatCompletion(ctx, chatRequest1("slow"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want the deadline", err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("the client waited %v", waited)
	}
	waitFor(t, func() bool { r := srv.RequestsTo(PathChat); return len(r) == 1 && r[0].Canceled })

	srv.Delay(PathChat, 0)
	srv.Script(PathChat, OK().After(50*time.Millisecond))
	start = time.Now()
	if _, err := c.CreateChatCompletion(context.Background(), chatRequest1("a bit slow")); err != nil {
		t.Fatalf("slow step: %v", err)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("the slow step answered after %v, want at least 50ms", waited)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met in 5 s")
}

func TestRecordsRequests(t *testing.T) {
	srv := New(t)
	c := client(srv)
	calls := endpointCalls(t)
	for _, path := range []string{PathChat, PathSpeech, PathEmbeddings, PathChat} {
		if err := calls[path](context.Background(), c); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	all := srv.Requests()
	if len(all) != 4 || all[3].Path != PathChat || all[3].Call != 2 || all[0].Call != 1 {
		t.Fatalf("requests = %d, last %s call %d", len(all), all[3].Path, all[3].Call)
	}
	var body openai.ChatCompletionRequest
	if err := all[0].Decode(&body); err != nil || body.Model != "gpt-4o-mini" || all[0].JSON["model"] != "gpt-4o-mini" {
		t.Errorf("decoded chat body = %+v, %v", body, err)
	}
	prompts := []string{all[0].Prompt(), all[1].Prompt(), all[2].Prompt()}
	if fmt.Sprint(prompts) != "[hi hi x]" {
		t.Errorf("prompts = %q", prompts)
	}
	for _, r := range all {
		if r.Header.Get("Authorization") != "Bearer "+DefaultAPIKey || r.Status != 200 || r.Method != http.MethodPost {
			t.Errorf("%s: auth %q status %d", r.Path, r.Header.Get("Authorization"), r.Status)
		}
	}
}

func TestUnknownEndpoint(t *testing.T) {
	srv := New(t)
	req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/chat/completions", nil)
	req.Header.Set("Authorization", "Bearer "+DefaultAPIKey)
	resp, err := srv.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Error apiError }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 404 || body.Error.Message != "Invalid URL (GET /v1/chat/completions)" || body.Error.Code != nil {
		t.Errorf("GET chat = %d %+v", resp.StatusCode, body.Error)
	}
}

// errorCatcher is a testing.TB that records Errorf instead of failing.
type errorCatcher struct {
	*testing.T
	mu     sync.Mutex
	errors []string
}

func (e *errorCatcher) Errorf(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errors = append(e.errors, fmt.Sprintf(format, args...))
}

func TestScriptUnknownPathFailsTheTest(t *testing.T) {
	catcher := &errorCatcher{T: t}
	srv := New(catcher)
	srv.Script("/v1/image/generations", Fail(500))
	srv.Script("embeddings", Fail(500))
	if len(catcher.errors) != 1 || !strings.Contains(catcher.errors[0], `"/v1/image/generations" is not an endpoint`) {
		t.Errorf("errors = %q, want one about the typo", catcher.errors)
	}
}
