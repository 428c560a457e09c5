package translate_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/ai/aitest"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/content/translate"
	"github.com/kilnhq/kiln/content/translate/translatetest"
	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/settings"
	"github.com/kilnhq/kiln/storage"
)

// fixture is a Translator over a test schema, with the chat model played
// by an aitest server answering through translatetest, and two tenants
// with an English site each.
type fixture struct {
	t                          *testing.T
	db                         *testkit.DB
	ai                         *aitest.Server
	content                    *content.Service
	tr                         *translate.Translator
	acme, acmeSite, globex, gs string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := testkit.NewDB(t)
	log := testkit.Logger(t)
	srv := aitest.New(t)
	srv.SetReplyFunc(translatetest.Reply)
	store, err := storage.NewLocal(filepath.Join(t.TempDir(), "media"))
	testkit.Must(t, "store", err)
	t.Cleanup(func() { store.Close() })
	c := content.New(db.Pool, log, content.Options{Store: store})
	set, err := settings.New(db.Pool, log, settings.Config{Prompts: translate.Prompts(),
		Defaults: map[string]settings.Integration{settings.OpenAI: {BaseURL: srv.URL(), APIKey: srv.APIKey(),
			Models: map[ai.Capability]string{ai.CapChat: "gpt-4o-mini"}}}})
	testkit.Must(t, "settings", err)
	f := &fixture{t: t, db: db, ai: srv, content: c, tr: translate.New(db.Pool, c, set, log)}
	ids, err := identity.New(db.Pool, log, identity.Config{})
	testkit.Must(t, "identity", err)
	f.acme, f.acmeSite = f.tenantWithSite(ids, "Acme")
	f.globex, f.gs = f.tenantWithSite(ids, "Globex")
	return f
}

func (f *fixture) tenantWithSite(ids *identity.Service, name string) (string, string) {
	f.t.Helper()
	tn, err := ids.CreateTenant(context.Background(), name, "")
	testkit.Must(f.t, "create tenant", err)
	site, err := f.content.CreateSite(context.Background(), tn.ID, content.SiteInput{Name: ptr("Blog"), Slug: ptr("blog")})
	testkit.Must(f.t, "create site", err)
	return tn.ID, site.ID
}

func ptr[T any](v T) *T { return &v }

// masterBody is a post body with the constructs a translation must keep.
const masterBody = "# Kiln in five minutes\n\nKiln runs jobs. Read [the guide](https://kiln.dev/guide) first.\n\n" +
	"## Install\n\n- Download `kiln`\n- Run it:\n\n```sh\nkiln dev --port 8080\n```\n\n![The Kiln console](https://kiln.dev/console.png)\n\n" +
	"## Next\n\n1. Submit a job\n2. Watch it at <https://kiln.dev/jobs>\n"

// master creates Acme's English post to translate.
func (f *fixture) master() content.Post {
	f.t.Helper()
	p, err := f.content.CreatePost(context.Background(), f.acme, f.acmeSite, content.PostInput{
		Title: ptr("Kiln in five minutes"), BodyMarkdown: ptr(masterBody), Excerpt: ptr("A tour of Kiln."),
		Author: ptr("Ada"), Tags: &[]string{"intro"}, Status: ptr(content.PostPublished)})
	testkit.Must(f.t, "create master", err)
	return p
}

// postsIn counts the posts of Acme's site in language lang.
func (f *fixture) postsIn(lang string) int {
	f.t.Helper()
	list, _, err := f.content.ListPosts(context.Background(), f.acme, f.acmeSite, content.PostFilter{Language: lang}, pg.Page{Limit: 100})
	testkit.Must(f.t, "list posts", err)
	return len(list)
}

// failure returns the job failure in err.
func failure(t *testing.T, err error) *jobs.Failure {
	t.Helper()
	var fl *jobs.Failure
	if !errors.As(err, &fl) {
		t.Fatalf("err %v is not a job failure", err)
	}
	return fl
}

