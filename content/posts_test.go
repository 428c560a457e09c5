package content_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/storage"
)

// fixture is a content service over a test schema and a media directory,
// with two tenants that have a site each.
type fixture struct {
	t        *testing.T
	db       *testkit.DB
	svc      *content.Service
	dir      string
	acme     string
	acmeSite string
	globex   string
	globSite string
}

func newFixture(t *testing.T, media content.MediaConfig) *fixture {
	t.Helper()
	db := testkit.NewDB(t)
	log := testkit.Logger(t)
	ids, err := identity.New(db.Pool, log, identity.Config{})
	testkit.Must(t, "identity", err)
	dir := filepath.Join(t.TempDir(), "media")
	store, err := storage.NewLocal(dir)
	testkit.Must(t, "store", err)
	t.Cleanup(func() { store.Close() })
	f := &fixture{t: t, db: db, dir: dir, svc: content.New(db.Pool, log, content.Options{Store: store, Media: media})}
	f.acme, f.acmeSite = f.tenantWithSite(ids, "Acme")
	f.globex, f.globSite = f.tenantWithSite(ids, "Globex")
	return f
}

func (f *fixture) tenantWithSite(ids *identity.Service, name string) (tenantID, siteID string) {
	f.t.Helper()
	tn, err := ids.CreateTenant(context.Background(), name, "")
	testkit.Must(f.t, "create tenant", err)
	site, err := f.svc.CreateSite(context.Background(), tn.ID, content.SiteInput{Name: ptr("Blog"), Slug: ptr("blog")})
	testkit.Must(f.t, "create site", err)
	return tn.ID, site.ID
}

