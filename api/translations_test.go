package api_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kilnhq/kiln/ai/aitest"
	"github.com/kilnhq/kiln/content/translate"
	"github.com/kilnhq/kiln/content/translate/translatetest"
)

// trMasterBody is a master post's body with what a translation must keep.
const trMasterBody = "# Kiln\n\nKiln runs [jobs](https://kiln.dev/jobs) in the background.\n\n" +
	"## Install\n\n- Get `kiln`\n- Start it:\n\n```sh\nkiln dev\n```\n\n![Console](https://kiln.dev/c.png)\n"

// trSetup is a bundle with a worker, the chat model answering through
// translatetest, and Acme with a site and an English post.
func trSetup(t *testing.T) (*bundle, tenant, string) {
	t.Helper()
	b := setup(t)
	b.startWorker()
	b.ai.SetReplyFunc(translatetest.Reply)
	acme := b.signup("Acme")
	b.site(acme, "blog")
	post := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/sites/blog/posts", Auth: acme.Token,
		Body: map[string]any{"title": "Kiln in short", "body_markdown": trMasterBody, "excerpt": "What Kiln is."}}).JSON(t)
	return b, acme, post["id"].(string)
}

// trTranslate posts to a translate route and returns the job accepted.
func (b *bundle) trTranslate(t tenant, path string, body any) map[string]any {
	b.t.Helper()
	res := b.expect(http.StatusAccepted, req{Method: "POST", Path: path, Auth: t.Token, Body: body})
	j := res.JSON(b.t)
	if res.Header.Get("Location") != j["urls"].(map[string]any)["self"] {
		b.t.Fatalf("Location %q is not the job's url", res.Header.Get("Location"))
	}
	return j
}

// trDone awaits a job and fails unless it ended with status want.
func (b *bundle) trDone(t tenant, id, want string) map[string]any {
	b.t.Helper()
	j := b.await(t, id)
	if j["status"] != want {
		b.t.Fatalf("job %s is %v (%v), want %s", id, j["status"], j["error"], want)
	}
	return j
}

// trLanguages returns a translate job's result entries by language.
func trLanguages(t *testing.T, j map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, e := range j["result"].(map[string]any)["translations"].([]any) {
		m := e.(map[string]any)
		out[m["language"].(string)] = m
	}
	return out
}

// trList lists a master's translations by language.
func (b *bundle) trList(t tenant, path string) map[string]map[string]any {
	b.t.Helper()
	out := map[string]map[string]any{}
	for _, e := range b.expect(http.StatusOK, req{Method: "GET", Path: path, Auth: t.Token}).JSON(b.t)["data"].([]any) {
		m := e.(map[string]any)
		out[m["language"].(string)] = m
	}
	return out
}

// creditsOf returns a job's reserved and charged credits.
func creditsOf(j map[string]any) (reserved, charged float64) {
	c := j["credits"].(map[string]any)
	charged, _ = c["charged"].(float64)
	return c["reserved"].(float64), charged
}

// chatCallsFor counts the chat requests that asked for language lang.
func chatCallsFor(b *bundle, lang string) int {
	n := 0
	for _, r := range b.ai.RequestsTo(aitest.PathChat) {
		if strings.Contains(r.Prompt(), `"target_language":"`+lang+`"`) {
			n++
		}
	}
	return n
}

