package api_test

import (
	"bytes"
	"encoding/json"
	"image"
	_ "image/png" // decodes the generated images
	"net/http"
	"strings"
	"testing"

	"github.com/kilnhq/kiln/ai/aitest"
	"github.com/kilnhq/kiln/ai/espeak"
	"github.com/kilnhq/kiln/content/generate"
)

// genJob posts body to a media generation route of site and returns the
// job it answers 202 with.
func (b *bundle) genJob(t tenant, path string, body any) map[string]any {
	b.t.Helper()
	res := b.expect(http.StatusAccepted, req{Method: "POST", Path: path, Auth: t.Token, Body: body})
	j := res.JSON(b.t)
	if res.Header.Get("Location") != j["urls"].(map[string]any)["self"] {
		b.t.Fatalf("Location %q is not the job's url", res.Header.Get("Location"))
	}
	return j
}

// succeeded awaits job id and fails unless it succeeded; it returns the
// job and its result.
func (b *bundle) succeeded(t tenant, id string) (job, result map[string]any) {
	b.t.Helper()
	j := b.await(t, id)
	if j["status"] != "succeeded" {
		b.t.Fatalf("job %s is %v: %v", id, j["status"], j["error"])
	}
	return j, j["result"].(map[string]any)
}

// view fetches a media file's bytes and its served type.
func (b *bundle) view(t tenant, site, id string) ([]byte, string) {
	b.t.Helper()
	res := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/" + site + "/media/" + id + "/view", Auth: t.Token})
	return res.Body, res.Header.Get("Content-Type")
}

// charged returns a final job's credits.charged (0 when released).
func charged(j map[string]any) float64 {
	c, _ := j["credits"].(map[string]any)["charged"].(float64)
	return c
}

// pngSize decodes a PNG's header and fails unless it is one.
func pngSize(t *testing.T, data []byte) (int, int) {
	t.Helper()
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || format != "png" {
		t.Fatalf("not a PNG (%s, %v): %q", format, err, data[:min(16, len(data))])
	}
	return cfg.Width, cfg.Height
}

func TestMediaGenerateImages(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	site := b.site(acme, "blog")
	j := b.genJob(acme, "/api/v1/sites/blog/media/generate",
		map[string]any{"prompt": "a kiln at dawn", "n": 2, "size": "1536x1024", "style": "watercolour", "metadata": map[string]any{"ref": 7}})
	if j["kind"] != generate.KindImageGenerate || j["credits"].(map[string]any)["reserved"] != float64(2*generate.PriceImage) {
		t.Fatalf("submitted job: %v", j)
	}
	done, res := b.succeeded(acme, j["id"].(string))
	ids := res["media_ids"].([]any)
	if len(ids) != 2 || len(res["media"].([]any)) != 2 || res["images"] != float64(2) {
		t.Fatalf("result %v", res)
	}
	for _, id := range ids {
		data, ctype := b.view(acme, site, id.(string))
		if w, h := pngSize(t, data); w != 1536 || h != 1024 || ctype != "image/png" {
			t.Fatalf("image %s: %dx%d %s", id, w, h, ctype)
		}
		m := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/media/" + id.(string), Auth: acme.Token}).JSON(t)
		if m["title"] != "a kiln at dawn" || m["width"] != float64(1536) {
			t.Fatalf("media row %v", m)
		}
	}
	if p := b.ai.RequestsTo(aitest.PathImages)[0].JSON["prompt"]; p != "a kiln at dawn\n\nStyle: watercolour." {
		t.Fatalf("prompt sent %q", p)
	}
	// Credits captured from usage: two images at the image price.
	if charged(done) != float64(2*generate.PriceImage) || b.balance(acme)["balance"] != float64(100-2*generate.PriceImage) {
		t.Fatalf("charged %v, balance %v", done["credits"], b.balance(acme)["balance"])
	}
	b.checkLedger()
}

// A 429 with Retry-After is waited out and the job succeeds on its first
// attempt, charged once.
func TestMediaGenerateRateLimitedThenOK(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	b.site(acme, "blog")
	b.ai.Script(aitest.PathImages, aitest.Fail(http.StatusTooManyRequests).RetryAfter(1))
	j := b.genJob(acme, "/api/v1/sites/blog/media/generate", map[string]any{"prompt": "a fox"})
	done, res := b.succeeded(acme, j["id"].(string))
	reqs := b.ai.RequestsTo(aitest.PathImages)
	if len(reqs) != 2 || reqs[0].Status != http.StatusTooManyRequests || reqs[1].Status != http.StatusOK || len(res["media_ids"].([]any)) != 1 {
		t.Fatalf("%d image requests, result %v", len(reqs), res)
	}
	if charged(done) != generate.PriceImage || done["attempt"] != float64(1) {
		t.Fatalf("charged %v after attempt %v", done["credits"], done["attempt"])
	}
	b.checkLedger()
}

