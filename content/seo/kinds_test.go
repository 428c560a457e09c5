package seo_test

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/ai/aitest"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/content/seo"
	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/settings"
)

// fixture runs the SEO kinds on a worker over a test schema, with the
// deployment's chat model on an aitest server (unless noProvider), for a
// tenant with a site and a post.
type fixture struct {
	t        *testing.T
	db       *testkit.DB
	jobs     *jobs.Service
	content  *content.Service
	ai       *aitest.Server
	tenant   string
	other    string
	site     string
	post     content.Post
	settings *settings.Service
}

const postBody = `# Sourdough at home

Baking sourdough bread at home takes a lively starter, flour, water and salt.

## Feeding the starter

Feed it the night before with equal weights of flour and water.

## Baking

Bake in a hot oven for forty minutes. See [our oven guide](/guides/oven).
`

func newFixture(t *testing.T, noProvider bool) *fixture {
	t.Helper()
	ctx := context.Background()
	db := testkit.NewDB(t)
	rd := testkit.NewRedis(t)
	ns := testkit.Namespace(t, rd)
	log := testkit.Logger(t)
	f := &fixture{t: t, db: db, ai: aitest.New(t), content: content.New(db.Pool, log)}
	defaults := map[string]settings.Integration{}
	if !noProvider {
		defaults[settings.OpenAI] = settings.Integration{BaseURL: f.ai.URL(), APIKey: f.ai.APIKey(),
			Models: map[ai.Capability]string{ai.CapChat: "gpt-4o-mini"}}
	}
	var err error
	f.settings, err = settings.New(db.Pool, log, settings.Config{Defaults: defaults, Prompts: seo.Prompts()})
	testkit.Must(t, "settings", err)
	kinds := jobs.NewRegistry()
	for _, k := range seo.New(f.content, f.settings, log).Kinds() {
		kinds.Register(k)
	}
	f.jobs = jobs.New(db.Pool, rd.Client, log, jobs.Config{Namespace: ns, SignupCredits: 100, RelayInterval: 100 * time.Millisecond}, kinds)
	ids, err := identity.New(db.Pool, log, identity.Config{})
	testkit.Must(t, "identity", err)
	ids.OnTenantCreated(func(ctx context.Context, tx pgx.Tx, tn identity.Tenant) error {
		return f.jobs.OpenAccount(ctx, tx, tn.ID)
	})
	acme, err := ids.CreateTenant(ctx, "Acme", "")
	testkit.Must(t, "tenant", err)
	globex, err := ids.CreateTenant(ctx, "Globex", "")
	testkit.Must(t, "tenant", err)
	f.tenant, f.other = acme.ID, globex.ID
	name, slug, siteURL := "Blog", "blog", "https://blog.example"
	site, err := f.content.CreateSite(ctx, f.tenant, content.SiteInput{Name: &name, Slug: &slug, URL: &siteURL})
	testkit.Must(t, "site", err)
	f.site = site.ID
	title, body, excerpt := "Sourdough at home", postBody, "How to bake sourdough bread at home."
	f.post, err = f.content.CreatePost(ctx, f.tenant, f.site, content.PostInput{Title: &title, BodyMarkdown: &body, Excerpt: &excerpt})
	testkit.Must(t, "post", err)
	testkit.StartWorker(t, f.jobs, ns, 4)
	t.Cleanup(func() { testkit.CheckLedger(t, db.Pool) })
	return f
}

// submit submits kind with input for the tenant's site.
func (f *fixture) submit(kind string, input any) (jobs.Job, error) {
	raw, _ := json.Marshal(input)
	return f.jobs.Submit(context.Background(), jobs.SubmitRequest{TenantID: f.tenant, Kind: kind, Input: raw, SiteID: f.site})
}

// run submits and waits until the job is final.
func (f *fixture) run(kind string, input any) jobs.Job {
	f.t.Helper()
	j, err := f.submit(kind, input)
	testkit.Must(f.t, "submit "+kind, err)
	j, err = f.jobs.Wait(context.Background(), f.tenant, j.ID, 30*time.Second)
	testkit.Must(f.t, "wait", err)
	if !j.Status.Final() {
		f.t.Fatalf("job %s is still %s", j.ID, j.Status)
	}
	return j
}

