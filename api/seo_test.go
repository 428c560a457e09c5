package api_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/kilnhq/kiln/ai/aitest"
	"github.com/kilnhq/kiln/content/seo"
)

func TestSEOAnalyzeWithoutProvider(t *testing.T) {
	b := setupWith(t, bundleOptions{noProvider: true})
	b.startWorker()
	acme := b.signup("Acme")
	b.site(acme, "blog")
	postID := b.txPost(acme, "blog")
	cases := []struct {
		name  string
		body  map[string]any
		title string
	}{
		{"a post", map[string]any{"post_id": postID, "keyword": "sourdough bread"}, "Sourdough at home"},
		{"free text", map[string]any{"text": transformBody, "title": "Bread", "meta_description": "Bake bread."}, "Bread"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := b.txJob(acme, "/api/v1/sites/blog/seo/analyze", tc.body)
			done := b.await(acme, j["id"].(string))
			if done["status"] != "succeeded" || j["kind"] != seo.KindAnalyze {
				t.Fatalf("job %v %v: %v", j["kind"], done["status"], done["error"])
			}
			res := done["result"].(map[string]any)
			if res["suggestions_status"] != "skipped" || !strings.Contains(res["suggestions_note"].(string), "provider_not_configured") {
				t.Errorf("suggestions %v: %v", res["suggestions_status"], res["suggestions_note"])
			}
			checks := res["checks"].([]any)
			title := findCheck(t, checks, "title_length")
			want := "title is " + strconv.Itoa(len(tc.title)) + " characters; lengthen it to 50-60 with a descriptive phrase"
			if len(checks) != 7 || res["title"] != tc.title || title["fixes"].([]any)[0] != want {
				t.Errorf("title check %v, want the fix %q", title, want)
			}
			if s := res["score"].(float64); s <= 0 || s >= 100 {
				t.Errorf("overall score %v", s)
			}
			if charged := done["credits"].(map[string]any)["charged"]; charged != float64(1) {
				t.Errorf("charged %v, want the rule-based credit only", charged)
			}
		})
	}
	b.checkLedger()
}

func findCheck(t *testing.T, checks []any, id string) map[string]any {
	t.Helper()
	for _, c := range checks {
		if m := c.(map[string]any); m["id"] == id {
			return m
		}
	}
	t.Fatalf("no check %s in %v", id, checks)
	return nil
}

func TestSEOAnalyzeWithSuggestions(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	b.site(acme, "blog")
	b.ai.SetReply(`{"suggestions":[{"area":"content","suggestion":"Add a section on choosing flour."}]}`)
	j := b.txJob(acme, "/api/v1/sites/blog/seo/analyze", map[string]any{"text": transformBody, "keyword": "starter"})
	done := b.await(acme, j["id"].(string))
	if done["status"] != "succeeded" {
		t.Fatalf("job %v: %v", done["status"], done["error"])
	}
	res := done["result"].(map[string]any)
	sg := res["suggestions"].([]any)
	if res["suggestions_status"] != "added" || len(sg) != 1 || sg[0].(map[string]any)["suggestion"] != "Add a section on choosing flour." {
		t.Errorf("suggestions %v %v", res["suggestions_status"], sg)
	}
	txCharged(t, done, 1)
}

