package transform_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/ai/aitest"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/content/transform"
	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/settings"
)

const body = `# Sourdough at home

Baking sourdough bread at home takes a lively [starter](https://example.com/starter), flour, water and salt.

## Feeding the starter

Feed it the night before with equal weights of flour and water.

## Baking

Bake in a hot oven for forty minutes. ![A loaf](/img/loaf.jpg)
`

// fixture runs post.transform over a test schema for a tenant with a site
// and a post, with the deployment's chat model on an aitest server.
type fixture struct {
	t         *testing.T
	db        *testkit.DB
	ns        string
	jobs      *jobs.Service
	content   *content.Service
	revisions *transform.Revisions
	ai        *aitest.Server
	tenant    string
	other     string
	site      string
	post      content.Post
}

func newFixture(t *testing.T, noProvider bool) *fixture {
	t.Helper()
	ctx := context.Background()
	db := testkit.NewDB(t)
	rd := testkit.NewRedis(t)
	log := testkit.Logger(t)
	f := &fixture{t: t, db: db, ns: testkit.Namespace(t, rd), ai: aitest.New(t), content: content.New(db.Pool, log)}
	defaults := map[string]settings.Integration{}
	if !noProvider {
		defaults[settings.OpenAI] = settings.Integration{BaseURL: f.ai.URL(), APIKey: f.ai.APIKey(),
			Models: map[ai.Capability]string{ai.CapChat: "gpt-4o-mini"}}
	}
	st, err := settings.New(db.Pool, log, settings.Config{Defaults: defaults, Prompts: transform.Prompts()})
	testkit.Must(t, "settings", err)
	kinds := jobs.NewRegistry()
	for _, k := range transform.New(db.Pool, f.content, st, log).Kinds() {
		kinds.Register(k)
	}
	f.revisions = transform.NewRevisions(db.Pool, f.content)
	f.jobs = jobs.New(db.Pool, rd.Client, log, jobs.Config{Namespace: f.ns, SignupCredits: 100, RelayInterval: 100 * time.Millisecond}, kinds)
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
	name, slug := "Blog", "blog"
	site, err := f.content.CreateSite(ctx, f.tenant, content.SiteInput{Name: &name, Slug: &slug})
	testkit.Must(t, "site", err)
	f.site = site.ID
	title, md, html := "Sourdough at home", body, render(t, body)
	f.post, err = f.content.CreatePost(ctx, f.tenant, f.site, content.PostInput{Title: &title, BodyMarkdown: &md, BodyHTML: &html})
	testkit.Must(t, "post", err)
	t.Cleanup(func() { testkit.CheckLedger(t, db.Pool) })
	return f
}

func (f *fixture) startWorker() { testkit.StartWorker(f.t, f.jobs, f.ns, 4) }

// submit submits post.transform of the fixture's post with fields.
func (f *fixture) submit(fields map[string]any) (jobs.Job, error) {
	fields["post_id"] = f.post.ID
	fields["post_chars"] = len([]rune(f.currentPost().BodyMarkdown))
	raw, _ := json.Marshal(fields)
	return f.jobs.Submit(context.Background(), jobs.SubmitRequest{TenantID: f.tenant, Kind: transform.Kind, Input: raw, SiteID: f.site})
}

// wait waits until job j is final.
func (f *fixture) wait(j jobs.Job) jobs.Job {
	f.t.Helper()
	j, err := f.jobs.Wait(context.Background(), f.tenant, j.ID, 30*time.Second)
	testkit.Must(f.t, "wait", err)
	if !j.Status.Final() {
		f.t.Fatalf("job %s is still %s", j.ID, j.Status)
	}
	return j
}

func (f *fixture) run(fields map[string]any) jobs.Job {
	f.t.Helper()
	j, err := f.submit(fields)
	testkit.Must(f.t, "submit", err)
	return f.wait(j)
}