// TestTranslatePost translates a post into German: a linked draft post in
// German whose code, links and structure survived, a model request that
// saw no code or URL, credits from tokens; the same job again changes
// nothing.
func TestTranslatePost(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.master()
	job := translate.LanguageJob{MasterID: m.ID, SiteID: m.SiteID, Language: "de", Keep: []string{"Kiln"}, ParentJobID: "job_parent"}
	res, credits, err := f.tr.TranslatePost(ctx, f.acme, "job_de", job)
	testkit.Must(t, "translate", err)
	if credits < 1 || credits > translate.PricePostLanguage {
		t.Errorf("credits %d, want 1 to %d", credits, translate.PricePostLanguage)
	}

	got, err := f.content.GetPost(ctx, f.acme, f.acmeSite, res.TranslatedPostID)
	testkit.Must(t, "get translation", err)
	want := translatetest.Prose(translate.Protect(masterBody).Text, "de")
	back, err := translate.Protect(masterBody).Restore(want)
	testkit.Must(t, "expected translation", err)
	if got.BodyMarkdown != back {
		t.Errorf("body:\n%s\nwant\n%s", got.BodyMarkdown, back)
	}
	for _, part := range []string{"<h2>«de» Install</h2>", `href="https://kiln.dev/guide"`, "<pre><code>kiln dev --port 8080", "<li>«de» Submit a job</li>"} {
		if !strings.Contains(got.BodyHTML, part) { // rendered from the translation, then sanitised as every body_html is
			t.Errorf("body_html lacks %q:\n%s", part, got.BodyHTML)
		}
	}
	for _, kept := range []string{"```sh\nkiln dev --port 8080\n```", "](https://kiln.dev/guide)", "`kiln`",
		"(https://kiln.dev/console.png)", "<https://kiln.dev/jobs>", "## «de» Install", "1. «de» Submit a job"} {
		if !strings.Contains(got.BodyMarkdown, kept) {
			t.Errorf("the translation lost %q", kept)
		}
	}
	if got.Title != "«de» Kiln in five minutes" || got.Excerpt != "«de» A tour of Kiln." || got.Language != "de" ||
		got.Status != content.PostDraft || got.Author != "Ada" || len(got.Tags) != 1 {
		t.Errorf("translated post: title %q excerpt %q language %s status %s author %q tags %v",
			got.Title, got.Excerpt, got.Language, got.Status, got.Author, got.Tags)
	}
	var meta map[string]string
	_ = json.Unmarshal(got.Metadata, &meta)
	if meta["translation_of"] != m.ID || meta["source_language"] != "en" {
		t.Errorf("metadata %s", got.Metadata)
	}

	reqs := f.ai.RequestsTo(aitest.PathChat)
	if len(reqs) != 1 {
		t.Fatalf("%d chat requests, want 1", len(reqs))
	}
	prompt := reqs[0].Prompt()
	for _, absent := range []string{"https://", "```", "`kiln`"} {
		if strings.Contains(prompt, absent) {
			t.Errorf("the model was sent %q", absent)
		}
	}
	for _, present := range []string{"from English (en) into German (de)", `never translate these terms; copy them exactly as written: "Kiln"`} {
		if !strings.Contains(strings.ToLower(prompt), strings.ToLower(present)) {
			t.Errorf("the prompt does not say %q", present)
		}
	}

	again, _, err := f.tr.TranslatePost(ctx, f.acme, "job_de", job)
	testkit.Must(t, "translate again", err)
	if again.TranslatedPostID != res.TranslatedPostID || again.TranslationID != res.TranslationID || f.postsIn("de") != 1 {
		t.Errorf("a rerun made post %s (translation %s), first %s (%s); %d German posts",
			again.TranslatedPostID, again.TranslationID, res.TranslatedPostID, res.TranslationID, f.postsIn("de"))
	}
	list, _, err := f.tr.Store().List(ctx, f.acme, m.ID, m.UpdatedAt, pg.Page{Limit: 10})
	testkit.Must(t, "list", err)
	if len(list) != 1 || list[0].Status != translate.StatusSucceeded || list[0].Stale || *list[0].TranslatedPostID != res.TranslatedPostID ||
		*list[0].JobID != "job_de" || list[0].TranslatedAt == nil {
		t.Fatalf("translations %+v", list)
	}
}