func result[T any](t *testing.T, j jobs.Job) T {
	t.Helper()
	var v T
	if j.Status != jobs.StatusSucceeded {
		t.Fatalf("job %s: %s %+v, want succeeded", j.Kind, j.Status, j.Error)
	}
	if err := json.Unmarshal(j.Result, &v); err != nil {
		t.Fatalf("result %s: %v", j.Result, err)
	}
	return v
}

// wantCharge checks the job was charged one credit per 1,000 tokens of its
// usage, plus base credits.
func wantCharge(t *testing.T, j jobs.Job, base int64, usage map[string]int) {
	t.Helper()
	want := base + int64(math.Ceil(float64(usage["prompt_tokens"]+usage["completion_tokens"])/1000))
	if usage["prompt_tokens"] == 0 && base == 0 {
		t.Errorf("usage %v reports no tokens", usage)
	}
	if j.Credits.Charged == nil || *j.Credits.Charged != want || want > j.Credits.Reserved {
		t.Errorf("charged %v of %d reserved, want %d (usage %v)", j.Credits.Charged, j.Credits.Reserved, want, usage)
	}
}

func TestGenerateTextTypes(t *testing.T) {
	f := newFixture(t, false)
	var prompts []aitest.Prompt
	f.ai.SetReplyFunc(func(p aitest.Prompt) string {
		prompts = append(prompts, p)
		switch {
		case strings.Contains(p.System, `"meta_description"`):
			return `{"meta_description":"Bake sourdough bread at home with a lively starter, flour, water and salt: feeding, shaping and baking, step by step."}`
		case strings.Contains(p.System, `{"title"`):
			return `{"title":"Sourdough Bread at Home: Starter, Dough and Baking"}`
		case strings.Contains(p.System, `"keywords"`):
			return `{"keywords":["sourdough bread","sourdough starter","Sourdough Bread","home baking"]}`
		case strings.Contains(p.System, `"summary"`):
			return `{"summary":"Feed a starter, mix the dough and bake it hot."}`
		case strings.Contains(p.System, `"faq"`):
			return `{"faq":[{"question":"When do I feed the starter","answer":"The night before."}]}`
		}
		return `{}`
	})
	cases := []struct {
		typ, want string
	}{
		{seo.TypeMetaDescription, "Bake sourdough bread at home with a lively starter, flour, water and salt: feeding, shaping and baking, step by step."},
		{seo.TypeTitle, "Sourdough Bread at Home: Starter, Dough and Baking"},
		{seo.TypeKeywords, "sourdough bread, sourdough starter, home baking"},
		{seo.TypeSummary, "Feed a starter, mix the dough and bake it hot."},
		{seo.TypeFAQ, "### When do I feed the starter?\n\nThe night before."},
	}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			j := f.run(seo.KindGenerateText, map[string]any{"text": postBody, "type": tc.typ, "keyword": "sourdough bread"})
			res := result[seo.GenerateResult](t, j)
			if res.Text != tc.want || res.Type != tc.typ {
				t.Errorf("generated %q (%s), want %q", res.Text, res.Type, tc.want)
			}
			wantCharge(t, j, 0, res.Usage)
			p := prompts[len(prompts)-1]
			if !p.JSON || p.Last != postBody || !strings.Contains(p.System, `focus keyword "sourdough bread"`) {
				t.Errorf("the model was asked JSON=%v with system %q and text %q", p.JSON, p.System, p.Last)
			}
		})
	}
}

func TestGenerateTextForAPost(t *testing.T) {
	f := newFixture(t, false)
	f.ai.SetReply(`{"title":"Sourdough Bread at Home: A Starter-to-Oven Guide for You"}`)
	j := f.run(seo.KindGenerateText, map[string]any{"post_id": f.post.ID, "type": "title", "post_chars": len(postBody)})
	res := result[seo.GenerateResult](t, j)
	if res.PostID != f.post.ID || res.Text != "Sourdough Bread at Home: A Starter-to-Oven Guide for You" {
		t.Errorf("result %+v", res)
	}
	req := f.ai.RequestsTo(aitest.PathChat)
	if len(req) != 1 || !strings.Contains(req[0].Prompt(), "Baking sourdough bread at home") ||
		!strings.Contains(string(req[0].Body), `its current title: \"Sourdough at home\"`) {
		t.Errorf("the model did not get the post and its title: %s", req[0].Body)
	}
}