func (f *fixture) currentPost() content.Post {
	f.t.Helper()
	p, err := f.content.GetPost(context.Background(), f.tenant, f.site, f.post.ID)
	testkit.Must(f.t, "get post", err)
	return p
}

func (f *fixture) list() []transform.Revision {
	f.t.Helper()
	revs, _, err := f.revisions.List(context.Background(), f.tenant, f.site, f.post.ID, pg.Page{Limit: 50})
	testkit.Must(f.t, "list revisions", err)
	return revs
}

// rewrite is a plausible transformation: every line of prose changed,
// headings, links and images kept.
func rewrite(md, marker string) string {
	var out []string
	for _, line := range strings.Split(md, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			line = marker + " " + line
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

func TestTransform(t *testing.T) {
	f := newFixture(t, false)
	f.startWorker()
	var prompts []aitest.Prompt
	f.ai.SetReplyFunc(func(p aitest.Prompt) string {
		prompts = append(prompts, p)
		return rewrite(p.Last, "Simply put,")
	})
	cases := []struct {
		name   string
		fields map[string]any
		// inPrompt must be in the system prompt.
		inPrompt, note string
	}{
		{"preset", map[string]any{"preset": "simplify"}, "Simplify the post for a general reader", "preset simplify"},
		{"change tone", map[string]any{"preset": "change_tone", "tone": "playful"}, "Rewrite the post in a playful tone", "preset change_tone (playful)"},
		{"instruction", map[string]any{"instruction": "Address the reader as you."}, "Instruction: Address the reader as you.", "instruction: Address the reader as you."},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.currentPost()
			j := f.run(tc.fields)
			var res transform.Result
			if j.Status != jobs.StatusSucceeded || json.Unmarshal(j.Result, &res) != nil {
				t.Fatalf("job %s %+v %s", j.Status, j.Error, j.Result)
			}
			p := prompts[len(prompts)-1]
			if p.Last != before.BodyMarkdown || !strings.Contains(p.System, tc.inPrompt) || !strings.Contains(p.System, `titled "Sourdough at home"`) {
				t.Errorf("the model got system %q and text %q", p.System, p.Last)
			}
			after := f.currentPost()
			if after.BodyMarkdown != strings.TrimSpace(rewrite(before.BodyMarkdown, "Simply put,")) {
				t.Errorf("body = %q", after.BodyMarkdown)
			}
			if !strings.Contains(after.BodyHTML, "<h2>Baking</h2>") || !strings.Contains(after.BodyHTML, "Simply put,") {
				t.Errorf("body_html was not rendered from the new body: %q", after.BodyHTML)
			}
			revs := f.list()
			if len(revs) != i+1 || revs[0].ID != res.RevisionID || revs[0].BodyMarkdown != before.BodyMarkdown ||
				revs[0].Note != tc.note || revs[0].Kind != transform.RevisionTransform || *revs[0].JobID != j.ID {
				t.Errorf("revisions %+v, want the old body first, noted %q", revs, tc.note)
			}
			if res.PostID != f.post.ID || res.Headings != 3 || res.Links != 2 || res.CharactersAfter <= res.CharactersBefore {
				t.Errorf("result %+v", res)
			}
			want := int64(math.Ceil(float64(res.Usage["prompt_tokens"]+res.Usage["completion_tokens"]) / 1000))
			if res.Usage["prompt_tokens"] == 0 || *j.Credits.Charged != want || want > j.Credits.Reserved {
				t.Errorf("charged %d of %d, want %d for usage %v", *j.Credits.Charged, j.Credits.Reserved, want, res.Usage)
			}
		})
	}
}

