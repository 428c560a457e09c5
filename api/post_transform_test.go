package api_test

import (
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/kilnhq/kiln/ai/aitest"
	"github.com/kilnhq/kiln/content/transform"
)

// transformBody is the Markdown of the posts the transform tests change.
const transformBody = `# Sourdough at home

Baking sourdough bread at home takes a lively [starter](https://example.com/starter), flour, water and salt.

## Feeding the starter

Feed it the night before with equal weights of flour and water. See [the feeding chart](https://example.com/chart).

## Baking

Bake in a hot oven for forty minutes.
`

// txPost creates a post with transformBody in t's site and returns its id.
func (b *bundle) txPost(t tenant, site string) string {
	b.t.Helper()
	return b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/sites/" + site + "/posts", Auth: t.Token,
		Body: map[string]any{"title": "Sourdough at home", "body_markdown": transformBody}}).JSON(b.t)["id"].(string)
}

// txJob posts body to path and returns the job it answers 202 with,
// checking the Location header.
func (b *bundle) txJob(t tenant, path string, body any) map[string]any {
	b.t.Helper()
	res := b.expect(http.StatusAccepted, req{Method: "POST", Path: path, Auth: t.Token, Body: body})
	j := res.JSON(b.t)
	if loc := res.Header.Get("Location"); loc == "" || loc != j["urls"].(map[string]any)["self"] {
		b.t.Fatalf("Location %q is not the job's url %v", loc, j["urls"])
	}
	return j
}

// txGetPost reads a post.
func (b *bundle) txGetPost(t tenant, site, id string) map[string]any {
	b.t.Helper()
	return b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/" + site + "/posts/" + id, Auth: t.Token}).JSON(b.t)
}

// txCharged checks a final job was charged 1 credit per 1,000 tokens of
// its result's usage (plus base), within its reservation, and returns it.
func txCharged(t *testing.T, j map[string]any, base float64) float64 {
	t.Helper()
	usage := j["result"].(map[string]any)["usage"].(map[string]any)
	tokens, _ := usage["prompt_tokens"].(float64)
	completion, _ := usage["completion_tokens"].(float64)
	credits := j["credits"].(map[string]any)
	want := base + math.Ceil((tokens+completion)/1000)
	if tokens == 0 || credits["charged"] != want || want > credits["reserved"].(float64) {
		t.Errorf("credits %v for usage %v, want %v charged", credits, usage, want)
	}
	return want
}