// TestTranslationFanOut translates a post into three languages through the
// API and the worker, one child job per language. French fails once (a
// 500 with a Retry-After longer than the provider waits in process) and
// succeeds on its child's second attempt; the parent succeeds with three
// linked posts, listed, and is charged the sum of its children's usage.
func TestTranslationFanOut(t *testing.T) {
	b, acme, postID := trSetup(t)
	var mu sync.Mutex
	frenchCalls := 0
	b.ai.Choose(aitest.PathChat, func(r aitest.Request) aitest.Step {
		if !strings.Contains(r.Prompt(), `"target_language":"fr"`) {
			return aitest.OK()
		}
		mu.Lock()
		defer mu.Unlock()
		if frenchCalls++; frenchCalls == 1 {
			return aitest.Fail(500).RetryAfter(120)
		}
		return aitest.OK()
	})
	base := "/api/v1/sites/blog/translations/posts/" + postID
	j := b.trTranslate(acme, base+"/translate", map[string]any{"target_languages": []string{"de", "fr", "pt-br"}, "keep": []string{"Kiln"}})
	if reserved, _ := creditsOf(j); j["kind"] != translate.KindPost || reserved != 3*translate.PricePostLanguage {
		t.Fatalf("job %v reserving %v, want %s reserving %d", j["kind"], reserved, translate.KindPost, 3*translate.PricePostLanguage)
	}
	j = b.trDone(acme, j["id"].(string), "succeeded")

	langs := trLanguages(t, j)
	var sum float64
	for _, lang := range []string{"de", "fr", "pt-BR"} {
		r := langs[lang]
		if r == nil || r["status"] != "succeeded" || r["translated_post_id"] == nil {
			t.Fatalf("%s: %v", lang, r)
		}
		child := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs/" + r["job_id"].(string), Auth: acme.Token}).JSON(t)
		wantAttempts := 1.0
		if lang == "fr" {
			wantAttempts = 2
		}
		if child["kind"] != translate.KindPostLanguage || child["status"] != "succeeded" || child["attempt"] != wantAttempts ||
			child["parent_id"] != j["id"] {
			t.Errorf("%s child: kind %v status %v attempt %v parent %v, want attempt %v", lang, child["kind"], child["status"],
				child["attempt"], child["parent_id"], wantAttempts)
		}
		if r["credits"].(float64) < 1 || r["credits"].(float64) > translate.PricePostLanguage {
			t.Errorf("%s used %v credits", lang, r["credits"])
		}
		sum += r["credits"].(float64)

		post := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/posts/" + r["translated_post_id"].(string),
			Auth: acme.Token}).JSON(t)
		body := post["body_markdown"].(string)
		if post["language"] != lang || post["title"] != "«"+lang+"» Kiln in short" || post["status"] != "draft" ||
			!strings.Contains(body, "```sh\nkiln dev\n```") || !strings.Contains(body, "[jobs](https://kiln.dev/jobs)") ||
			!strings.Contains(body, "## «"+lang+"» Install") || !strings.Contains(body, "![Console](https://kiln.dev/c.png)") {
			t.Errorf("%s post: language %v title %v status %v body\n%s", lang, post["language"], post["title"], post["status"], body)
		}
	}
	if frenchCalls != 2 || chatCallsFor(b, "de") != 1 {
		t.Errorf("French asked %d times, German %d; want 2 and 1", frenchCalls, chatCallsFor(b, "de"))
	}
	if reserved, charged := creditsOf(j); charged != sum || charged > reserved {
		t.Errorf("charged %v of %v, want the languages' sum %v", charged, reserved, sum)
	}
	if bal := b.balance(acme); bal["balance"] != 100-sum || bal["reserved"] != 0.0 {
		t.Errorf("balance %v, want %v with nothing reserved", bal, 100-sum)
	}

	list := b.trList(acme, base)
	if len(list) != 3 {
		t.Fatalf("%d translations listed, want 3", len(list))
	}
	for lang, tr := range list {
		if tr["status"] != "succeeded" || tr["stale"] != false || tr["translated_at"] == nil ||
			tr["translated_post_id"] != langs[lang]["translated_post_id"] || tr["master_id"] != postID {
			t.Errorf("%s listed as %v", lang, tr)
		}
	}
	b.checkLedger()
}