func TestTransformThatLosesStructureIsRetriedOnceThenFails(t *testing.T) {
	cases := []struct {
		name    string
		replies []string // per attempt
		status  jobs.Status
	}{
		{"second answer keeps it", []string{"# Sourdough at home\n\nShort.", ""}, jobs.StatusSucceeded},
		{"both answers drop links", []string{"# Sourdough at home\n\n## Feeding the starter\n\n## Baking\n\nNo links.",
			"# Sourdough at home\n\n## Feeding the starter\n\n## Baking\n\nStill none."}, jobs.StatusFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, false)
			f.startWorker()
			var systems []string
			f.ai.SetReplyFunc(func(p aitest.Prompt) string {
				systems = append(systems, p.System)
				if r := tc.replies[len(systems)-1]; r != "" {
					return r
				}
				return rewrite(p.Last, "Now:")
			})
			j := f.run(map[string]any{"preset": "summarize"})
			if j.Status != tc.status || j.Attempt != 2 || len(systems) != 2 {
				t.Fatalf("job %s after %d attempts and %d model calls (%+v), want %s after 2", j.Status, j.Attempt, len(systems), j.Error, tc.status)
			}
			if !strings.Contains(systems[1], "This is a second try: an earlier answer may have been refused for dropping a heading or a link") {
				t.Errorf("the second attempt was not told what went wrong:\n%s", systems[1])
			}
			revs := f.list()
			if tc.status == jobs.StatusSucceeded {
				if len(revs) != 1 || f.currentPost().BodyMarkdown == body {
					t.Errorf("%d revisions after success, body changed %v", len(revs), f.currentPost().BodyMarkdown != body)
				}
				return
			}
			if j.Error.Code != transform.CodeLostStructure || !strings.Contains(j.Error.Message, "https://example.com/starter") {
				t.Errorf("error %+v, want %s naming the lost link", j.Error, transform.CodeLostStructure)
			}
			if len(revs) != 0 || f.currentPost().BodyMarkdown != body || *j.Credits.Charged != 0 {
				t.Errorf("a failed transform left %d revisions, body changed %v, charged %d", len(revs), f.currentPost().BodyMarkdown != body, *j.Credits.Charged)
			}
		})
	}
}

func TestTransformFailures(t *testing.T) {
	t.Run("content policy is not retried", func(t *testing.T) {
		f := newFixture(t, false)
		f.startWorker()
		f.ai.Script(aitest.PathChat, aitest.ContentPolicy())
		j := f.run(map[string]any{"preset": "rewrite"})
		if j.Status != jobs.StatusFailed || j.Error.Code != "content_rejected" || j.Attempt != 1 || *j.Credits.Charged != 0 {
			t.Errorf("job %s %+v attempt %d charged %d", j.Status, j.Error, j.Attempt, *j.Credits.Charged)
		}
	})
	t.Run("an answer cut at the limit", func(t *testing.T) {
		f := newFixture(t, false)
		f.startWorker()
		f.ai.SetReply(strings.Repeat("word ", 5000))
		j := f.run(map[string]any{"preset": "rewrite"})
		if j.Status != jobs.StatusFailed || j.Error.Code != transform.CodeIncomplete || j.Attempt != 2 {
			t.Errorf("job %s %+v attempt %d", j.Status, j.Error, j.Attempt)
		}
		if f.currentPost().BodyMarkdown != body {
			t.Error("a cut answer was saved")
		}
	})
	t.Run("no chat model", func(t *testing.T) {
		f := newFixture(t, true)
		_, err := f.submit(map[string]any{"preset": "rewrite"})
		if p, ok := problem.As(err); !ok || p.Code != "provider_not_configured" || p.Kind != problem.Unavailable {
			t.Errorf("submit without a model: %v, want 503 provider_not_configured", err)
		}
	})
	t.Run("another tenant's post", func(t *testing.T) {
		f := newFixture(t, false)
		raw, _ := json.Marshal(map[string]any{"post_id": f.post.ID, "preset": "rewrite"})
		_, err := f.jobs.Submit(context.Background(), jobs.SubmitRequest{TenantID: f.other, Kind: transform.Kind, Input: raw})
		if p, ok := problem.As(err); !ok || p.Code != "post_not_found" {
			t.Errorf("submit for another tenant's post: %v, want post_not_found", err)
		}
	})
	t.Run("post_chars below the body", func(t *testing.T) {
		f := newFixture(t, false)
		raw, _ := json.Marshal(map[string]any{"post_id": f.post.ID, "preset": "rewrite", "post_chars": 5})
		_, err := f.jobs.Submit(context.Background(), jobs.SubmitRequest{TenantID: f.tenant, Kind: transform.Kind, Input: raw})
		if p, ok := problem.As(err); !ok || p.Fields["input.post_chars"] == "" {
			t.Errorf("post_chars 5: %v, want a field error on input.post_chars", err)
		}
	})
}