// TestRetranslateStale updates the master: its translation becomes stale,
// and translating the language again rewrites the same post.
func TestRetranslateStale(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.master()
	job := translate.LanguageJob{MasterID: m.ID, SiteID: m.SiteID, Language: "fr", ParentJobID: "job_p1"}
	first, _, err := f.tr.TranslatePost(ctx, f.acme, "job_fr1", job)
	testkit.Must(t, "translate", err)
	store := f.tr.Store()
	if langs, _, err := store.Stale(ctx, f.acme, m.ID, m.UpdatedAt); err != nil || len(langs) != 0 {
		t.Fatalf("stale before the update: %v %v", langs, err)
	}

	updated, err := f.content.UpdatePost(ctx, f.acme, f.acmeSite, m.ID, content.PostInput{Title: ptr("Kiln in four minutes")})
	testkit.Must(t, "update master", err)
	langs, _, err := store.Stale(ctx, f.acme, m.ID, updated.UpdatedAt)
	if err != nil || len(langs) != 1 || langs[0] != "fr" {
		t.Fatalf("stale after the update: %v %v", langs, err)
	}
	list, _, err := store.List(ctx, f.acme, m.ID, updated.UpdatedAt, pg.Page{Limit: 10})
	if err != nil || len(list) != 1 || !list[0].Stale {
		t.Fatalf("list after the update: %+v %v", list, err)
	}

	job.ParentJobID = "job_p2"
	second, _, err := f.tr.TranslatePost(ctx, f.acme, "job_fr2", job)
	testkit.Must(t, "translate again", err)
	if second.TranslatedPostID != first.TranslatedPostID || f.postsIn("fr") != 1 {
		t.Fatalf("re-translation wrote post %s, first %s; %d French posts", second.TranslatedPostID, first.TranslatedPostID, f.postsIn("fr"))
	}
	got, err := f.content.GetPost(ctx, f.acme, f.acmeSite, second.TranslatedPostID)
	testkit.Must(t, "get", err)
	if got.Title != "«fr» Kiln in four minutes" {
		t.Errorf("title %q", got.Title)
	}
	list, _, err = store.List(ctx, f.acme, m.ID, updated.UpdatedAt, pg.Page{Limit: 10})
	if err != nil || list[0].Stale || *list[0].JobID != "job_fr2" {
		t.Fatalf("list after re-translation: %+v %v", list, err)
	}
}

// TestBrokenTranslations checks that a model answer that loses a
// placeholder, a heading, a list item or a term to keep, or a field, is a
// retryable translation_lost_structure failure that saves nothing.
func TestBrokenTranslations(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(name, text string) string
		want   string
	}{
		{"placeholder dropped", func(name, text string) string { return strings.Replace(text, "⟦1⟧", "", 1) }, "missing"},
		{"placeholder doubled", func(name, text string) string { return text + " ⟦2⟧" }, "repeated"},
		{"heading level changed", func(name, text string) string { return strings.Replace(text, "## ", "### ", 1) }, "level-3 headings 0 → 1"},
		{"list items merged", func(name, text string) string { return strings.Replace(text, "\n- «de» Run", " Run", 1) }, "bullet items"},
		{"kept term translated", func(name, text string) string { return strings.ReplaceAll(text, "Kiln", "Brennofen") }, `"Kiln"`},
		{"field missing", nil, "lacks the fields"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			m := f.master()
			f.ai.SetReplyFunc(func(p aitest.Prompt) string {
				r, _ := translatetest.Parse(p)
				if tc.break_ == nil {
					delete(r.Fields, "excerpt")
					return translatetest.Answer(r, func(_, text string) string { return text })
				}
				return translatetest.Answer(r, func(name, text string) string {
					if name != "body" {
						return text
					}
					return tc.break_(name, translatetest.Prose(text, "de"))
				})
			})
			_, _, err := f.tr.TranslatePost(context.Background(), f.acme, "job_x",
				translate.LanguageJob{MasterID: m.ID, SiteID: m.SiteID, Language: "de", Keep: []string{"Kiln"}, ParentJobID: "job_p"})
			fl := failure(t, err)
			if fl.Code != "translation_lost_structure" || !fl.Retryable || !strings.Contains(fl.Error(), tc.want) {
				t.Fatalf("failure %v (retryable %v), want a retryable translation_lost_structure saying %q", fl, fl.Retryable, tc.want)
			}
			if n := f.postsIn("de"); n != 0 {
				t.Fatalf("%d German posts after a failed translation", n)
			}
		})
	}
}