// TestTranslationLanguageFails: a language the provider always refuses
// (content policy) is listed failed in the parent's result and costs
// nothing; when every language fails, the parent fails with
// translation_failed and releases everything.
func TestTranslationLanguageFails(t *testing.T) {
	b, acme, postID := trSetup(t)
	b.ai.Choose(aitest.PathChat, func(r aitest.Request) aitest.Step {
		if strings.Contains(r.Prompt(), `"target_language":"it"`) {
			return aitest.ContentPolicy()
		}
		return aitest.OK()
	})
	base := "/api/v1/sites/blog/translations/posts/" + postID
	j := b.trTranslate(acme, base+"/translate", map[string]any{"target_languages": []string{"de", "it"}})
	j = b.trDone(acme, j["id"].(string), "succeeded")
	langs := trLanguages(t, j)
	it, de := langs["it"], langs["de"]
	if it["status"] != "failed" || it["error"].(map[string]any)["code"] != "content_rejected" || it["credits"] != 0.0 || it["translated_post_id"] != nil {
		t.Errorf("Italian: %v", it)
	}
	if de["status"] != "succeeded" {
		t.Errorf("German: %v", de)
	}
	if res := j["result"].(map[string]any); res["succeeded"] != 1.0 || res["failed"] != 1.0 {
		t.Errorf("result counts %v / %v", res["succeeded"], res["failed"])
	}
	reserved, charged := creditsOf(j)
	if reserved != 2*translate.PricePostLanguage || charged != de["credits"] || charged > translate.PricePostLanguage {
		t.Errorf("reserved %v charged %v; German used %v: Italian's share must be released", reserved, charged, de["credits"])
	}
	list := b.trList(acme, base)
	if list["it"]["status"] != "failed" || list["it"]["error"].(map[string]any)["code"] != "content_rejected" || list["de"]["status"] != "succeeded" {
		t.Errorf("listed: it %v, de %v", list["it"], list["de"])
	}

	all := b.trTranslate(acme, base+"/translate", map[string]any{"target_languages": []string{"it"}})
	all = b.trDone(acme, all["id"].(string), "failed")
	if code := all["error"].(map[string]any)["code"]; code != "translation_failed" {
		t.Errorf("every language failed: %v", all["error"])
	}
	if _, charged := creditsOf(all); charged != 0 {
		t.Errorf("a translation with no language done charged %v", charged)
	}
	if bal := b.balance(acme); bal["balance"] != 100-charged || bal["reserved"] != 0.0 {
		t.Errorf("balance %v, want %v", bal, 100-charged)
	}
	b.checkLedger()
}

// TestTranslationSync re-translates only the stale languages after the
// master is updated, into the same translated post, and says so when
// nothing is stale.
func TestTranslationSync(t *testing.T) {
	b, acme, postID := trSetup(t)
	base := "/api/v1/sites/blog/translations/posts/" + postID
	de := b.trTranslate(acme, base+"/translate", map[string]any{"target_languages": []string{"de"}, "keep": []string{"Kiln"}})
	de = b.trDone(acme, de["id"].(string), "succeeded")
	dePost := trLanguages(t, de)["de"]["translated_post_id"]

	upToDate := b.expect(http.StatusOK, req{Method: "POST", Path: base + "/sync-translations", Auth: acme.Token}).JSON(t)
	if stale, _ := upToDate["stale"].([]any); stale == nil || len(stale) != 0 {
		t.Fatalf("sync with nothing stale: %v", upToDate)
	}

	b.expect(http.StatusOK, req{Method: "PATCH", Path: "/api/v1/sites/blog/posts/" + postID, Auth: acme.Token,
		Body: map[string]any{"title": "Kiln, briefly"}})
	fr := b.trTranslate(acme, base+"/translate", map[string]any{"target_languages": []string{"fr"}})
	b.trDone(acme, fr["id"].(string), "succeeded")
	list := b.trList(acme, base)
	if list["de"]["stale"] != true || list["fr"]["stale"] != false {
		t.Fatalf("after the update: de stale %v, fr stale %v", list["de"]["stale"], list["fr"]["stale"])
	}

	deCalls, frCalls := chatCallsFor(b, "de"), chatCallsFor(b, "fr")
	sync := b.trTranslate(acme, base+"/sync-translations", nil)
	input := sync["input"].(map[string]any)
	if !slices.Equal(toStrings(input["target_languages"]), []string{"de"}) || !slices.Equal(toStrings(input["keep"]), []string{"Kiln"}) {
		t.Fatalf("sync input %v, want only de, keeping Kiln", input)
	}
	sync = b.trDone(acme, sync["id"].(string), "succeeded")
	if got := trLanguages(t, sync)["de"]["translated_post_id"]; got != dePost {
		t.Errorf("sync wrote post %v, want the German post %v", got, dePost)
	}
	if chatCallsFor(b, "de") != deCalls+1 || chatCallsFor(b, "fr") != frCalls {
		t.Errorf("sync asked German %d and French %d more times, want 1 and 0", chatCallsFor(b, "de")-deCalls, chatCallsFor(b, "fr")-frCalls)
	}
	post := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/posts/" + dePost.(string), Auth: acme.Token}).JSON(t)
	if post["title"] != "«de» Kiln, briefly" {
		t.Errorf("German title after sync: %v", post["title"])
	}
	for lang, tr := range b.trList(acme, base) {
		if tr["stale"] != false {
			t.Errorf("%s still stale after sync", lang)
		}
	}
	b.expect(http.StatusOK, req{Method: "POST", Path: base + "/sync-translations", Auth: acme.Token, Body: map[string]any{}})
}

