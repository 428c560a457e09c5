package api_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestSitesCRUD(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	res := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/sites", Auth: acme.Token,
		Body: map[string]any{"name": "Blog", "slug": "blog", "url": "https://blog.example.com", "language": "pt-BR", "metadata": map[string]any{"theme": "dark"}}})
	site := res.JSON(t)
	id := site["id"].(string)
	if !strings.HasPrefix(id, "site_") || res.Header.Get("Location") != "http://kiln.test/api/v1/sites/"+id {
		t.Fatalf("id %q, Location %q", id, res.Header.Get("Location"))
	}
	for _, ref := range []string{id, "blog"} {
		got := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/" + ref, Auth: acme.Token}).JSON(t)
		if got["id"] != id || got["language"] != "pt-BR" || got["metadata"].(map[string]any)["theme"] != "dark" {
			t.Fatalf("GET %s = %v", ref, got)
		}
	}
	up := b.expect(http.StatusOK, req{Method: "PATCH", Path: "/api/v1/sites/blog", Auth: acme.Token,
		Body: map[string]string{"name": "The Blog", "slug": "the-blog"}}).JSON(t)
	if up["name"] != "The Blog" || up["slug"] != "the-blog" || up["url"] != "https://blog.example.com" {
		t.Fatalf("updated = %v", up)
	}
	b.expect(http.StatusNotFound, req{Method: "GET", Path: "/api/v1/sites/blog", Auth: acme.Token})

	b.site(acme, "shop")
	if res := b.expect(http.StatusConflict, req{Method: "POST", Path: "/api/v1/sites", Auth: acme.Token,
		Body: map[string]string{"name": "Dup", "slug": "shop"}}); res.ErrorCode(t) != "slug_taken" {
		t.Fatalf("code = %q, want slug_taken", res.ErrorCode(t))
	}
	b.expect(http.StatusConflict, req{Method: "PATCH", Path: "/api/v1/sites/" + id, Auth: acme.Token, Body: map[string]string{"slug": "shop"}})

	// Another tenant may use the same slug.
	globex := b.signup("Globex")
	b.site(globex, "shop")

	bad := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/sites", Auth: acme.Token,
		Body: map[string]any{"name": "", "slug": "Bad Slug", "url": "ftp://x", "language": "english!", "metadata": []int{1}}})
	for _, f := range []string{"name", "slug", "url", "language", "metadata"} {
		if bad.Fields(t)[f] == nil {
			t.Errorf("details.fields lacks %s: %s", f, bad.Body)
		}
	}
	b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/sites", Auth: acme.Token, Body: map[string]string{"name": "X", "slug": "site_x"}})

	b.expect(http.StatusNoContent, req{Method: "DELETE", Path: "/api/v1/sites/" + id, Auth: acme.Token})
	b.expect(http.StatusNotFound, req{Method: "GET", Path: "/api/v1/sites/" + id, Auth: acme.Token})
	b.expect(http.StatusNotFound, req{Method: "DELETE", Path: "/api/v1/sites/" + id, Auth: acme.Token})
}

func TestListsPaginateWithCursors(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	want := map[string]bool{}
	for _, slug := range []string{"a", "b", "c", "d", "e"} {
		want[b.site(acme, slug)] = true
	}
	seen := map[string]bool{}
	path := "/api/v1/sites?limit=2"
	pages := 0
	for {
		page := b.expect(http.StatusOK, req{Method: "GET", Path: path, Auth: acme.Token}).JSON(t)
		pages++
		for _, s := range page["data"].([]any) {
			id := s.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("site %s on two pages", id)
			}
			seen[id] = true
		}
		next, ok := page["next_cursor"].(string)
		if !ok {
			break
		}
		path = "/api/v1/sites?limit=2&cursor=" + next
	}
	if pages != 3 || len(seen) != len(want) {
		t.Fatalf("%d pages with %d sites, want 3 pages with %d", pages, len(seen), len(want))
	}
	for _, q := range []string{"limit=0", "limit=201", "limit=x", "cursor=!!!"} {
		res := b.expect(http.StatusUnprocessableEntity, req{Method: "GET", Path: "/api/v1/sites?" + q, Auth: acme.Token})
		if len(res.Fields(t)) == 0 {
			t.Errorf("%s: no details.fields: %s", q, res.Body)
		}
	}
}