// A content-policy refusal and a refused key fail the job at once (no
// retry), save nothing and release the credits.
func TestMediaGenerateProviderRefusals(t *testing.T) {
	cases := []struct {
		name string
		path string
		step aitest.Step
		code string
	}{
		{"content policy on images", aitest.PathImages, aitest.ContentPolicy(), "content_rejected"},
		{"bad key on images", aitest.PathImages, aitest.InvalidAPIKey(), "provider_auth_failed"},
		{"content policy on speech", aitest.PathSpeech, aitest.ContentPolicy(), "content_rejected"},
		{"bad key on vision", aitest.PathChat, aitest.InvalidAPIKey(), "provider_auth_failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := setup(t)
			b.startWorker()
			acme := b.signup("Acme")
			b.site(acme, "blog")
			path, body := "/api/v1/sites/blog/media/generate", any(map[string]any{"prompt": "a fox"})
			switch c.path {
			case aitest.PathSpeech:
				path, body = "/api/v1/sites/blog/media/tts", map[string]any{"text": "Hello there."}
			case aitest.PathChat:
				id := b.upload(acme, "blog", "logo.png", testPNG(t, 8, 8), nil).JSON(t)["id"].(string)
				path, body = "/api/v1/sites/blog/media/"+id+"/generate-metadata", nil
			}
			rowsBefore, _ := b.mediaState()
			b.ai.Script(c.path, c.step)
			j := b.genJob(acme, path, body)
			done := b.await(acme, j["id"].(string))
			e, _ := done["error"].(map[string]any)
			if done["status"] != "failed" || e["code"] != c.code || done["attempt"] != float64(1) || b.ai.Calls(c.path) != 1 {
				t.Fatalf("job %v (%v) after attempt %v and %d calls, want failed %s once", done["status"], e, done["attempt"], b.ai.Calls(c.path), c.code)
			}
			if rows, _ := b.mediaState(); rows != rowsBefore || charged(done) != 0 || b.balance(acme)["balance"] != float64(100) {
				t.Fatalf("after a refusal: %d media rows (was %d), charged %v, balance %v", rows, rowsBefore, done["credits"], b.balance(acme)["balance"])
			}
			b.checkLedger()
		})
	}
}

func TestMediaEditWithAIVersions(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	site := b.site(acme, "blog")
	orig := b.upload(acme, "blog", "logo.png", testPNG(t, 40, 30), map[string]string{"title": "Logo"}).JSON(t)["id"].(string)
	j := b.genJob(acme, "/api/v1/sites/blog/media/"+orig+"/edit-with-ai", map[string]any{"instruction": "make it blue"})
	done, res := b.succeeded(acme, j["id"].(string))
	v2 := res["media_id"].(string)
	if res["version"] != float64(2) || res["root_media_id"] != orig || charged(done) != generate.PriceImage {
		t.Fatalf("edit result %v, credits %v", res, done["credits"])
	}
	if data, _ := b.view(acme, site, v2); func() bool { w, h := pngSize(t, data); return w != 40 || h != 30 }() {
		t.Fatal("the edited image does not keep the original's size")
	}
	if edits := b.ai.RequestsTo(aitest.PathImageEdits); len(edits) != 1 || !strings.Contains(edits[0].Form["prompt"], "make it blue") {
		t.Fatalf("edit requests %d", len(edits))
	}
	// Editing the new version adds version 3 to the same chain.
	j3 := b.genJob(acme, "/api/v1/sites/blog/media/"+v2+"/edit-with-ai", map[string]any{"instruction": "add a hat"})
	_, res3 := b.succeeded(acme, j3["id"].(string))
	for _, from := range []string{orig, v2, res3["media_id"].(string)} {
		list := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/media/" + from + "/image-versions", Auth: acme.Token}).JSON(t)["data"].([]any)
		if len(list) != 3 {
			t.Fatalf("versions from %s: %v", from, list)
		}
		for i, want := range []string{orig, v2, res3["media_id"].(string)} {
			v := list[i].(map[string]any)
			if v["version"] != float64(i+1) || v["media_id"] != want || v["url"] != "/api/v1/sites/"+site+"/media/"+want+"/view" {
				t.Fatalf("version %d from %s: %v", i+1, from, v)
			}
		}
		if list[2].(map[string]any)["instruction"] != "add a hat" || list[2].(map[string]any)["source_media_id"] != v2 {
			t.Fatalf("version 3: %v", list[2])
		}
	}
	b.checkLedger()
}