func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// TestTranslationMedia translates a media item's title, alt text and
// caption, lists them, re-translates after an update, and refuses an item
// with nothing to translate.
func TestTranslationMedia(t *testing.T) {
	b, acme, _ := trSetup(t)
	med := b.upload(acme, "blog", "note.txt", []byte("Acme's notes"),
		map[string]string{"title": "Kiln console", "alt_text": "The job list", "caption": "Jobs at work"}).JSON(t)
	base := "/api/v1/sites/blog/translations/media/" + med["id"].(string)
	j := b.trTranslate(acme, base+"/translate", map[string]any{"target_languages": []string{"fr", "ja"}})
	if reserved, _ := creditsOf(j); j["kind"] != translate.KindMedia || reserved != 2*translate.PriceMediaLanguage {
		t.Fatalf("job %v reserving %v", j["kind"], reserved)
	}
	j = b.trDone(acme, j["id"].(string), "succeeded")
	if _, charged := creditsOf(j); charged != 2*translate.PriceMediaLanguage {
		t.Errorf("charged %v", charged)
	}
	list := b.trList(acme, base)
	for _, lang := range []string{"fr", "ja"} {
		f, _ := list[lang]["fields"].(map[string]any)
		if list[lang]["status"] != "succeeded" || f["title"] != "«"+lang+"» Kiln console" || f["alt_text"] != "«"+lang+"» The job list" ||
			f["caption"] != "«"+lang+"» Jobs at work" || list[lang]["resource_type"] != "media" {
			t.Errorf("%s: %v", lang, list[lang])
		}
	}

	b.expect(http.StatusOK, req{Method: "PATCH", Path: "/api/v1/sites/blog/media/" + med["id"].(string), Auth: acme.Token,
		Body: map[string]any{"caption": "Jobs at rest"}})
	sync := b.trTranslate(acme, base+"/sync-translations", map[string]any{})
	b.trDone(acme, sync["id"].(string), "succeeded")
	if f := b.trList(acme, base)["ja"]["fields"].(map[string]any); f["caption"] != "«ja» Jobs at rest" {
		t.Errorf("caption after sync: %v", f["caption"])
	}

	bare := b.upload(acme, "blog", "bare.txt", []byte("no words about it"), nil).JSON(t)
	res := b.expect(http.StatusConflict, req{Method: "POST", Path: "/api/v1/sites/blog/translations/media/" + bare["id"].(string) + "/translate",
		Auth: acme.Token, Body: map[string]any{"target_languages": []string{"fr"}}})
	if res.ErrorCode(t) != "nothing_to_translate" {
		t.Errorf("bare media: %s", res.Body)
	}
}

