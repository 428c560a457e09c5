package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// post creates a post in site as t and returns it.
func (b *bundle) post(t tenant, site string, body map[string]any) map[string]any {
	b.t.Helper()
	return b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/sites/" + site + "/posts", Auth: t.Token, Body: body}).JSON(b.t)
}

func TestPostsCRUD(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	siteID := b.site(acme, "blog")
	res := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/sites/blog/posts", Auth: acme.Token, Body: map[string]any{
		"title": "Hello, World", "body_markdown": "# Hi", "body_html": `<h1 onclick="x()">Hi</h1><script>alert(1)</script><a href="javascript:alert(1)">l</a>`,
		"excerpt": "Hi", "author": "Ann", "language": "pt-BR", "tags": []string{"news", "news", "go"},
		"canonical_url": "https://example.com/hello", "source": map[string]string{"type": "url", "url": "https://example.com/hello"},
		"metadata": map[string]any{"seo": "x"},
	}})
	p := res.JSON(t)
	id := p["id"].(string)
	if !strings.HasPrefix(id, "post_") || res.Header.Get("Location") != "http://kiln.test/api/v1/sites/"+siteID+"/posts/"+id {
		t.Fatalf("id %q, Location %q", id, res.Header.Get("Location"))
	}
	html := p["body_html"].(string)
	if p["slug"] != "hello-world" || p["site_id"] != siteID || p["status"] != "draft" || p["published_at"] != nil ||
		strings.Contains(html, "script") || strings.Contains(html, "onclick") || strings.Contains(html, "javascript:") || !strings.Contains(html, "<h1>Hi</h1>") {
		t.Fatalf("created = %v", p)
	}
	if tags := p["tags"].([]any); len(tags) != 2 || p["source"].(map[string]any)["type"] != "url" || p["metadata"].(map[string]any)["seo"] != "x" {
		t.Fatalf("tags %v, source %v, metadata %v", tags, p["source"], p["metadata"])
	}
	for _, ref := range []string{siteID, "blog"} {
		got := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/" + ref + "/posts/" + id, Auth: acme.Token}).JSON(t)
		if got["id"] != id || got["language"] != "pt-BR" {
			t.Fatalf("GET via %s = %v", ref, got)
		}
	}
	up := b.expect(http.StatusOK, req{Method: "PATCH", Path: "/api/v1/sites/blog/posts/" + id, Auth: acme.Token,
		Body: map[string]any{"title": "Hello again", "status": "published", "body_html": "<p>ok<img src=x onerror=alert(1)></p>"}}).JSON(t)
	if up["title"] != "Hello again" || up["slug"] != "hello-world" || up["status"] != "published" || up["published_at"] == nil ||
		up["author"] != "Ann" || strings.Contains(up["body_html"].(string), "onerror") {
		t.Fatalf("updated = %v", up)
	}

	second := b.post(acme, "blog", map[string]any{"title": "Hello world"})
	if second["slug"] != "hello-world-2" || second["language"] != "en" {
		t.Fatalf("second post: slug %v, language %v", second["slug"], second["language"])
	}
	if res := b.expect(http.StatusConflict, req{Method: "POST", Path: "/api/v1/sites/blog/posts", Auth: acme.Token,
		Body: map[string]any{"title": "X", "slug": "hello-world"}}); res.ErrorCode(t) != "slug_taken" {
		t.Fatalf("code = %q, want slug_taken", res.ErrorCode(t))
	}
	b.expect(http.StatusConflict, req{Method: "PATCH", Path: "/api/v1/sites/blog/posts/" + second["id"].(string), Auth: acme.Token,
		Body: map[string]any{"slug": "hello-world"}})

	// A post is reached only through its own site.
	b.site(acme, "shop")
	b.expect(http.StatusNotFound, req{Method: "GET", Path: "/api/v1/sites/shop/posts/" + id, Auth: acme.Token})
	b.expect(http.StatusNotFound, req{Method: "GET", Path: "/api/v1/sites/nope/posts", Auth: acme.Token})

	b.expect(http.StatusNoContent, req{Method: "DELETE", Path: "/api/v1/sites/blog/posts/" + id, Auth: acme.Token})
	b.expect(http.StatusNotFound, req{Method: "GET", Path: "/api/v1/sites/blog/posts/" + id, Auth: acme.Token})
	b.expect(http.StatusNotFound, req{Method: "DELETE", Path: "/api/v1/sites/blog/posts/" + id, Auth: acme.Token})
	b.expect(http.StatusNotFound, req{Method: "GET", Path: "/api/v1/sites/blog/posts/job_x", Auth: acme.Token})
}

func TestPostValidationErrors(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	b.site(acme, "blog")
	bad := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/sites/blog/posts", Auth: acme.Token, Body: map[string]any{
		"slug": "Bad Slug", "language": "english!", "status": "live", "canonical_url": "ftp://x", "lead_image": "nope",
		"tags": []string{""}, "metadata": []int{1}, "source": map[string]string{"type": "fax"},
	}})
	for _, f := range []string{"title", "slug", "language", "status", "canonical_url", "lead_image", "tags", "metadata", "source.type"} {
		if bad.Fields(t)[f] == nil {
			t.Errorf("details.fields lacks %s: %s", f, bad.Body)
		}
	}
	for _, body := range []map[string]any{
		{"title": "T", "source": map[string]string{"type": "url"}},
		{"title": "T", "source": map[string]string{"type": "pdf", "media_id": "med_01jzzzzzzzzzzzzzzzzzzzzzzz"}},
		{"title": "T", "unknown": 1},
		{"title": 5},
		{"title": "   "},
	} {
		res := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/sites/blog/posts", Auth: acme.Token, Body: body})
		if len(res.Fields(t)) == 0 {
			t.Errorf("%v: no details.fields: %s", body, res.Body)
		}
	}
	b.expect(http.StatusBadRequest, req{Method: "POST", Path: "/api/v1/sites/blog/posts", Auth: acme.Token, Body: "{"})
	b.expect(http.StatusBadRequest, req{Method: "POST", Path: "/api/v1/sites/blog/posts", Auth: acme.Token,
		Body: `{"title": "T", "published_at": "yesterday"}`})
	if list := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/posts", Auth: acme.Token}).JSON(t); len(list["data"].([]any)) != 0 {
		t.Fatalf("refused posts were written: %v", list)
	}
}