func TestMediaGenerateMetadata(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	b.site(acme, "blog")
	b.ai.SetReply(`{"alt_text":"A grey square.","caption":"Square","tags":["square","grey"]}`)
	id := b.upload(acme, "blog", "square.png", testPNG(t, 16, 16), nil).JSON(t)["id"].(string)
	j := b.genJob(acme, "/api/v1/sites/blog/media/"+id+"/generate-metadata", nil)
	done, res := b.succeeded(acme, j["id"].(string))
	m := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/media/" + id, Auth: acme.Token}).JSON(t)
	tags, _ := json.Marshal(m["tags"])
	if m["alt_text"] != "A grey square." || m["caption"] != "Square" || string(tags) != `["square","grey"]` {
		t.Fatalf("media after metadata: %v", m)
	}
	chat := b.ai.RequestsTo(aitest.PathChat)
	if len(chat) != 1 || !strings.Contains(string(chat[0].Body), "data:image/png;base64,") {
		t.Fatal("the vision model did not get the image")
	}
	tokens := res["tokens"].(float64)
	want := float64(int(tokens+999) / 1000 * generate.PriceMetadataTokens)
	if tokens <= 0 || charged(done) != want || charged(done) > float64(generate.MetadataUnits*generate.PriceMetadataTokens) {
		t.Fatalf("charged %v for %v tokens, want %v", done["credits"], tokens, want)
	}
	b.checkLedger()
}

func TestMediaTextToSpeechWithProvider(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	site := b.site(acme, "blog")
	for _, format := range []string{"wav", "mp3"} {
		j := b.genJob(acme, "/api/v1/sites/blog/media/tts", map[string]any{"text": "Kiln turns text into speech.", "voice": "nova", "format": format})
		done, res := b.succeeded(acme, j["id"].(string))
		data, ctype := b.view(acme, site, res["media_id"].(string))
		if res["engine"] != generate.EngineProvider || res["duration_seconds"].(float64) <= 0 || charged(done) != generate.PriceSpeech {
			t.Fatalf("%s result %v, credits %v", format, res, done["credits"])
		}
		switch format {
		case "wav":
			info, err := espeak.ParseWAV(data)
			if err != nil || info.Duration <= 0 || ctype != "audio/wav" {
				t.Fatalf("WAV: %+v, %v, %s", info, err, ctype)
			}
		case "mp3":
			mp3 := bytes.HasPrefix(data, []byte("ID3")) || (len(data) > 1 && data[0] == 0xFF && data[1]&0xE0 == 0xE0)
			if !mp3 || ctype != "audio/mpeg" {
				t.Fatalf("MP3: %s, head %x", ctype, data[:min(4, len(data))])
			}
		}
	}
	if reqs := b.ai.RequestsTo(aitest.PathSpeech); len(reqs) != 2 || reqs[0].JSON["voice"] != "nova" {
		t.Fatalf("speech requests: %d", len(reqs))
	}
	b.checkLedger()
}

// With no API key at all, image, edit and metadata jobs are refused at
// submit with a 503 naming the setting, while speech works locally.
func TestMediaGenerationWithoutProvider(t *testing.T) {
	b := setupWith(t, bundleOptions{noProvider: true})
	b.startWorker()
	acme := b.signup("Acme")
	site := b.site(acme, "blog")
	img := b.upload(acme, "blog", "logo.png", testPNG(t, 8, 8), nil).JSON(t)["id"].(string)
	for path, body := range map[string]any{
		"/api/v1/sites/blog/media/generate":                      map[string]any{"prompt": "a fox"},
		"/api/v1/sites/blog/media/" + img + "/edit-with-ai":      map[string]any{"instruction": "blue"},
		"/api/v1/sites/blog/media/" + img + "/generate-metadata": nil,
	} {
		res := b.expect(http.StatusServiceUnavailable, req{Method: "POST", Path: path, Auth: acme.Token, Body: body})
		e := res.JSON(t)["error"].(map[string]any)
		details, _ := e["details"].(map[string]any)
		if e["code"] != "provider_not_configured" || !strings.Contains(e["message"].(string), "KILN_OPENAI_API_KEY") || details["setting"] != "KILN_OPENAI_API_KEY" {
			t.Fatalf("%s: %v", path, e)
		}
	}
	if list := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs", Auth: acme.Token}).JSON(t)["data"].([]any); len(list) != 0 {
		t.Fatalf("refused submits made %d jobs", len(list))
	}
	j := b.genJob(acme, "/api/v1/sites/blog/media/tts", map[string]any{"text": "Hello from Kiln."})
	done, res := b.succeeded(acme, j["id"].(string))
	data, ctype := b.view(acme, site, res["media_id"].(string))
	info, err := espeak.ParseWAV(data)
	if err != nil || info.Duration <= 0 || ctype != "audio/wav" || res["engine"] != generate.EngineLocal || charged(done) != generate.PriceSpeech {
		t.Fatalf("local speech: %+v %v %s, result %v, credits %v", info, err, ctype, res, done["credits"])
	}
	if res["duration_seconds"].(float64) <= 0 || b.ai.Calls(aitest.PathSpeech) != 0 {
		t.Fatalf("result %v, provider calls %d", res, b.ai.Calls(aitest.PathSpeech))
	}
	bad := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/sites/blog/media/tts", Auth: acme.Token,
		Body: map[string]any{"text": "Hi.", "voice": "klingon"}})
	if _, ok := bad.Fields(t)["input.voice"]; !ok {
		t.Fatalf("an unknown espeak-ng voice: %s", bad.Body)
	}
	b.checkLedger()
}