// TestTranslationRefusals checks the answers that submit nothing: 422 for
// bad languages, 404 for another tenant's post or a post that does not
// exist, 409 for a translation's translation, 422 for the internal kinds
// through POST /jobs.
func TestTranslationRefusals(t *testing.T) {
	b, acme, postID := trSetup(t)
	globex := b.signup("Globex")
	b.site(globex, "blog")
	base := "/api/v1/sites/blog/translations/posts/" + postID

	many := []string{"de", "fr", "es", "it", "nl", "pl", "pt", "sv", "da", "fi", "nb", "cs", "hu", "ro", "el", "tr", "ja", "ko", "zh", "ar", "he"}
	for name, langs := range map[string]any{
		"unknown tag": []string{"de", "xx"}, "empty": []string{}, "missing": nil, "too many": many,
		"own language": []string{"en"}, "twice": []string{"de", "DE"}, "not a list": "de",
	} {
		res := b.do(req{Method: "POST", Path: base + "/translate", Auth: acme.Token, Body: map[string]any{"target_languages": langs}})
		if res.Status != http.StatusUnprocessableEntity || (langs != "de" && res.Fields(t)["target_languages"] == nil) {
			t.Errorf("%s: status %d %s, want 422 naming target_languages", name, res.Status, res.Body)
		}
	}
	res := b.do(req{Method: "POST", Path: base + "/translate", Auth: acme.Token,
		Body: map[string]any{"target_languages": []string{"de"}, "keep": []string{""}}})
	if res.Status != http.StatusUnprocessableEntity || res.Fields(t)["keep"] == nil {
		t.Errorf("empty keep term: %d %s", res.Status, res.Body)
	}

	for name, r := range map[string]req{
		"another tenant's post in its own site": {Method: "POST", Path: base + "/translate", Auth: globex.Token,
			Body: map[string]any{"target_languages": []string{"de"}}},
		"another tenant's list": {Method: "GET", Path: base, Auth: globex.Token},
		"another tenant's sync": {Method: "POST", Path: base + "/sync-translations", Auth: globex.Token},
		"no such post": {Method: "POST", Path: "/api/v1/sites/blog/translations/posts/post_nope/translate", Auth: acme.Token,
			Body: map[string]any{"target_languages": []string{"de"}}},
		"no such media": {Method: "GET", Path: "/api/v1/sites/blog/translations/media/med_nope", Auth: acme.Token},
	} {
		if res := b.do(r); res.Status != http.StatusNotFound {
			t.Errorf("%s: %d %s, want 404", name, res.Status, res.Body)
		}
	}

	for _, kind := range []string{translate.KindPostLanguage, translate.KindMediaLanguage} {
		res := b.do(req{Method: "POST", Path: "/api/v1/jobs", Auth: acme.Token, Body: map[string]any{"kind": kind,
			"input": map[string]any{"master_id": postID, "site_id": "blog", "language": "de", "parent_job_id": "job_x"}}})
		if res.Status != http.StatusUnprocessableEntity || res.Fields(t)["kind"] == nil {
			t.Errorf("POST /jobs %s: %d %s, want 422 on kind", kind, res.Status, res.Body)
		}
	}
	if bal := b.balance(acme); bal["balance"] != 100.0 || bal["reserved"] != 0.0 {
		t.Errorf("refused requests moved credits: %v", bal)
	}
	if n := len(b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs", Auth: acme.Token}).JSON(t)["data"].([]any)); n != 0 {
		t.Errorf("refused requests left %d jobs", n)
	}

	j := b.trTranslate(acme, base+"/translate", map[string]any{"target_languages": []string{"de"}})
	j = b.trDone(acme, j["id"].(string), "succeeded")
	dePost := trLanguages(t, j)["de"]["translated_post_id"].(string)
	res = b.do(req{Method: "POST", Path: "/api/v1/sites/blog/translations/posts/" + dePost + "/translate", Auth: acme.Token,
		Body: map[string]any{"target_languages": []string{"fr"}}})
	if res.Status != http.StatusConflict || res.ErrorCode(t) != "translation_of_translation" {
		t.Errorf("translating a translation: %d %s", res.Status, res.Body)
	}
}