func TestPostListFilters(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	b.site(acme, "blog")
	draft := b.post(acme, "blog", map[string]any{"title": "a", "source": map[string]string{"type": "url", "url": "https://e.com/a"}})["id"]
	live := b.post(acme, "blog", map[string]any{"title": "b", "status": "published", "language": "de"})["id"]
	pdf := b.post(acme, "blog", map[string]any{"title": "c", "source": map[string]string{"type": "pdf", "url": "https://e.com/c.pdf"}})["id"]
	future := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	cases := map[string][]any{
		"":                                       {pdf, live, draft},
		"status=draft":                           {pdf, draft},
		"status=published":                       {live},
		"source_type=url":                        {draft},
		"source_type=pdf&status=draft":           {pdf},
		"language=de":                            {live},
		"created_after=" + future:                nil,
		"created_before=" + future + "&limit=50": {pdf, live, draft},
	}
	for q, want := range cases {
		list := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/posts?" + q, Auth: acme.Token}).JSON(t)
		var got []any
		for _, p := range list["data"].([]any) {
			got = append(got, p.(map[string]any)["id"])
		}
		if len(got) != len(want) {
			t.Errorf("?%s: got %v, want %v", q, got, want)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("?%s: got %v, want %v", q, got, want)
			}
		}
	}
	page := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/posts?limit=2", Auth: acme.Token}).JSON(t)
	next := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/posts?limit=2&cursor=" + page["next_cursor"].(string), Auth: acme.Token}).JSON(t)
	if len(page["data"].([]any)) != 2 || len(next["data"].([]any)) != 1 || next["next_cursor"] != nil {
		t.Fatalf("pages: %v then %v", page, next)
	}
	bad := b.expect(http.StatusUnprocessableEntity, req{Method: "GET", Path: "/api/v1/sites/blog/posts?status=x&source_type=y&language=!&created_after=z&limit=0", Auth: acme.Token})
	for _, f := range []string{"status", "source_type", "language", "created_after"} {
		if bad.Fields(t)[f] == nil {
			t.Errorf("details.fields lacks %s: %s", f, bad.Body)
		}
	}
}

func TestPostsTenantsAndRoles(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	globex := b.signup("Globex")
	b.site(acme, "blog")
	b.site(globex, "blog")
	id := b.post(acme, "blog", map[string]any{"title": "Acme only"})["id"].(string)

	// Globex, through its own site of the same slug, cannot reach Acme's post.
	path := "/api/v1/sites/blog/posts/" + id
	b.expect(http.StatusNotFound, req{Method: "GET", Path: path, Auth: globex.Token})
	b.expect(http.StatusNotFound, req{Method: "PATCH", Path: path, Auth: globex.Token, Body: map[string]any{"title": "hijacked"}})
	b.expect(http.StatusNotFound, req{Method: "DELETE", Path: path, Auth: globex.Token})
	if list := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/posts", Auth: globex.Token}).JSON(t); len(list["data"].([]any)) != 0 {
		t.Fatalf("Globex lists Acme's posts: %v", list)
	}
	if got := b.expect(http.StatusOK, req{Method: "GET", Path: path, Auth: acme.Token}).JSON(t); got["title"] != "Acme only" {
		t.Fatalf("Acme's post changed: %v", got)
	}

	viewer, _ := b.member(acme, "viewer")
	editor, _ := b.member(acme, "editor")
	b.expect(http.StatusOK, req{Method: "GET", Path: path, Auth: viewer})
	b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/posts", Auth: viewer})
	for _, r := range []req{
		{Method: "POST", Path: "/api/v1/sites/blog/posts", Body: map[string]any{"title": "v"}},
		{Method: "PATCH", Path: path, Body: map[string]any{"title": "v"}},
		{Method: "DELETE", Path: path},
	} {
		r.Auth = viewer
		if res := b.expect(http.StatusForbidden, r); res.ErrorCode(t) != "forbidden" {
			t.Errorf("%s %s as viewer: code %q", r.Method, r.Path, res.ErrorCode(t))
		}
	}
	b.expect(http.StatusOK, req{Method: "PATCH", Path: path, Auth: editor, Body: map[string]any{"excerpt": "by the editor"}})

	// Creating with an Idempotency-Key twice makes one post.
	r := req{Method: "POST", Path: "/api/v1/sites/blog/posts", Auth: editor, Body: map[string]any{"title": "Once"},
		Header: map[string]string{"Idempotency-Key": "post-once"}}
	first := b.expect(http.StatusCreated, r)
	again := b.expect(http.StatusCreated, r)
	if first.JSON(t)["id"] != again.JSON(t)["id"] || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %s then %s", first.Body, again.Body)
	}
}