func TestGenerateTextAsksAgainOnceForAWrongShape(t *testing.T) {
	f := newFixture(t, false)
	f.ai.Script(aitest.PathChat, aitest.Reply(`{"a":"x","b":"y"}`))
	f.ai.SetReply(`{"keywords":["rye"]}`)
	j := f.run(seo.KindGenerateText, map[string]any{"text": "Rye bread.", "type": "keywords"})
	res := result[seo.GenerateResult](t, j)
	if strings.Join(res.Keywords, ",") != "rye" || res.Usage["requests"] != 2 {
		t.Errorf("result %+v, want the second answer after 2 requests", res)
	}
	second := f.ai.RequestsTo(aitest.PathChat)[1]
	if !strings.Contains(string(second.Body), `not usable: wrong shape: the answer has no \"keywords\" field`) {
		t.Errorf("the second request does not say what was wrong: %s", second.Body)
	}
	wantCharge(t, j, 0, res.Usage)

	f.ai.SetReply(`{"a":"x","b":"y"}`) // never right: retried as a job, then failed
	j = f.run(seo.KindGenerateText, map[string]any{"text": "Rye bread.", "type": "keywords"})
	if j.Status != jobs.StatusFailed || j.Error.Code != "invalid_model_answer" || j.Attempt != 3 || *j.Credits.Charged != 0 {
		t.Errorf("job %s after %d attempts, error %+v, charged %d", j.Status, j.Attempt, j.Error, *j.Credits.Charged)
	}
}

func TestGenerateTextProviderFaults(t *testing.T) {
	cases := []struct {
		name     string
		steps    []aitest.Step
		status   jobs.Status
		code     string
		requests int
	}{
		{"429 with Retry-After, then an answer", []aitest.Step{aitest.Fail(429).RetryAfter(1)}, jobs.StatusSucceeded, "", 2},
		{"content policy: not retried", []aitest.Step{aitest.ContentPolicy()}, jobs.StatusFailed, "content_rejected", 1},
		{"invalid key: not retried", []aitest.Step{aitest.InvalidAPIKey()}, jobs.StatusFailed, "provider_auth_failed", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, false)
			f.ai.SetReply(`{"summary":"Bake it."}`)
			f.ai.Script(aitest.PathChat, tc.steps...)
			j := f.run(seo.KindGenerateText, map[string]any{"text": postBody, "type": "summary"})
			if j.Status != tc.status || (tc.code != "" && j.Error.Code != tc.code) {
				t.Fatalf("job %s %+v, want %s %s", j.Status, j.Error, tc.status, tc.code)
			}
			if got := f.ai.Calls(aitest.PathChat); got != tc.requests {
				t.Errorf("%d chat requests, want %d", got, tc.requests)
			}
			if j.Status == jobs.StatusFailed && (*j.Credits.Charged != 0 || j.Attempt != 1) {
				t.Errorf("a provider failure was charged %d after %d attempts, want 0 after 1", *j.Credits.Charged, j.Attempt)
			}
		})
	}
}