// TestTranslationWithoutProvider: with no chat model configured, a
// translation answers 503 provider_not_configured naming the setting, and
// nothing is submitted.
func TestTranslationWithoutProvider(t *testing.T) {
	b := setupWith(t, bundleOptions{noProvider: true})
	acme := b.signup("Acme")
	b.site(acme, "blog")
	post := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/sites/blog/posts", Auth: acme.Token,
		Body: map[string]any{"title": "Kiln"}}).JSON(t)
	med := b.upload(acme, "blog", "note.txt", []byte("notes"), map[string]string{"title": "Notes"}).JSON(t)
	for _, path := range []string{
		"/api/v1/sites/blog/translations/posts/" + post["id"].(string) + "/translate",
		"/api/v1/sites/blog/translations/media/" + med["id"].(string) + "/translate",
	} {
		res := b.expect(http.StatusServiceUnavailable, req{Method: "POST", Path: path, Auth: acme.Token,
			Body: map[string]any{"target_languages": []string{"de"}}})
		details, _ := res.JSON(t)["error"].(map[string]any)["details"].(map[string]any)
		if res.ErrorCode(t) != "provider_not_configured" || details["setting"] != "KILN_OPENAI_API_KEY" || details["capability"] != "chat" {
			t.Errorf("%s: %s", path, res.Body)
		}
	}
	if n := len(b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs", Auth: acme.Token}).JSON(t)["data"].([]any)); n != 0 {
		t.Errorf("%d jobs submitted without a provider", n)
	}
}

// TestTranslationCancel cancels a translation while its languages wait on
// a slow model: the parent and its children end canceled, the languages
// are listed canceled, and every credit is released.
func TestTranslationCancel(t *testing.T) {
	b, acme, postID := trSetup(t)
	b.ai.Delay(aitest.PathChat, time.Minute)
	base := "/api/v1/sites/blog/translations/posts/" + postID
	j := b.trTranslate(acme, base+"/translate", map[string]any{"target_languages": []string{"de", "fr"}})
	id := j["id"].(string)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var parked bool
		must(t, b.db.Pool.QueryRow(t.Context(), `SELECT parked_until IS NOT NULL FROM jobs WHERE id = $1`, id).Scan(&parked))
		if parked && b.ai.Calls(aitest.PathChat) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the parent never parked with both languages at the model (parked %v, %d calls)", parked, b.ai.Calls(aitest.PathChat))
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/jobs/" + id + "/cancel", Auth: acme.Token})
	b.trDone(acme, id, "canceled")
	rows, err := b.db.Pool.Query(t.Context(), `SELECT id FROM jobs WHERE parent_id = $1`, id)
	must(t, err)
	var kids []string
	for rows.Next() {
		var k string
		must(t, rows.Scan(&k))
		kids = append(kids, k)
	}
	must(t, rows.Err())
	if len(kids) != 2 {
		t.Fatalf("%d children, want 2", len(kids))
	}
	for _, k := range kids {
		b.trDone(acme, k, "canceled")
	}
	for lang, tr := range b.trList(acme, base) {
		if tr["status"] != "canceled" || tr["error"].(map[string]any)["code"] != "canceled" {
			t.Errorf("%s listed as %v", lang, tr)
		}
	}
	if bal := b.balance(acme); bal["balance"] != 100.0 || bal["reserved"] != 0.0 {
		t.Errorf("balance after cancel: %v", bal)
	}
	b.checkLedger()
}