func TestMediaGenerateValidation(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	b.site(acme, "blog")
	globex := b.signup("Globex")
	b.site(globex, "blog")
	img := b.upload(acme, "blog", "logo.png", testPNG(t, 8, 8), nil).JSON(t)["id"].(string)
	text := b.upload(acme, "blog", "notes.txt", []byte("words\n"), nil).JSON(t)["id"].(string)
	theirs := b.upload(globex, "blog", "theirs.png", testPNG(t, 8, 8), nil).JSON(t)["id"].(string)
	base := "/api/v1/sites/blog/media/"
	cases := []struct {
		name   string
		path   string
		body   any
		status int
		field  string
	}{
		{"empty prompt", base + "generate", map[string]any{"prompt": " "}, 422, "input.prompt"},
		{"too many images", base + "generate", map[string]any{"prompt": "x", "n": 5}, 422, "input.n"},
		{"no images", base + "generate", map[string]any{"prompt": "x", "n": 0}, 422, "input.n"},
		{"unknown size", base + "generate", map[string]any{"prompt": "x", "size": "999x999"}, 422, "input.size"},
		{"unknown field", base + "generate", map[string]any{"prompt": "x", "seed": 3}, 422, "seed"},
		{"bad priority", base + "generate", map[string]any{"prompt": "x", "priority": "urgent"}, 422, "priority"},
		{"text too long", base + "tts", map[string]any{"text": strings.Repeat("a", generate.MaxSpeechText+1)}, 422, "input.text"},
		{"no text", base + "tts", map[string]any{"voice": "nova"}, 422, "input.text"},
		{"bad format", base + "tts", map[string]any{"text": "hi", "format": "ogg"}, 422, "input.format"},
		{"bad voice", base + "tts", map[string]any{"text": "hi", "voice": "-v x"}, 422, "input.voice"},
		{"empty instruction", base + img + "/edit-with-ai", map[string]any{"instruction": ""}, 422, "input.instruction"},
		{"edit of a text file", base + text + "/edit-with-ai", map[string]any{"instruction": "blue"}, 422, "id"},
		{"metadata of a text file", base + text + "/generate-metadata", nil, 422, "id"},
		{"bad language", base + img + "/generate-metadata", map[string]any{"language": "Klingon please"}, 422, "input.language"},
		{"another tenant's media: edit", base + theirs + "/edit-with-ai", map[string]any{"instruction": "blue"}, 404, ""},
		{"another tenant's media: metadata", base + theirs + "/generate-metadata", nil, 404, ""},
		{"another tenant's media: versions", base + theirs + "/image-versions", nil, 404, ""},
		{"missing media", base + "med_missing/edit-with-ai", map[string]any{"instruction": "blue"}, 404, ""},
	}
	for _, c := range cases {
		method := "POST"
		if strings.HasSuffix(c.path, "/image-versions") {
			method = "GET"
		}
		res := b.expect(c.status, req{Method: method, Path: c.path, Auth: acme.Token, Body: c.body})
		if _, ok := res.Fields(t)[c.field]; c.field != "" && !ok {
			t.Errorf("%s: fields %v, want %s", c.name, res.Fields(t), c.field)
		}
	}
	if rows, _ := b.mediaState(); rows != 3 || b.balance(acme)["balance"] != float64(100) {
		t.Fatalf("refusals left %d media rows (want the 3 uploads) and balance %v", rows, b.balance(acme)["balance"])
	}
	if list := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs", Auth: acme.Token}).JSON(t)["data"].([]any); len(list) != 0 {
		t.Fatalf("refused submits made %d jobs", len(list))
	}
}