func TestSEOGenerateText(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	b.site(acme, "blog")
	postID := b.txPost(acme, "blog")
	b.ai.SetReplyFunc(func(p aitest.Prompt) string {
		if !strings.Contains(p.Last, "Feed it the night before") {
			return `{"meta_description":"wrong text"}`
		}
		return `{"meta_description":"Bake sourdough bread at home: feed a lively starter, mix flour, water and salt, and bake it in a hot oven for forty minutes."}`
	})
	j := b.txJob(acme, "/api/v1/sites/blog/seo/generatetext", map[string]any{"post_id": postID, "type": "meta_description"})
	if j["kind"] != seo.KindGenerateText {
		t.Fatalf("job %v", j)
	}
	done := b.await(acme, j["id"].(string))
	if done["status"] != "succeeded" {
		t.Fatalf("job %v: %v", done["status"], done["error"])
	}
	res := done["result"].(map[string]any)
	want := "Bake sourdough bread at home: feed a lively starter, mix flour, water and salt, and bake it in a hot oven for forty minutes."
	if res["text"] != want || res["post_id"] != postID || res["trimmed"] != false || res["characters"] != float64(len(want)) {
		t.Errorf("result %v", res)
	}
	spent := txCharged(t, done, 0)
	if bal := b.balance(acme); bal["balance"] != 100-spent {
		t.Errorf("balance %v, want %v", bal["balance"], 100-spent)
	}
	b.checkLedger()
}

func TestSEOGenerateTextRateLimitedThenAnswered(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	b.site(acme, "blog")
	b.ai.Script(aitest.PathChat, aitest.Fail(http.StatusTooManyRequests).RetryAfter(1))
	b.ai.SetReply(`{"keywords":["sourdough bread","starter"]}`)
	j := b.txJob(acme, "/api/v1/sites/blog/seo/generatetext", map[string]any{"text": transformBody, "type": "keywords"})
	done := b.await(acme, j["id"].(string))
	if done["status"] != "succeeded" {
		t.Fatalf("job %v: %v", done["status"], done["error"])
	}
	if res := done["result"].(map[string]any); res["text"] != "sourdough bread, starter" {
		t.Errorf("result %v", res)
	}
	reqs := b.ai.RequestsTo(aitest.PathChat)
	if len(reqs) != 2 || reqs[0].Status != http.StatusTooManyRequests || reqs[1].Status != http.StatusOK {
		t.Errorf("requests %d, want a 429 then a 200", len(reqs))
	}
	txCharged(t, done, 0)
}

func TestSEORefusals(t *testing.T) {
	b := setupWith(t, bundleOptions{noProvider: true})
	acme := b.signup("Acme")
	globex := b.signup("Globex")
	b.site(acme, "blog")
	b.site(globex, "blog")
	postID := b.txPost(acme, "blog")
	res := b.expect(http.StatusServiceUnavailable, req{Method: "POST", Path: "/api/v1/sites/blog/seo/generatetext", Auth: acme.Token,
		Body: map[string]any{"text": "Bread.", "type": "title"}})
	if res.ErrorCode(t) != "provider_not_configured" {
		t.Errorf("generatetext without a chat model: %s", res.Body)
	}
	cases := []struct {
		path   string
		body   map[string]any
		fields []string
	}{
		{"generatetext", map[string]any{"text": "Bread.", "type": "poem"}, []string{"input.type"}},
		{"generatetext", map[string]any{"type": "title"}, []string{"input.post_id", "input.text"}},
		{"analyze", map[string]any{"post_id": postID, "text": "x"}, []string{"input.text"}},
		{"analyze", map[string]any{"text": "x", "language": "English"}, []string{"input.language"}},
	}
	for _, c := range cases {
		res := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/sites/blog/seo/" + c.path, Auth: acme.Token, Body: c.body})
		got := res.Fields(t)
		for _, f := range c.fields {
			if _, ok := got[f]; !ok || len(got) != len(c.fields) {
				t.Errorf("%s %v: fields %v, want %v", c.path, c.body, got, c.fields)
			}
		}
	}
	res = b.expect(http.StatusNotFound, req{Method: "POST", Path: "/api/v1/sites/blog/seo/analyze", Auth: globex.Token,
		Body: map[string]any{"post_id": postID}})
	if res.ErrorCode(t) != "post_not_found" {
		t.Errorf("another tenant's post: %s", res.Body)
	}
	if b.jobCount() != 0 {
		t.Errorf("%d jobs made by refused requests", b.jobCount())
	}
}
