package api_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/kilnhq/kiln/internal/testdata"
	"github.com/kilnhq/kiln/jobs"
)

// corpusFile reads a file of the shared corpora (see internal/testdata).
func corpusFile(t *testing.T, sub, name string) []byte {
	t.Helper()
	dir, err := testdata.Dir(sub)
	must(t, err)
	data, err := os.ReadFile(dir + "/" + name)
	must(t, err)
	return data
}

// pageServer serves a corpus page and the fetch-error cases.
func pageServer(t *testing.T) *httptest.Server {
	page := corpusFile(t, "html", "guardian-1/source.html")
	mux := http.NewServeMux()
	mux.HandleFunc("/article", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/data.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"not":"html"}`))
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		chunk := bytes.Repeat([]byte("<p>filler filler filler</p>\n"), 4096)
		for written := 0; written <= 11<<20; written += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/to-private", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://10.1.2.3/secret", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestPostFromURL: a real page becomes a post, read back through the API,
// with its metadata; recrawl refreshes the same post.
func TestPostFromURL(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	b.site(acme, "blog")
	srv := pageServer(t)

	j := b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/sites/blog/posts/from-url", Auth: acme.Token,
		Body: map[string]any{"url": srv.URL + "/article", "options": map[string]any{"tags": []string{"whales"}}}}).JSON(t)
	if j["kind"] != "post.from_url" || j["site_id"] == nil {
		t.Fatalf("from-url answered %v", j)
	}
	done := b.await(acme, j["id"].(string))
	if done["status"] != "succeeded" {
		t.Fatalf("job ended %v: %v", done["status"], done["error"])
	}
	postID := done["result"].(map[string]any)["post_id"].(string)
	post := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/posts/" + postID, Auth: acme.Token}).JSON(t)
	if !strings.HasPrefix(post["title"].(string), "'What is the sea telling us?'") {
		t.Errorf("title %q", post["title"])
	}
	md := post["body_markdown"].(string)
	if !strings.Contains(md, "whale") || strings.Contains(md, "<script") || len(md) < 2000 {
		t.Errorf("body_markdown looks wrong (%d bytes): %.300s", len(md), md)
	}
	if post["author"] != "Eleanor Ainge Roy" || post["language"] != "en" || post["source"].(map[string]any)["url"] != srv.URL+"/article" {
		t.Errorf("metadata: author %v language %v source %v", post["author"], post["language"], post["source"])
	}
	if tags := post["tags"].([]any); len(tags) != 1 || tags[0] != "whales" {
		t.Errorf("tags %v", tags)
	}
	var events int
	must(t, b.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM job_events WHERE job_id = $1 AND type = 'job.progress'`, j["id"]).Scan(&events))
	if events < 3 {
		t.Errorf("%d progress events, want fetch, extract and save", events)
	}

	// Recrawl: the same post, refreshed.
	_, err := b.db.Pool.Exec(t.Context(), `UPDATE posts SET title = 'stale' WHERE id = $1`, postID)
	must(t, err)
	rj := b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/sites/blog/posts/" + postID + "/recrawl", Auth: acme.Token}).JSON(t)
	rdone := b.await(acme, rj["id"].(string))
	if rdone["status"] != "succeeded" || rdone["result"].(map[string]any)["post_id"] != postID {
		t.Fatalf("recrawl ended %v with %v", rdone["status"], rdone["result"])
	}
	again := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/posts/" + postID, Auth: acme.Token}).JSON(t)
	if again["title"] == "stale" {
		t.Error("recrawl did not refresh the post")
	}
	var posts int
	must(t, b.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM posts`).Scan(&posts))
	if posts != 1 {
		t.Errorf("%d posts after a recrawl, want 1", posts)
	}
}

// TestPostFromURLFetchErrors: each way a fetch goes wrong ends the job
// with its own code; URLs Kiln may not reach are refused at submit.
func TestPostFromURLFetchErrors(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	b.site(acme, "blog")
	srv := pageServer(t)
	cases := map[string]string{
		"/missing":    "fetch_failed",
		"/data.json":  "unsupported_content_type",
		"/huge":       "response_too_large",
		"/loop":       "too_many_redirects",
		"/to-private": "egress_blocked",
		"/slow":       "fetch_timeout",
	}
	ids := map[string]string{}
	for path := range cases {
		ids[path] = b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/sites/blog/posts/from-url", Auth: acme.Token,
			Body: map[string]any{"url": srv.URL + path}}).JSON(t)["id"].(string)
	}
	for path, code := range cases {
		j := b.await(acme, ids[path])
		e, _ := j["error"].(map[string]any)
		if j["status"] != "failed" || e["code"] != code {
			t.Errorf("%s: job %v with %v, want failed with %s", path, j["status"], e, code)
		}
	}
	for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://0177.0.0.1/", "file:///etc/passwd"} {
		res := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/sites/blog/posts/from-url", Auth: acme.Token,
			Body: map[string]any{"url": u}})
		if res.Fields(t)["url"] == nil {
			t.Errorf("%s: %s", u, res.Body)
		}
	}
	var posts int
	must(t, b.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM posts`).Scan(&posts))
	if posts != 0 {
		t.Errorf("%d posts from failed fetches", posts)
	}
}