// TestProviderFailures checks how the provider's failures end a language:
// content policy and a refused key at once, an outage retried.
func TestProviderFailures(t *testing.T) {
	cases := []struct {
		name      string
		step      aitest.Step
		code      string
		retryable bool
	}{
		{"content policy", aitest.ContentPolicy(), "content_rejected", false},
		{"refused key", aitest.InvalidAPIKey(), "provider_auth_failed", false},
		{"outage longer than the provider waits", aitest.Fail(500).RetryAfter(120), "provider_unavailable", true},
		{"rate limit longer than the provider waits", aitest.Fail(429).RetryAfter(120), "provider_rate_limited", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			m := f.master()
			f.ai.Script(aitest.PathChat, tc.step)
			_, _, err := f.tr.TranslatePost(context.Background(), f.acme, "job_x",
				translate.LanguageJob{MasterID: m.ID, SiteID: m.SiteID, Language: "it", ParentJobID: "job_p"})
			fl := failure(t, err)
			if fl.Code != tc.code || fl.Retryable != tc.retryable || fl.Chargeable {
				t.Fatalf("failure %v retryable %v chargeable %v, want %s retryable %v", fl, fl.Retryable, fl.Chargeable, tc.code, tc.retryable)
			}
		})
	}
}

// TestConcurrentJobsShareOnePost runs two jobs for the same language at
// once: one translated post survives, and both jobs report it.
func TestConcurrentJobsShareOnePost(t *testing.T) {
	f := newFixture(t)
	m := f.master()
	var wg sync.WaitGroup
	results := make([]translate.LanguageJobResult, 2)
	errs := make([]error, 2)
	for i, job := range []string{"job_a", "job_b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _, errs[i] = f.tr.TranslatePost(context.Background(), f.acme, job,
				translate.LanguageJob{MasterID: m.ID, SiteID: m.SiteID, Language: "es", ParentJobID: "job_p"})
		}()
	}
	wg.Wait()
	testkit.Must(t, "first job", errs[0])
	testkit.Must(t, "second job", errs[1])
	if results[0].TranslatedPostID != results[1].TranslatedPostID || f.postsIn("es") != 1 {
		t.Fatalf("posts %s and %s; %d Spanish posts", results[0].TranslatedPostID, results[1].TranslatedPostID, f.postsIn("es"))
	}
}

// TestTranslatePostFromHTML translates a post that has only HTML: its
// body is converted to Markdown first.
func TestTranslatePostFromHTML(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m, err := f.content.CreatePost(ctx, f.acme, f.acmeSite, content.PostInput{Title: ptr("Notes"),
		BodyHTML: ptr(`<h2>Setup</h2><p>Install <code>kiln</code> from <a href="https://kiln.dev">the site</a>.</p>`)})
	testkit.Must(t, "create", err)
	res, _, err := f.tr.TranslatePost(ctx, f.acme, "job_h", translate.LanguageJob{MasterID: m.ID, SiteID: m.SiteID, Language: "nl", ParentJobID: "job_p"})
	testkit.Must(t, "translate", err)
	got, err := f.content.GetPost(ctx, f.acme, f.acmeSite, res.TranslatedPostID)
	testkit.Must(t, "get", err)
	want := "## «nl» Setup\n\n«nl» Install `kiln` from [the site](https://kiln.dev)."
	if got.BodyMarkdown != want {
		t.Fatalf("body %q, want %q", got.BodyMarkdown, want)
	}
}