func TestPreflight(t *testing.T) {
	f := newFixture(t, true)
	_, err := f.submit(seo.KindGenerateText, map[string]any{"text": "x", "type": "title"})
	if p, ok := problem.As(err); !ok || p.Code != "provider_not_configured" || p.Kind != problem.Unavailable {
		t.Errorf("generate_text without a chat model: %v, want 503 provider_not_configured", err)
	}
	// The post of another tenant is not found, with or without a model.
	raw, _ := json.Marshal(map[string]any{"post_id": f.post.ID})
	_, err = f.jobs.Submit(context.Background(), jobs.SubmitRequest{TenantID: f.other, Kind: seo.KindAnalyze, Input: raw})
	if p, ok := problem.As(err); !ok || p.Code != "post_not_found" {
		t.Errorf("analyze of another tenant's post: %v, want post_not_found", err)
	}
	// post_chars smaller than the body would under-reserve.
	_, err = f.submit(seo.KindAnalyze, map[string]any{"post_id": f.post.ID, "post_chars": 10})
	if p, ok := problem.As(err); !ok || p.Fields["input.post_chars"] == "" {
		t.Errorf("a too small post_chars: %v, want a field error", err)
	}
	var count int
	testkit.Must(t, "count jobs", f.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM jobs`).Scan(&count))
	if count != 0 {
		t.Errorf("%d jobs written by refused submits", count)
	}
}

func TestAnalyzeWithoutAModel(t *testing.T) {
	f := newFixture(t, true)
	j := f.run(seo.KindAnalyze, map[string]any{"post_id": f.post.ID, "keyword": "sourdough bread", "post_chars": len(postBody)})
	res := result[seo.AnalyzeResult](t, j)
	if res.SuggestionsStatus != seo.SuggestionsSkipped || !strings.Contains(res.SuggestionsNote, "provider_not_configured") ||
		len(res.Suggestions) != 0 {
		t.Errorf("suggestions %s %q %v, want skipped with the reason", res.SuggestionsStatus, res.SuggestionsNote, res.Suggestions)
	}
	want := seo.Analyze(seo.Input{Text: postBody, Title: "Sourdough at home", MetaDescription: "How to bake sourdough bread at home.",
		Keyword: "sourdough bread", Language: "en", SiteURL: "https://blog.example"})
	if res.Score != want.Score || len(res.Checks) != len(want.Checks) || res.Stats.InternalLinks != 1 {
		t.Errorf("report score %d, %d checks, %d internal links; want Analyze's %d, %d, 1", res.Score, len(res.Checks),
			res.Stats.InternalLinks, want.Score, len(want.Checks))
	}
	if res.Title != "Sourdough at home" || res.MetaDescription != "How to bake sourdough bread at home." {
		t.Errorf("checked title %q and description %q, want the post's title and excerpt", res.Title, res.MetaDescription)
	}
	if *j.Credits.Charged != 1 || j.Credits.Reserved <= 1 {
		t.Errorf("charged %d of %d, want the rule-based unit only", *j.Credits.Charged, j.Credits.Reserved)
	}
}

func TestAnalyzeWithAModel(t *testing.T) {
	f := newFixture(t, false)
	var system string
	f.ai.SetReplyFunc(func(p aitest.Prompt) string {
		system = p.System
		return `{"suggestions":[{"area":"title","suggestion":"Put sourdough bread first in the title."},"Add a section on flour."]}`
	})
	j := f.run(seo.KindAnalyze, map[string]any{"text": postBody, "title": "Bread", "keyword": "sourdough bread"})
	res := result[seo.AnalyzeResult](t, j)
	if res.SuggestionsStatus != seo.SuggestionsAdded || len(res.Suggestions) != 2 || res.Suggestions[0].Area != "title" {
		t.Errorf("suggestions %s %+v", res.SuggestionsStatus, res.Suggestions)
	}
	if !strings.Contains(system, "- title is 5 characters; lengthen it to 50-60") {
		t.Errorf("the prompt does not carry the rule-based findings:\n%s", system)
	}
	wantCharge(t, j, 1, res.Usage)
}

func TestAnalyzeKeepsTheReportWhenSuggestionsFail(t *testing.T) {
	f := newFixture(t, false)
	f.ai.Script(aitest.PathChat, aitest.ContentPolicy())
	j := f.run(seo.KindAnalyze, map[string]any{"text": postBody})
	res := result[seo.AnalyzeResult](t, j)
	if res.SuggestionsStatus != seo.SuggestionsFailed || !strings.Contains(res.SuggestionsNote, "content_rejected") || res.Score == 0 {
		t.Errorf("status %s note %q score %d", res.SuggestionsStatus, res.SuggestionsNote, res.Score)
	}
	if *j.Credits.Charged != 1 {
		t.Errorf("charged %d, want the rule-based unit", *j.Credits.Charged)
	}
}

func TestJobOfAnotherSiteCannotReadThePost(t *testing.T) {
	f := newFixture(t, true)
	name, slug := "Shop", "shop"
	other, err := f.content.CreateSite(context.Background(), f.tenant, content.SiteInput{Name: &name, Slug: &slug})
	testkit.Must(t, "site", err)
	raw, _ := json.Marshal(map[string]any{"post_id": f.post.ID})
	j, err := f.jobs.Submit(context.Background(), jobs.SubmitRequest{TenantID: f.tenant, Kind: seo.KindAnalyze, Input: raw, SiteID: other.ID})
	testkit.Must(t, "submit", err)
	j, err = f.jobs.Wait(context.Background(), f.tenant, j.ID, 30*time.Second)
	testkit.Must(t, "wait", err)
	if j.Status != jobs.StatusFailed || j.Error.Code != "post_not_found" || j.Attempt != 1 {
		t.Errorf("job %s %+v after %d attempts, want failed post_not_found at once", j.Status, j.Error, j.Attempt)
	}
}