// TestRerunAfterACrash runs a job whose earlier run recorded its revision
// (and maybe saved it) before dying: the rerun finishes from the revision
// without asking the model, and there is one revision.
func TestRerunAfterACrash(t *testing.T) {
	for _, applied := range []bool{false, true} {
		t.Run(map[bool]string{false: "revision not yet saved", true: "revision saved"}[applied], func(t *testing.T) {
			f := newFixture(t, false)
			j, err := f.submit(map[string]any{"preset": "rewrite"})
			testkit.Must(t, "submit", err)
			newBody := strings.TrimSpace(rewrite(body, "Earlier:"))
			_, err = f.db.Pool.Exec(context.Background(), `INSERT INTO post_revisions (id, tenant_id, site_id, post_id, kind, job_id, note,
				title, body_markdown, body_html, new_body_markdown, new_body_html, prompt_tokens, completion_tokens, applied_at)
				VALUES ('rev_01jcrashcrashcrashcrash000', $1, $2, $3, 'transform', $4, 'preset rewrite', $5, $6, '', $7, $8, 900, 600,
				CASE WHEN $9 THEN now() END)`,
				f.tenant, f.site, f.post.ID, j.ID, f.post.Title, body, newBody, render(t, newBody), applied)
			testkit.Must(t, "insert the revision of the earlier run", err)
			if applied {
				_, err = f.content.UpdatePost(context.Background(), f.tenant, f.site, f.post.ID, content.PostInput{BodyMarkdown: &newBody})
				testkit.Must(t, "save the earlier run's body", err)
			}
			f.startWorker()
			j = f.wait(j)
			if j.Status != jobs.StatusSucceeded || f.ai.Calls(aitest.PathChat) != 0 {
				t.Fatalf("job %s %+v after %d model calls, want success without any", j.Status, j.Error, f.ai.Calls(aitest.PathChat))
			}
			if got := f.currentPost().BodyMarkdown; got != newBody {
				t.Errorf("body %q, want the earlier run's", got)
			}
			if revs := f.list(); len(revs) != 1 || revs[0].ID != "rev_01jcrashcrashcrashcrash000" {
				t.Errorf("revisions %+v, want the earlier run's only", revs)
			}
			if *j.Credits.Charged != 2 {
				t.Errorf("charged %d, want the earlier run's 1,500 tokens: 2", *j.Credits.Charged)
			}
		})
	}
}