// TestTranslateMedia translates a media item's title, alt text and
// caption into a translation row, and refuses an item with none.
func TestTranslateMedia(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	med, err := f.content.CreateMedia(ctx, f.acme, f.acmeSite, strings.NewReader("plain words\n"),
		content.MediaInput{Filename: "note.txt", Title: ptr("Kiln console"), AltText: ptr("The job list of Kiln"), Caption: ptr("")})
	testkit.Must(t, "create media", err)
	res, credits, err := f.tr.TranslateMedia(ctx, f.acme, "job_m", translate.LanguageJob{MasterID: med.ID, SiteID: f.acmeSite,
		Language: "pt-BR", Keep: []string{"Kiln"}, ParentJobID: "job_p"})
	testkit.Must(t, "translate media", err)
	want := translate.MediaFields{Title: "«pt-BR» Kiln console", AltText: "«pt-BR» The job list of Kiln", Caption: ""}
	if res.Fields == nil || *res.Fields != want || credits != translate.PriceMediaLanguage {
		t.Fatalf("fields %+v credits %d, want %+v", res.Fields, credits, want)
	}
	list, _, err := f.tr.Store().List(ctx, f.acme, med.ID, med.UpdatedAt, pg.Page{Limit: 10})
	if err != nil || len(list) != 1 || list[0].Fields == nil || *list[0].Fields != want || list[0].TranslatedPostID != nil ||
		list[0].ResourceType != translate.ResourceMedia {
		t.Fatalf("translations %+v %v", list, err)
	}

	bare, err := f.content.CreateMedia(ctx, f.acme, f.acmeSite, strings.NewReader("more words\n"), content.MediaInput{Filename: "bare.txt"})
	testkit.Must(t, "create bare media", err)
	_, err = translate.CheckMedia(bare, "en", translate.Request{TargetLanguages: []string{"de"}})
	if p, ok := problem.As(err); !ok || p.Code != "nothing_to_translate" {
		t.Fatalf("bare media: %v, want nothing_to_translate", err)
	}
}

// TestTenantScoping checks that another tenant sees none of Acme's
// translations and cannot translate Acme's post.
func TestTenantScoping(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.master()
	job := translate.LanguageJob{MasterID: m.ID, SiteID: m.SiteID, Language: "de", ParentJobID: "job_p"}
	res, _, err := f.tr.TranslatePost(ctx, f.acme, "job_de", job)
	testkit.Must(t, "translate", err)
	store := f.tr.Store()
	list, _, err := store.List(ctx, f.globex, m.ID, m.UpdatedAt, pg.Page{Limit: 10})
	testkit.Must(t, "list as Globex", err)
	stale, _, err := store.Stale(ctx, f.globex, m.ID, m.UpdatedAt.AddDate(1, 0, 0))
	testkit.Must(t, "stale as Globex", err)
	master, err := store.MasterOf(ctx, f.globex, res.TranslatedPostID)
	testkit.Must(t, "master as Globex", err)
	if len(list) != 0 || len(stale) != 0 || master != "" {
		t.Fatalf("Globex sees %d translations, %d stale, master %q", len(list), len(stale), master)
	}
	_, _, err = f.tr.TranslatePost(ctx, f.globex, "job_g", job)
	if fl := failure(t, err); fl.Code != "post_not_found" || fl.Retryable {
		t.Fatalf("Globex translating Acme's post: %v", fl)
	}
}

// TestCheckPost checks the refusals at submit: the post's own language,
// and a post that is itself a translation.
func TestCheckPost(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.master()
	store := f.tr.Store()
	_, err := store.CheckPost(ctx, f.acme, m, translate.Request{TargetLanguages: []string{"de", "en"}})
	if p, ok := problem.As(err); !ok || p.Kind != problem.Invalid || !strings.Contains(p.Fields["target_languages"], "en") {
		t.Fatalf("own language: %v", err)
	}
	res, _, err := f.tr.TranslatePost(ctx, f.acme, "job_de", translate.LanguageJob{MasterID: m.ID, SiteID: m.SiteID, Language: "de", ParentJobID: "job_p"})
	testkit.Must(t, "translate", err)
	tr, err := f.content.GetPost(ctx, f.acme, f.acmeSite, res.TranslatedPostID)
	testkit.Must(t, "get", err)
	_, err = store.CheckPost(ctx, f.acme, tr, translate.Request{TargetLanguages: []string{"fr"}})
	if p, ok := problem.As(err); !ok || p.Code != "translation_of_translation" || !strings.Contains(p.Message, m.ID) {
		t.Fatalf("translating a translation: %v", err)
	}
	req, err := store.CheckPost(ctx, f.acme, m, translate.Request{TargetLanguages: []string{"fr", "pt-br"}, Keep: []string{"Kiln"}})
	if err != nil || strings.Join(req.TargetLanguages, ",") != "fr,pt-BR" {
		t.Fatalf("a good request: %v %v", req, err)
	}
}