// count returns the number of rows in table.
func (f *fixture) count(table string) int {
	f.t.Helper()
	var n int
	testkit.Must(f.t, "count "+table, f.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

// files lists the regular files under the media directory.
func (f *fixture) files() []string {
	f.t.Helper()
	var out []string
	err := filepath.WalkDir(f.dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(f.dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	})
	testkit.Must(f.t, "walk media directory", err)
	return out
}

func ptr[T any](v T) *T { return &v }

// fields returns the invalid fields of a validation problem.
func fields(t *testing.T, err error) map[string]string {
	t.Helper()
	p, ok := problem.As(err)
	if !ok || p.Kind != problem.Invalid {
		t.Fatalf("err = %v, want a validation problem", err)
	}
	return p.Fields
}

func isNotFound(err error, code string) bool {
	p, ok := problem.As(err)
	return ok && p.Kind == problem.NotFound && p.Code == code
}

func TestPostSlugs(t *testing.T) {
	f := newFixture(t, content.MediaConfig{})
	ctx := context.Background()
	create := func(in content.PostInput) (content.Post, error) {
		return f.svc.CreatePost(ctx, f.acme, f.acmeSite, in)
	}
	first, err := create(content.PostInput{Title: ptr("  Hello, World!  ")})
	testkit.Must(t, "create", err)
	second, err := create(content.PostInput{Title: ptr("Hello world")})
	testkit.Must(t, "create again", err)
	symbols, err := create(content.PostInput{Title: ptr("¡¿!?")})
	testkit.Must(t, "create from symbols", err)
	if first.Slug != "hello-world" || second.Slug != "hello-world-2" || symbols.Slug != "post" || first.Title != "Hello, World!" {
		t.Fatalf("slugs %q, %q, %q; title %q", first.Slug, second.Slug, symbols.Slug, first.Title)
	}
	if _, err := create(content.PostInput{Title: ptr("Other"), Slug: ptr("hello-world")}); !errors.Is(err, content.ErrPostSlugTaken) {
		t.Fatalf("explicit taken slug: err = %v, want ErrPostSlugTaken", err)
	}
	if _, err := f.svc.UpdatePost(ctx, f.acme, f.acmeSite, second.ID, content.PostInput{Slug: ptr("hello-world")}); !errors.Is(err, content.ErrPostSlugTaken) {
		t.Fatalf("update to a taken slug: err = %v, want ErrPostSlugTaken", err)
	}
	// Another tenant's site may use the same slug.
	other, err := f.svc.CreatePost(ctx, f.globex, f.globSite, content.PostInput{Title: ptr("Hello, World")})
	testkit.Must(t, "create in another tenant", err)
	if other.Slug != "hello-world" {
		t.Fatalf("slug in another site = %q, want hello-world", other.Slug)
	}
	if f.count("posts") != 4 {
		t.Fatalf("%d posts, want 4 (the refused ones wrote nothing)", f.count("posts"))
	}
}

func TestPostHTMLIsSanitised(t *testing.T) {
	f := newFixture(t, content.MediaConfig{})
	ctx := context.Background()
	dirty := `<p onclick="steal()">Hi <a href="javascript:alert(1)">x</a> <a href="https://example.com/">ok</a></p><script>alert(1)</script><img src="https://example.com/a.png" onerror="x()">`
	p, err := f.svc.CreatePost(ctx, f.acme, f.acmeSite, content.PostInput{Title: ptr("T"), BodyHTML: &dirty})
	testkit.Must(t, "create", err)
	checkClean(t, p.BodyHTML)
	if !strings.Contains(p.BodyHTML, `href="https://example.com/"`) || !strings.Contains(p.BodyHTML, "<p>") {
		t.Fatalf("sanitising removed safe markup: %s", p.BodyHTML)
	}
	up, err := f.svc.UpdatePost(ctx, f.acme, f.acmeSite, p.ID, content.PostInput{BodyHTML: ptr(`<b onmouseover="x()">b</b><script>y()</script>`)})
	testkit.Must(t, "update", err)
	checkClean(t, up.BodyHTML)
	got, err := f.svc.GetPost(ctx, f.acme, f.acmeSite, p.ID)
	testkit.Must(t, "get", err)
	if got.BodyHTML != "<b>b</b>" {
		t.Fatalf("stored body_html = %q, want <b>b</b>", got.BodyHTML)
	}
	saved, err := f.svc.SavePostFromJob(ctx, f.acme, f.acmeSite, "job_x", content.PostInput{Title: ptr("J"), BodyHTML: &dirty})
	testkit.Must(t, "save from job", err)
	checkClean(t, saved.BodyHTML)
}

func checkClean(t *testing.T, html string) {
	t.Helper()
	for _, bad := range []string{"<script", "onclick", "onerror", "onmouseover", "javascript:", "alert("} {
		if strings.Contains(html, bad) {
			t.Errorf("body_html keeps %q: %s", bad, html)
		}
	}
}

func TestSavePostFromJobMakesOnePost(t *testing.T) {
	f := newFixture(t, content.MediaConfig{})
	ctx := context.Background()
	first, err := f.svc.SavePostFromJob(ctx, f.acme, f.acmeSite, "job_1", content.PostInput{Title: ptr("Crawled"),
		BodyMarkdown: ptr("v1"), Source: &content.PostSource{Type: content.SourceURL, URL: "https://example.com/a"}})
	testkit.Must(t, "save", err)
	// The job runs again (a crash after the insert, before the ack).
	again, err := f.svc.SavePostFromJob(ctx, f.acme, f.acmeSite, "job_1", content.PostInput{Title: ptr("Crawled"),
		BodyMarkdown: ptr("v2"), Source: &content.PostSource{Type: content.SourceURL, URL: "https://example.com/a"}})
	testkit.Must(t, "save again", err)
	if again.ID != first.ID || again.Slug != first.Slug || again.BodyMarkdown != "v2" || again.Source.URL != "https://example.com/a" {
		t.Fatalf("second save = %+v, want post %s (slug %s) with body v2", again, first.ID, first.Slug)
	}
	if n := f.count("posts"); n != 1 {
		t.Fatalf("%d posts after two runs of one job, want 1", n)
	}
	// Runs racing each other still make one post.
	var wg sync.WaitGroup
	got := make([]string, 4)
	errs := make([]error, 4)
	for i := range got {
		wg.Go(func() {
			p, err := f.svc.SavePostFromJob(ctx, f.acme, f.acmeSite, "job_2", content.PostInput{Title: ptr("Race")})
			got[i], errs[i] = p.ID, err
		})
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != got[0] {
			t.Fatalf("racing saves: ids %v, errors %v", got, errs)
		}
	}
	if n := f.count("posts"); n != 2 {
		t.Fatalf("%d posts after racing runs of a second job, want 2", n)
	}
	// Another tenant cannot reach the job's post through its job id.
	if _, err := f.svc.SavePostFromJob(ctx, f.globex, f.globSite, "job_1", content.PostInput{Title: ptr("Hijack")}); err == nil {
		t.Fatal("another tenant saved over a post by its job id")
	}
	p, err := f.svc.GetPost(ctx, f.acme, f.acmeSite, first.ID)
	testkit.Must(t, "get", err)
	if p.Title != "Crawled" || f.count("posts") != 2 {
		t.Fatalf("after another tenant's attempt: title %q, %d posts", p.Title, f.count("posts"))
	}
}

func TestReplacePostContentKeepsTheID(t *testing.T) {
	f := newFixture(t, content.MediaConfig{})
	ctx := context.Background()
	p, err := f.svc.CreatePost(ctx, f.acme, f.acmeSite, content.PostInput{Title: ptr("Old"), Slug: ptr("kept"),
		BodyMarkdown: ptr("old body"), Excerpt: ptr("old excerpt"), Tags: &[]string{"a"}, Status: ptr(content.PostPublished),
		Metadata: ptr(json.RawMessage(`{"k":"v"}`))})
	testkit.Must(t, "create", err)
	r, err := f.svc.ReplacePostContent(ctx, f.acme, p.ID, content.PostInput{Title: ptr("New"), BodyMarkdown: ptr("new body")})
	testkit.Must(t, "replace", err)
	if r.ID != p.ID || r.Title != "New" || r.BodyMarkdown != "new body" || r.Excerpt != "" || len(r.Tags) != 0 ||
		r.Slug != "kept" || r.Status != content.PostPublished || string(r.Metadata) != `{"k": "v"}` || !r.CreatedAt.Equal(p.CreatedAt) {
		t.Fatalf("replaced = %+v", r)
	}
	if _, err := f.svc.ReplacePostContent(ctx, f.globex, p.ID, content.PostInput{Title: ptr("Hijack")}); !isNotFound(err, "post_not_found") {
		t.Fatalf("replace as another tenant: err = %v, want post_not_found", err)
	}
	if _, err := f.svc.ReplacePostContent(ctx, f.acme, p.ID, content.PostInput{}); fields(t, err)["title"] == "" {
		t.Fatal("replace without a title was not refused")
	}
}

func TestPostValidation(t *testing.T) {
	f := newFixture(t, content.MediaConfig{})
	ctx := context.Background()
	_, err := f.svc.CreatePost(ctx, f.acme, f.acmeSite, content.PostInput{Slug: ptr("Bad Slug"), Language: ptr("english!"),
		CanonicalURL: ptr("ftp://x"), LeadImage: ptr("not a url"), Status: ptr("live"), Tags: &[]string{" "},
		Metadata: ptr(json.RawMessage(`[1]`)), Source: &content.PostSource{Type: "fax"}})
	got := fields(t, err)
	for _, name := range []string{"title", "slug", "language", "canonical_url", "lead_image", "status", "tags", "metadata", "source.type"} {
		if got[name] == "" {
			t.Errorf("fields lack %s: %v", name, got)
		}
	}
	_, err = f.svc.CreatePost(ctx, f.acme, f.acmeSite, content.PostInput{Title: ptr("T"), Source: &content.PostSource{Type: content.SourceURL}})
	if fields(t, err)["source.url"] == "" {
		t.Error("a url source without a url was not refused")
	}
	_, err = f.svc.CreatePost(ctx, f.acme, f.acmeSite, content.PostInput{Title: ptr("T"),
		Source: &content.PostSource{Type: content.SourcePDF, MediaID: "med_01jzzzzzzzzzzzzzzzzzzzzzzz"}})
	if fields(t, err)["source.media_id"] == "" {
		t.Error("a pdf source naming a missing media file was not refused")
	}
	if _, err := f.svc.CreatePost(ctx, f.acme, f.globSite, content.PostInput{Title: ptr("T")}); !isNotFound(err, "site_not_found") {
		t.Errorf("create in another tenant's site: err = %v, want site_not_found", err)
	}
	if n := f.count("posts"); n != 0 {
		t.Fatalf("%d posts after refused writes, want 0", n)
	}
	p, err := f.svc.CreatePost(ctx, f.acme, f.acmeSite, content.PostInput{Title: ptr("Live"), Status: ptr(content.PostPublished)})
	testkit.Must(t, "create published", err)
	if p.PublishedAt == nil || p.Language != "en" || p.Source.Type != content.SourceManual || string(p.Metadata) != "{}" {
		t.Fatalf("defaults of a published post: %+v", p)
	}
	for _, call := range []func() error{
		func() error { _, err := f.svc.GetPost(ctx, f.globex, f.acmeSite, p.ID); return err },
		func() error { _, err := f.svc.GetPost(ctx, f.globex, f.globSite, p.ID); return err },
		func() error { _, err := f.svc.GetPost(ctx, f.acme, f.acmeSite, "site_x"); return err },
		func() error {
			_, err := f.svc.UpdatePost(ctx, f.globex, f.globSite, p.ID, content.PostInput{Title: ptr("x")})
			return err
		},
		func() error { return f.svc.DeletePost(ctx, f.globex, f.globSite, p.ID) },
	} {
		if err := call(); !isNotFound(err, "post_not_found") {
			t.Errorf("err = %v, want post_not_found", err)
		}
	}
	testkit.Must(t, "delete", f.svc.DeletePost(ctx, f.acme, f.acmeSite, p.ID))
	if err := f.svc.DeletePost(ctx, f.acme, f.acmeSite, p.ID); !isNotFound(err, "post_not_found") {
		t.Errorf("second delete: err = %v, want post_not_found", err)
	}
}

func TestListPostsFilters(t *testing.T) {
	f := newFixture(t, content.MediaConfig{})
	ctx := context.Background()
	mk := func(title, status, source, lang string) string {
		in := content.PostInput{Title: &title, Status: &status, Language: &lang, Source: &content.PostSource{Type: source}}
		if source == content.SourceURL {
			in.Source.URL = "https://example.com/" + title
		}
		p, err := f.svc.CreatePost(ctx, f.acme, f.acmeSite, in)
		testkit.Must(t, "create "+title, err)
		return p.ID
	}
	draftURL := mk("a", content.PostDraft, content.SourceURL, "en")
	pubManual := mk("b", content.PostPublished, content.SourceManual, "pt-BR")
	draftManual := mk("c", content.PostDraft, content.SourceManual, "en")
	_, err := f.svc.CreatePost(ctx, f.globex, f.globSite, content.PostInput{Title: ptr("other tenant")})
	testkit.Must(t, "create in another tenant", err)

	future := time.Now().Add(time.Hour)
	all := pg.Page{Limit: 50}
	cases := []struct {
		name   string
		filter content.PostFilter
		want   []string
	}{
		{"none", content.PostFilter{}, []string{draftManual, pubManual, draftURL}},
		{"status", content.PostFilter{Status: content.PostDraft}, []string{draftManual, draftURL}},
		{"source", content.PostFilter{SourceType: content.SourceURL}, []string{draftURL}},
		{"language", content.PostFilter{Language: "pt-BR"}, []string{pubManual}},
		{"combined", content.PostFilter{Status: content.PostDraft, Language: "en", SourceType: content.SourceManual}, []string{draftManual}},
		{"created after", content.PostFilter{CreatedAfter: &future}, nil},
		{"created before", content.PostFilter{CreatedBefore: &future}, []string{draftManual, pubManual, draftURL}},
	}
	for _, c := range cases {
		list, next, err := f.svc.ListPosts(ctx, f.acme, f.acmeSite, c.filter, all)
		testkit.Must(t, c.name, err)
		var got []string
		for _, p := range list {
			got = append(got, p.ID)
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") || next != "" {
			t.Errorf("%s: got %v (next %q), want %v", c.name, got, next, c.want)
		}
	}
	page, next, err := f.svc.ListPosts(ctx, f.acme, f.acmeSite, content.PostFilter{}, pg.Page{Limit: 2})
	testkit.Must(t, "first page", err)
	rest, last, err := f.svc.ListPosts(ctx, f.acme, f.acmeSite, content.PostFilter{}, pg.Page{Limit: 2, After: next})
	testkit.Must(t, "second page", err)
	if len(page) != 2 || next != page[1].ID || len(rest) != 1 || rest[0].ID != draftURL || last != "" {
		t.Fatalf("pages: %d then %d, cursors %q %q", len(page), len(rest), next, last)
	}
	_, _, err = f.svc.ListPosts(ctx, f.acme, f.acmeSite, content.PostFilter{Status: "gone", SourceType: "fax", Language: "!"}, all)
	if got := fields(t, err); got["status"] == "" || got["source_type"] == "" || got["language"] == "" {
		t.Errorf("bad filter fields = %v", got)
	}
}