func TestRestore(t *testing.T) {
	f := newFixture(t, false)
	f.startWorker()
	f.ai.SetReplyFunc(func(p aitest.Prompt) string { return rewrite(p.Last, "New:") })
	j := f.run(map[string]any{"preset": "rewrite"})
	if j.Status != jobs.StatusSucceeded {
		t.Fatalf("transform %s %+v", j.Status, j.Error)
	}
	transformed := f.currentPost().BodyMarkdown
	ctx := context.Background()
	first := f.list()[0]

	got, err := f.revisions.Restore(ctx, f.tenant, f.site, f.post.ID, first.ID, "usr_1")
	testkit.Must(t, "restore", err)
	if got.Post.BodyMarkdown != body || f.currentPost().BodyHTML != f.post.BodyHTML {
		t.Errorf("restored body %q, html changed %v; want the original", got.Post.BodyMarkdown, f.currentPost().BodyHTML != f.post.BodyHTML)
	}
	if r := got.Revision; r.Kind != transform.RevisionRestore || *r.RestoredFrom != first.ID || r.BodyMarkdown != transformed || r.CreatedBy != "usr_1" {
		t.Errorf("restore revision %+v", r)
	}
	revs := f.list()
	if len(revs) != 2 || revs[0].ID != got.Revision.ID || revs[1].ID != first.ID {
		t.Errorf("revisions %v, want the restore then the transform", revs)
	}
	// Restoring the restore undoes it.
	_, err = f.revisions.Restore(ctx, f.tenant, f.site, f.post.ID, got.Revision.ID, "usr_1")
	testkit.Must(t, "undo the restore", err)
	if f.currentPost().BodyMarkdown != transformed || len(f.list()) != 3 {
		t.Errorf("after undoing: body %q, %d revisions", f.currentPost().BodyMarkdown, len(f.list()))
	}

	title := "Other"
	other, err := f.content.CreatePost(ctx, f.tenant, f.site, content.PostInput{Title: &title})
	testkit.Must(t, "other post", err)
	for name, call := range map[string]func() error{
		"another tenant": func() error {
			_, err := f.revisions.Restore(ctx, f.other, f.site, f.post.ID, first.ID, "x")
			return err
		},
		"another post's revision": func() error {
			_, err := f.revisions.Restore(ctx, f.tenant, f.site, other.ID, first.ID, "x")
			return err
		},
		"not a revision id": func() error {
			_, err := f.revisions.Restore(ctx, f.tenant, f.site, f.post.ID, "job_1", "x")
			return err
		},
		"another tenant's list": func() error {
			_, _, err := f.revisions.List(ctx, f.other, f.site, f.post.ID, pg.Page{Limit: 10})
			return err
		},
	} {
		var p *problem.Problem
		if err := call(); !errors.As(err, &p) || p.Kind != problem.NotFound {
			t.Errorf("%s: %v, want not found", name, err)
		}
	}
	if len(f.list()) != 3 {
		t.Error("a refused restore recorded a revision")
	}
}

func TestAnEditDuringTheTransformIsKept(t *testing.T) {
	f := newFixture(t, false)
	j, err := f.submit(map[string]any{"preset": "rewrite"})
	testkit.Must(t, "submit", err)
	newBody := strings.TrimSpace(rewrite(body, "Model:"))
	// The model's answer is recorded but not yet applied when the user edits the post.
	_, err = f.db.Pool.Exec(context.Background(), `INSERT INTO post_revisions (id, tenant_id, site_id, post_id, kind, job_id, note,
		title, body_markdown, body_html, new_body_markdown, new_body_html, prompt_tokens, completion_tokens)
		VALUES ('rev_01jeditediteditedit0000000', $1, $2, $3, 'transform', $4, 'preset rewrite', $5, $6, '', $7, $8, 900, 600)`,
		f.tenant, f.site, f.post.ID, j.ID, f.post.Title, body, newBody, render(t, newBody))
	testkit.Must(t, "insert the revision", err)
	edited := body + "\n\nA paragraph the user added."
	_, err = f.content.UpdatePost(context.Background(), f.tenant, f.site, f.post.ID, content.PostInput{BodyMarkdown: &edited})
	testkit.Must(t, "edit the post", err)
	f.startWorker()
	j = f.wait(j)
	if j.Status != jobs.StatusFailed || j.Error == nil || j.Error.Code != transform.CodePostEdited || *j.Credits.Charged != 0 {
		t.Fatalf("job %s %+v charged %v, want failed post_edited with nothing charged", j.Status, j.Error, *j.Credits.Charged)
	}
	if got := f.currentPost().BodyMarkdown; got != edited {
		t.Errorf("body %q, want the user's edit kept", got)
	}
}

// render is content.RenderMarkdown, failing the test on error.
func render(t *testing.T, md string) string {
	t.Helper()
	html, err := content.RenderMarkdown(md)
	testkit.Must(t, "render markdown", err)
	return html
}