// sayItSimply rewrites every prose line of a Markdown body, keeping its
// headings, links and lines.
func sayItSimply(md string) string {
	var out []string
	for _, line := range strings.Split(md, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			line = "Simply: " + line
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

func TestPostTransform(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	b.site(acme, "blog")
	postID := b.txPost(acme, "blog")
	var systems []string
	b.ai.SetReplyFunc(func(p aitest.Prompt) string {
		systems = append(systems, p.System)
		return sayItSimply(p.Last)
	})
	spent := 0.0
	cases := []struct {
		name     string
		body     map[string]any
		inPrompt string
	}{
		{"preset", map[string]any{"preset": "simplify"}, "Simplify the post for a general reader"},
		{"instruction", map[string]any{"instruction": "Speak to the reader as you."}, "Instruction: Speak to the reader as you."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := b.txGetPost(acme, "blog", postID)["body_markdown"].(string)
			j := b.txJob(acme, "/api/v1/sites/blog/posts/"+postID+"/transform", tc.body)
			if j["kind"] != transform.Kind || j["credits"].(map[string]any)["reserved"].(float64) < 1 {
				t.Fatalf("job %v", j)
			}
			done := b.await(acme, j["id"].(string))
			if done["status"] != "succeeded" {
				t.Fatalf("job %v: %v", done["status"], done["error"])
			}
			res := done["result"].(map[string]any)
			post := b.txGetPost(acme, "blog", postID)
			if post["body_markdown"] != strings.TrimSpace(sayItSimply(before)) || res["post_id"] != postID || res["revision_id"] == "" {
				t.Errorf("post body %q, result %v", post["body_markdown"], res)
			}
			if html := post["body_html"].(string); !strings.Contains(html, "<h2>Feeding the starter</h2>") ||
				!strings.Contains(html, `<a href="https://example.com/chart" rel="nofollow">the feeding chart</a>`) {
				t.Errorf("body_html not rendered from the new body: %s", html)
			}
			if last := systems[len(systems)-1]; !strings.Contains(last, tc.inPrompt) {
				t.Errorf("system prompt lacks %q:\n%s", tc.inPrompt, last)
			}
			spent += txCharged(t, done, 0)
		})
	}
	if bal := b.balance(acme); bal["balance"] != 100-spent {
		t.Errorf("balance %v, want %v", bal["balance"], 100-spent)
	}
	b.checkLedger()
}

func TestPostTransformThatDropsLinksFails(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	b.site(acme, "blog")
	postID := b.txPost(acme, "blog")
	b.ai.SetReply("# Sourdough at home\n\n## Feeding the starter\n\nFeed it.\n\n## Baking\n\nBake it.")
	j := b.txJob(acme, "/api/v1/sites/blog/posts/"+postID+"/transform", map[string]any{"preset": "summarize"})
	done := b.await(acme, j["id"].(string))
	e, _ := done["error"].(map[string]any)
	if done["status"] != "failed" || e["code"] != transform.CodeLostStructure || done["attempt"] != float64(2) {
		t.Fatalf("job %v after %v attempts: %v; want failed %s after 2", done["status"], done["attempt"], e, transform.CodeLostStructure)
	}
	if msg := e["message"].(string); !strings.Contains(msg, "https://example.com/starter") || !strings.Contains(msg, "https://example.com/chart") {
		t.Errorf("the error does not name the lost links: %s", msg)
	}
	if b.ai.Calls(aitest.PathChat) != 2 {
		t.Errorf("%d model calls, want 2 (retried once)", b.ai.Calls(aitest.PathChat))
	}
	if post := b.txGetPost(acme, "blog", postID); post["body_markdown"] != transformBody {
		t.Errorf("the post changed: %q", post["body_markdown"])
	}
	revs := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/posts/" + postID + "/revisions", Auth: acme.Token}).JSON(t)
	credits := done["credits"].(map[string]any)
	if len(revs["data"].([]any)) != 0 || credits["charged"] != float64(0) || b.balance(acme)["balance"] != float64(100) {
		t.Errorf("revisions %v, credits %v, balance %v; want none, 0 charged, 100", revs["data"], credits, b.balance(acme)["balance"])
	}
	b.checkLedger()
}

func TestPostRevisionsRestore(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	b.site(acme, "blog")
	postID := b.txPost(acme, "blog")
	originalHTML := b.txGetPost(acme, "blog", postID)["body_html"]
	b.ai.SetReplyFunc(func(p aitest.Prompt) string { return sayItSimply(p.Last) })
	j := b.txJob(acme, "/api/v1/sites/blog/posts/"+postID+"/transform", map[string]any{"preset": "change_tone", "tone": "playful"})
	if done := b.await(acme, j["id"].(string)); done["status"] != "succeeded" {
		t.Fatalf("transform %v: %v", done["status"], done["error"])
	}
	transformed := b.txGetPost(acme, "blog", postID)["body_markdown"]
	base := "/api/v1/sites/blog/posts/" + postID + "/revisions"
	list := b.expect(http.StatusOK, req{Method: "GET", Path: base, Auth: acme.Token}).JSON(t)["data"].([]any)
	if len(list) != 1 {
		t.Fatalf("revisions %v, want 1", list)
	}
	rev := list[0].(map[string]any)
	if rev["kind"] != "transform" || rev["job_id"] != j["id"] || rev["body_markdown"] != transformBody || rev["note"] != "preset change_tone (playful)" {
		t.Errorf("revision %v", rev)
	}

	restored := b.expect(http.StatusOK, req{Method: "POST", Path: base + "/" + rev["id"].(string) + "/restore", Auth: acme.Token}).JSON(t)
	if restored["post"].(map[string]any)["body_markdown"] != transformBody {
		t.Errorf("restored post %v", restored["post"])
	}
	undo := restored["revision"].(map[string]any)
	if undo["kind"] != "restore" || undo["restored_from"] != rev["id"] || undo["body_markdown"] != transformed || undo["created_by"] != acme.OwnerID {
		t.Errorf("restore revision %v", undo)
	}
	if got := b.txGetPost(acme, "blog", postID); got["body_markdown"] != transformBody || got["body_html"] != originalHTML {
		t.Errorf("post after restore: %q %q, want the original", got["body_markdown"], got["body_html"])
	}
	list = b.expect(http.StatusOK, req{Method: "GET", Path: base + "?limit=1", Auth: acme.Token}).JSON(t)["data"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != undo["id"] {
		t.Errorf("newest revision %v, want the restore", list)
	}
	// Restoring the restore undoes it.
	b.expect(http.StatusOK, req{Method: "POST", Path: base + "/" + undo["id"].(string) + "/restore", Auth: acme.Token})
	if got := b.txGetPost(acme, "blog", postID)["body_markdown"]; got != transformed {
		t.Errorf("after undoing the restore the body is %q", got)
	}
	missing := b.expect(http.StatusNotFound, req{Method: "POST", Path: base + "/rev_01jnothere0000000000000000/restore", Auth: acme.Token})
	if missing.ErrorCode(t) != "revision_not_found" {
		t.Errorf("unknown revision: %s", missing.Body)
	}
	if n := len(b.expect(http.StatusOK, req{Method: "GET", Path: base, Auth: acme.Token}).JSON(t)["data"].([]any)); n != 3 {
		t.Errorf("%d revisions, want 3", n)
	}
}

func TestPostTransformRefusals(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	globex := b.signup("Globex")
	b.site(acme, "blog")
	b.site(globex, "blog")
	postID := b.txPost(acme, "blog")
	path := "/api/v1/sites/blog/posts/" + postID + "/transform"
	cases := []struct {
		body   map[string]any
		fields []string
	}{
		{map[string]any{}, []string{"input.instruction", "input.preset"}},
		{map[string]any{"preset": "rewrite", "instruction": "x"}, []string{"input.preset"}},
		{map[string]any{"preset": "change_tone"}, []string{"input.tone"}},
		{map[string]any{"preset": "poem"}, []string{"input.preset"}},
	}
	for _, c := range cases {
		res := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: path, Auth: acme.Token, Body: c.body})
		for _, f := range c.fields {
			if _, ok := res.Fields(t)[f]; !ok || len(res.Fields(t)) != len(c.fields) {
				t.Errorf("%v: fields %v, want %v", c.body, res.Fields(t), c.fields)
			}
		}
	}
	// Globex has a site called blog too, but not Acme's post.
	if res := b.expect(http.StatusNotFound, req{Method: "POST", Path: path, Auth: globex.Token, Body: map[string]any{"preset": "rewrite"}}); res.ErrorCode(t) != "post_not_found" {
		t.Errorf("another tenant's post: %s", res.Body)
	}
	b.expect(http.StatusNotFound, req{Method: "GET", Path: "/api/v1/sites/blog/posts/" + postID + "/revisions", Auth: globex.Token})
	viewer, _ := b.member(acme, "viewer")
	b.expect(http.StatusForbidden, req{Method: "POST", Path: path, Auth: viewer, Body: map[string]any{"preset": "rewrite"}})
	if n := b.jobCount(); n != 0 {
		t.Errorf("%d jobs made by refused requests", n)
	}
}

func TestPostTransformWithoutProvider(t *testing.T) {
	b := setupWith(t, bundleOptions{noProvider: true})
	acme := b.signup("Acme")
	b.site(acme, "blog")
	postID := b.txPost(acme, "blog")
	res := b.expect(http.StatusServiceUnavailable, req{Method: "POST", Path: "/api/v1/sites/blog/posts/" + postID + "/transform",
		Auth: acme.Token, Body: map[string]any{"preset": "rewrite"}})
	e := res.JSON(t)["error"].(map[string]any)
	if e["code"] != "provider_not_configured" || e["details"].(map[string]any)["setting"] != "KILN_OPENAI_API_KEY" {
		t.Errorf("answer %s", res.Body)
	}
	if b.jobCount() != 0 || b.balance(acme)["balance"] != float64(100) {
		t.Error("a refused transform left a job or a reservation")
	}
}

// jobCount counts every job in the bundle's schema.
func (b *bundle) jobCount() int {
	b.t.Helper()
	var n int
	must(b.t, b.db.Pool.QueryRow(b.t.Context(), `SELECT count(*) FROM jobs`).Scan(&n))
	return n
}