// TestPostFromURLRerunMakesOnePost: a job whose handler runs again after
// it saved (a worker that died before recording success) updates the post
// it made instead of making a second.
func TestPostFromURLRerunMakesOnePost(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	b.site(acme, "blog")
	var hits atomic.Int32
	page := corpusFile(t, "html", "guardian-1/source.html")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write(page)
	}))
	t.Cleanup(srv.Close)
	j := b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/sites/blog/posts/from-url", Auth: acme.Token,
		Body: map[string]any{"url": srv.URL}}).JSON(t)
	first := b.await(acme, j["id"].(string))
	b.awaitTaskGone(j["id"].(string))
	// Pretend the worker died after saving: the job is running again with
	// a dead heartbeat, so the relay hands it to a worker once more.
	_, err := b.db.Pool.Exec(t.Context(), `UPDATE jobs SET status = 'running', finished_at = NULL, result = NULL,
		heartbeat_at = now() - interval '1 hour', admitted_at = now() - interval '1 hour' WHERE id = $1`, j["id"])
	must(t, err)
	deadline := time.Now().Add(20 * time.Second)
	for hits.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	second := b.await(acme, j["id"].(string))
	if hits.Load() < 2 || second["status"] != "succeeded" {
		t.Fatalf("the handler did not run again (%d fetches, status %v)", hits.Load(), second["status"])
	}
	if first["result"].(map[string]any)["post_id"] != second["result"].(map[string]any)["post_id"] {
		t.Errorf("rerun made post %v, first run %v", second["result"], first["result"])
	}
	var posts int
	must(t, b.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM posts`).Scan(&posts))
	if posts != 1 {
		t.Errorf("%d posts after a rerun, want 1", posts)
	}
}

// TestPostFromPDF: an uploaded PDF becomes a post; bad PDFs fail with
// their codes, and a file that is no PDF is refused at once.
func TestPostFromPDF(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	b.site(acme, "blog")
	good := corpusFile(t, "pdf", "004-pdflatex-4-pages_pdflatex-4-pages.pdf")
	encrypted := corpusFile(t, "pdf", "005-libreoffice-writer-password_libreoffice-writer-password.pdf")

	submit := func(name string, data []byte) map[string]any {
		t.Helper()
		res := b.sendFormTo(acme.Token, "/api/v1/sites/blog/posts/from-pdf", formPart{Name: "file", Filename: name, Data: data})
		if res.Status != http.StatusAccepted {
			t.Fatalf("from-pdf %s: %d %s", name, res.Status, res.Body)
		}
		return res.JSON(t)
	}
	j := submit("paper.pdf", good)
	done := b.await(acme, j["id"].(string))
	if done["status"] != "succeeded" {
		t.Fatalf("from-pdf ended %v: %v", done["status"], done["error"])
	}
	res := done["result"].(map[string]any)
	post := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/posts/" + res["post_id"].(string), Auth: acme.Token}).JSON(t)
	if res["pages"] != float64(4) || len(post["body_markdown"].(string)) < 1000 || post["source"].(map[string]any)["type"] != "pdf" ||
		!strings.Contains(post["body_html"].(string), "<p>") {
		t.Errorf("post from PDF: pages %v, %d bytes of markdown, source %v", res["pages"], len(post["body_markdown"].(string)), post["source"])
	}

	// The same PDF by media id.
	jj := b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/sites/blog/posts/from-pdf", Auth: acme.Token,
		Body: map[string]any{"media_id": res["media_id"]}}).JSON(t)
	if d := b.await(acme, jj["id"].(string)); d["status"] != "succeeded" {
		t.Errorf("from-pdf by media_id ended %v: %v", d["status"], d["error"])
	}

	for name, tc := range map[string]struct {
		data []byte
		code string
	}{
		"truncated.pdf": {good[:len(good)/2], "pdf_invalid"},
		"locked.pdf":    {encrypted, "pdf_encrypted"},
	} {
		j := submit(name, tc.data)
		d := b.await(acme, j["id"].(string))
		if e, _ := d["error"].(map[string]any); d["status"] != "failed" || e["code"] != tc.code {
			t.Errorf("%s: %v %v, want failed with %s", name, d["status"], d["error"], tc.code)
		}
	}
	notPDF := b.sendFormTo(acme.Token, "/api/v1/sites/blog/posts/from-pdf", formPart{Name: "file", Filename: "x.pdf", Data: []byte("just some text, not a PDF at all")})
	if notPDF.Status != http.StatusUnsupportedMediaType {
		t.Errorf("a text file as PDF: %d %s, want 415", notPDF.Status, notPDF.Body)
	}
	var mediaRows, pdfJobs int
	must(t, b.db.Pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM media), (SELECT count(*) FROM jobs)`).Scan(&mediaRows, &pdfJobs))
	if mediaRows != 3 || pdfJobs != 4 {
		t.Errorf("%d media and %d jobs, want 3 and 4 (the refused upload leaves nothing)", mediaRows, pdfJobs)
	}
}

// awaitTaskGone waits until Asynq has acknowledged a job's task (the job
// can be final in Postgres a moment before), so a new task with the same
// id can be enqueued.
func (b *bundle) awaitTaskGone(jobID string) {
	b.t.Helper()
	insp := asynq.NewInspectorFromRedisClient(b.redis.Client)
	queue := jobs.QueueName(b.ns, jobs.PriorityNormal)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := insp.GetTaskInfo(queue, jobID)
		if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("Asynq still holds the task of %s: %v", jobID, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
