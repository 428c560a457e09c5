package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/api"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/idempotency"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/rag"
)

// kb creates a knowledge base in t and returns it.
func (b *bundle) kb(t tenant, body map[string]any) map[string]any {
	b.t.Helper()
	return b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/knowledge-bases", Auth: t.Token, Body: body}).JSON(b.t)
}

// addDoc adds a document to kbID as t and returns the answer's document
// and job, failing unless it is 202 with the job's Location.
func (b *bundle) addDoc(t tenant, kbID string, body map[string]any) (doc, job map[string]any) {
	b.t.Helper()
	res := b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/knowledge-bases/" + kbID + "/documents", Auth: t.Token, Body: body})
	return b.accepted(res)
}

// accepted checks a {document, job} answer and returns both.
func (b *bundle) accepted(res response) (doc, job map[string]any) {
	b.t.Helper()
	m := res.JSON(b.t)
	doc, _ = m["document"].(map[string]any)
	job, _ = m["job"].(map[string]any)
	if doc == nil || job == nil || job["kind"] != "rag.index_document" || res.Header.Get("Location") != "http://kiln.test/api/v1/jobs/"+job["id"].(string) {
		b.t.Fatalf("answer %d %s, Location %q: want a document and its rag.index_document job", res.Status, res.Body, res.Header.Get("Location"))
	}
	return doc, job
}

// indexed waits for an index job to succeed and returns the document as
// GET shows it then, ready with chunks.
func (b *bundle) indexed(t tenant, doc, job map[string]any) map[string]any {
	b.t.Helper()
	if j := b.await(t, job["id"].(string)); j["status"] != "succeeded" {
		b.t.Fatalf("index job of %s ended %v: %v", doc["id"], j["status"], j["error"])
	}
	got := b.expect(http.StatusOK, req{Method: "GET", Auth: t.Token,
		Path: "/api/v1/knowledge-bases/" + doc["knowledge_base_id"].(string) + "/documents/" + doc["id"].(string)}).JSON(b.t)
	if got["status"] != "ready" || got["chunk_count"].(float64) < 1 || got["error"] != nil || got["indexed_at"] == nil {
		b.t.Fatalf("document after indexing: %v", got)
	}
	return got
}

// search posts a search to path (a knowledge base's or an agent's) and
// returns the results.
func (b *bundle) search(t tenant, path string, body map[string]any) []map[string]any {
	b.t.Helper()
	res := b.expect(http.StatusOK, req{Method: "POST", Path: path + "/search", Auth: t.Token, Body: body}).JSON(b.t)
	list, ok := res["results"].([]any)
	if !ok {
		b.t.Fatalf("search answered %v", res)
	}
	out := make([]map[string]any, len(list))
	for i, r := range list {
		out[i] = r.(map[string]any)
	}
	return out
}

// docIDs lists the distinct document ids of results, in order.
func docIDs(results []map[string]any) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range results {
		id := r["document_id"].(string)
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// chunksOf returns every chunk of a document, through a semantic search
// filtered to it (which ranks all of them), ordered by position.
func (b *bundle) chunksOf(t tenant, kbID, docID string) []map[string]any {
	b.t.Helper()
	res := b.search(t, "/api/v1/knowledge-bases/"+kbID, map[string]any{"query": "anything", "mode": "semantic", "top_k": 100,
		"filters": map[string]any{"document_ids": []string{docID}}})
	sort.Slice(res, func(i, j int) bool { return res[i]["position"].(float64) < res[j]["position"].(float64) })
	for i, r := range res {
		delete(r, "score")
		delete(r, "semantic_rank")
		if r["position"] != float64(i) {
			b.t.Fatalf("chunk positions %v: a duplicate or a gap at %d", positions(res), i)
		}
	}
	return res
}

func positions(res []map[string]any) []any {
	out := make([]any, len(res))
	for i, r := range res {
		out[i] = r["position"]
	}
	return out
}

func TestKnowledgeBaseCRUD(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	viewer, _ := b.member(acme, "viewer")

	res := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/knowledge-bases", Auth: acme.Token,
		Body:   map[string]any{"name": "Handbook", "description": "How we work", "metadata": map[string]any{"team": "ops"}},
		Header: map[string]string{"Idempotency-Key": "kb-1"}})
	kb := res.JSON(t)
	id := kb["id"].(string)
	if !strings.HasPrefix(id, "kb_") || res.Header.Get("Location") != "http://kiln.test/api/v1/knowledge-bases/"+id {
		t.Fatalf("id %q, Location %q", id, res.Header.Get("Location"))
	}
	// Offline defaults: the hash embedder and the chunk settings.
	if kb["embedding_provider"] != "hash" || kb["embedding_model"] != ai.HashModel || kb["embedding_dimensions"] != float64(384) ||
		kb["max_tokens"] != float64(512) || kb["overlap"] != float64(64) || kb["language"] != "en" || kb["document_count"] != float64(0) {
		t.Errorf("defaults: %v", kb)
	}
	replay := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/knowledge-bases", Auth: acme.Token,
		Body:   map[string]any{"name": "Handbook", "description": "How we work", "metadata": map[string]any{"team": "ops"}},
		Header: map[string]string{"Idempotency-Key": "kb-1"}})
	if replay.JSON(t)["id"] != id || replay.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("a retry with the same key made %v", replay.JSON(t)["id"])
	}

	got := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/knowledge-bases/" + id, Auth: viewer}).JSON(t)
	if got["name"] != "Handbook" || got["metadata"].(map[string]any)["team"] != "ops" {
		t.Errorf("get: %v", got)
	}
	list := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/knowledge-bases", Auth: viewer}).JSON(t)
	if n := len(list["data"].([]any)); n != 1 {
		t.Errorf("%d knowledge bases listed, want 1", n)
	}

	// A change that does not touch indexing starts no job.
	up := b.expect(http.StatusOK, req{Method: "PATCH", Path: "/api/v1/knowledge-bases/" + id, Auth: acme.Token,
		Body: map[string]any{"name": "Ops handbook"}}).JSON(t)
	if up["knowledge_base"].(map[string]any)["name"] != "Ops handbook" || up["reindex_job"] != nil {
		t.Errorf("patch name: %v", up)
	}
	// Nor does an indexing change of an empty knowledge base.
	up = b.expect(http.StatusOK, req{Method: "PATCH", Path: "/api/v1/knowledge-bases/" + id, Auth: acme.Token,
		Body: map[string]any{"max_tokens": 256, "embedding_dimensions": 256}}).JSON(t)
	if k := up["knowledge_base"].(map[string]any); k["max_tokens"] != float64(256) || k["embedding_dimensions"] != float64(256) || up["reindex_job"] != nil {
		t.Errorf("patch chunking of an empty knowledge base: %v", up)
	}

	for name, tc := range map[string]struct {
		method, path string
		body         map[string]any
		field        string
	}{
		"no name":             {"POST", "/api/v1/knowledge-bases", map[string]any{"description": "x"}, "name"},
		"tiny chunks":         {"POST", "/api/v1/knowledge-bases", map[string]any{"name": "x", "max_tokens": 5}, "max_tokens"},
		"unknown provider":    {"POST", "/api/v1/knowledge-bases", map[string]any{"name": "x", "embedding_provider": "magic"}, "embedding_provider"},
		"unknown field":       {"POST", "/api/v1/knowledge-bases", map[string]any{"name": "x", "chunk_size": 5}, "chunk_size"},
		"overlap past half":   {"PATCH", "/api/v1/knowledge-bases/" + id, map[string]any{"overlap": 200}, "overlap"},
		"metadata not object": {"PATCH", "/api/v1/knowledge-bases/" + id, map[string]any{"metadata": []int{1}}, "metadata"},
	} {
		res := b.expect(http.StatusUnprocessableEntity, req{Method: tc.method, Path: tc.path, Auth: acme.Token, Body: tc.body})
		if res.Fields(t)[tc.field] == nil {
			t.Errorf("%s: %s", name, res.Body)
		}
	}
	b.expect(http.StatusForbidden, req{Method: "POST", Path: "/api/v1/knowledge-bases", Auth: viewer, Body: map[string]any{"name": "x"}})
	b.expect(http.StatusForbidden, req{Method: "DELETE", Path: "/api/v1/knowledge-bases/" + id, Auth: viewer})

	b.expect(http.StatusNoContent, req{Method: "DELETE", Path: "/api/v1/knowledge-bases/" + id, Auth: acme.Token})
	if res := b.expect(http.StatusNotFound, req{Method: "GET", Path: "/api/v1/knowledge-bases/" + id, Auth: acme.Token}); res.ErrorCode(t) != "knowledge_base_not_found" {
		t.Errorf("deleted knowledge base: %s", res.Body)
	}
}

// TestDocumentsEndToEnd: a text, a Markdown, a URL, a PDF and a post
// document each go through their index job with the worker running, and
// search finds each by its own words, with heading paths and offsets.
func TestDocumentsEndToEnd(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	b.site(acme, "blog")
	pages := pageServer(t)
	kbID := b.kb(acme, map[string]any{"name": "Everything"})["id"].(string)
	kbPath := "/api/v1/knowledge-bases/" + kbID

	text := "Photosynthesis in kelp forests turns sunlight into sugar. Sea otters keep the urchins that graze the kelp in check."
	markdown := "# Volcanoes\n\nMountains that breathe fire.\n\n## Iceland\n\nThe Eyjafjallajökull eruption grounded flights across Europe in 2010.\n"
	post := b.post(acme, "blog", map[string]any{"title": "Lighthouse log",
		"body_markdown": "The lighthouse keeper counted seventeen albatrosses gliding past the lantern at dusk."})

	type source struct {
		body  map[string]any
		query string
	}
	sources := map[string]source{
		"text":     {map[string]any{"source_type": "text", "title": "Kelp", "content": text, "metadata": map[string]any{"kind": "note"}}, "kelp photosynthesis sunlight"},
		"markdown": {map[string]any{"source_type": "markdown", "content": markdown}, "Eyjafjallajökull eruption flights"},
		"url":      {map[string]any{"source_type": "url", "url": pages.URL + "/article"}, "Hori Parata whale strandings"},
		"post":     {map[string]any{"source_type": "post", "post_id": post["id"]}, "lighthouse keeper albatrosses"},
	}
	docs := map[string]map[string]any{}
	jobsOf := map[string]map[string]any{}
	for name, src := range sources {
		doc, job := b.addDoc(acme, kbID, src.body)
		if doc["status"] != "pending" || doc["source_type"] != src.body["source_type"] || !strings.HasPrefix(doc["id"].(string), "doc_") {
			t.Fatalf("%s: document %v", name, doc)
		}
		docs[name], jobsOf[name] = doc, job
	}
	pdf := corpusFile(t, "pdf", "004-pdflatex-4-pages_pdflatex-4-pages.pdf")
	res := b.sendFormTo(acme.Token, kbPath+"/documents", formPart{Name: "file", Filename: "blind.pdf", Data: pdf},
		formPart{Name: "metadata", Data: []byte(`{"kind":"paper"}`)})
	if res.Status != http.StatusAccepted {
		t.Fatalf("PDF upload: %d %s", res.Status, res.Body)
	}
	docs["pdf"], jobsOf["pdf"] = b.accepted(res)
	sources["pdf"] = source{map[string]any{"source_type": "pdf"}, "Huardest gefburn"}
	if docs["pdf"]["source_ref"] != "blind.pdf" || docs["pdf"]["metadata"].(map[string]any)["kind"] != "paper" {
		t.Errorf("PDF document: %v", docs["pdf"])
	}

	for name := range sources {
		docs[name] = b.indexed(acme, docs[name], jobsOf[name])
	}
	if docs["post"]["title"] != "Lighthouse log" || docs["post"]["source_ref"] != post["id"] {
		t.Errorf("post document: %v", docs["post"])
	}
	if !strings.Contains(docs["url"]["title"].(string), "What is the sea telling us?") || docs["url"]["chunk_count"].(float64) < 2 {
		t.Errorf("URL document: %v", docs["url"])
	}
	for name, src := range sources {
		for _, mode := range []string{"hybrid", "keyword", "semantic"} {
			results := b.search(acme, kbPath, map[string]any{"query": src.query, "mode": mode, "top_k": 3})
			if len(results) == 0 || results[0]["document_id"] != docs[name]["id"] {
				t.Errorf("%s search for %q (%s) found %v first, want %s", mode, src.query, name, docIDs(results), docs[name]["id"])
			}
		}
	}

	// A result carries its text, document, heading path, offsets and score.
	top := b.search(acme, kbPath, map[string]any{"query": "Eyjafjallajökull eruption"})[0]
	if !reflect.DeepEqual(top["heading_path"], []any{"Volcanoes", "Iceland"}) || !strings.Contains(top["text"].(string), "Eyjafjallajökull") ||
		top["knowledge_base_id"] != kbID || top["score"].(float64) <= 0 || top["end"].(float64) <= top["start"].(float64) {
		t.Errorf("top result: %v", top)
	}
	if start, end := int(top["start"].(float64)), int(top["end"].(float64)); string([]rune(markdown)[start:end]) != top["text"] {
		t.Errorf("offsets %d-%d do not give the chunk's text from the document", start, end)
	}

	// Lists, with the status filter.
	list := b.expect(http.StatusOK, req{Method: "GET", Path: kbPath + "/documents?status=ready", Auth: acme.Token}).JSON(t)
	if n := len(list["data"].([]any)); n != 5 {
		t.Errorf("%d ready documents listed, want 5", n)
	}
	if l := b.expect(http.StatusOK, req{Method: "GET", Path: kbPath + "/documents?status=failed", Auth: acme.Token}).JSON(t); len(l["data"].([]any)) != 0 {
		t.Errorf("failed documents: %v", l)
	}
	b.expect(http.StatusUnprocessableEntity, req{Method: "GET", Path: kbPath + "/documents?status=done", Auth: acme.Token})
	if kb := b.expect(http.StatusOK, req{Method: "GET", Path: kbPath, Auth: acme.Token}).JSON(t); kb["document_count"] != float64(5) {
		t.Errorf("document_count = %v", kb["document_count"])
	}
	// The uploaded PDF is kept where the index job read it.
	if _, err := os.Stat(filepath.Join(b.mediaDir, acme.ID, "rag", docs["pdf"]["id"].(string))); err != nil {
		t.Errorf("uploaded PDF: %v", err)
	}
	b.checkLedger()
}

// TestDeleteDocumentRemovesItsChunks: once a document is deleted, no
// search finds its chunks, and its uploaded PDF is gone.
func TestDeleteDocumentRemovesItsChunks(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	kbID := b.kb(acme, map[string]any{"name": "kb"})["id"].(string)
	kbPath := "/api/v1/knowledge-bases/" + kbID
	keep := b.addIndexed(acme, kbID, map[string]any{"source_type": "text", "content": "Quokkas smile on Rottnest Island."})
	gone := b.addIndexed(acme, kbID, map[string]any{"source_type": "text", "content": "Quokkas are marsupials; wombats dig burrows."})
	res := b.sendFormTo(acme.Token, kbPath+"/documents", formPart{Name: "file", Filename: "blind.pdf",
		Data: corpusFile(t, "pdf", "004-pdflatex-4-pages_pdflatex-4-pages.pdf")})
	pdfDoc, pdfJob := b.accepted(res)
	pdf := b.indexed(acme, pdfDoc, pdfJob)
	if got := docIDs(b.search(acme, kbPath, map[string]any{"query": "quokkas wombats burrows Huardest gefburn", "mode": "keyword"})); len(got) != 3 {
		t.Fatalf("before delete: %v", got)
	}

	b.expect(http.StatusNoContent, req{Method: "DELETE", Path: kbPath + "/documents/" + gone["id"].(string), Auth: acme.Token})
	b.expect(http.StatusNoContent, req{Method: "DELETE", Path: kbPath + "/documents/" + pdf["id"].(string), Auth: acme.Token})
	for _, mode := range []string{"hybrid", "keyword", "semantic"} {
		got := docIDs(b.search(acme, kbPath, map[string]any{"query": "quokkas wombats burrows Huardest gefburn", "mode": mode, "top_k": 100}))
		if len(got) != 1 || got[0] != keep["id"] {
			t.Errorf("%s search after delete finds %v, want only %s", mode, got, keep["id"])
		}
	}
	b.expect(http.StatusNotFound, req{Method: "GET", Path: kbPath + "/documents/" + gone["id"].(string), Auth: acme.Token})
	b.expect(http.StatusNotFound, req{Method: "DELETE", Path: kbPath + "/documents/" + gone["id"].(string), Auth: acme.Token})
	if _, err := os.Stat(filepath.Join(b.mediaDir, acme.ID, "rag", pdf["id"].(string))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the deleted document's PDF is still stored: %v", err)
	}
	// A document is reached through its own knowledge base only.
	other := b.kb(acme, map[string]any{"name": "other"})["id"].(string)
	b.expect(http.StatusNotFound, req{Method: "GET", Path: "/api/v1/knowledge-bases/" + other + "/documents/" + keep["id"].(string), Auth: acme.Token})
	b.expect(http.StatusNotFound, req{Method: "DELETE", Path: "/api/v1/knowledge-bases/" + other + "/documents/" + keep["id"].(string), Auth: acme.Token})

	// Deleting the knowledge base takes the rest.
	b.expect(http.StatusNoContent, req{Method: "DELETE", Path: kbPath, Auth: acme.Token})
	b.expect(http.StatusNotFound, req{Method: "POST", Path: kbPath + "/search", Auth: acme.Token, Body: map[string]any{"query": "quokkas"}})
	var docsLeft int
	must(t, b.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM kb_documents WHERE knowledge_base_id = $1`, kbID).Scan(&docsLeft))
	if docsLeft != 0 {
		t.Errorf("%d documents left after deleting their knowledge base", docsLeft)
	}
}

// addIndexed adds a document and waits until it is indexed.
func (b *bundle) addIndexed(t tenant, kbID string, body map[string]any) map[string]any {
	b.t.Helper()
	doc, job := b.addDoc(t, kbID, body)
	return b.indexed(t, doc, job)
}

// longText is prose long enough for several small chunks.
func longText(topic string, n int) string {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "Paragraph %d about %s. It says something particular about %s, number %d, and then goes on.\n\n", i, topic, topic, i)
	}
	return sb.String()
}

// TestReindexGivesTheSameChunks: reindexing twice leaves exactly the
// chunks indexing made, no duplicates; a settings change re-chunks
// through the reindex job the PATCH starts.
func TestReindexGivesTheSameChunks(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	kbID := b.kb(acme, map[string]any{"name": "kb", "max_tokens": 48, "overlap": 8})["id"].(string)
	kbPath := "/api/v1/knowledge-bases/" + kbID
	a := b.addIndexed(acme, kbID, map[string]any{"source_type": "text", "content": longText("herons", 12)})
	c := b.addIndexed(acme, kbID, map[string]any{"source_type": "markdown", "content": "# Egrets\n\n" + longText("egrets", 8)})
	before := map[string][]map[string]any{}
	for _, d := range []map[string]any{a, c} {
		before[d["id"].(string)] = b.chunksOf(acme, kbID, d["id"].(string))
		if n := len(before[d["id"].(string)]); n < 3 || float64(n) != d["chunk_count"] {
			t.Fatalf("document %s: %d chunks found, chunk_count %v", d["id"], n, d["chunk_count"])
		}
	}

	for round := 1; round <= 2; round++ {
		res := b.expect(http.StatusAccepted, req{Method: "POST", Path: kbPath + "/reindex", Auth: acme.Token})
		j := res.JSON(t)
		if j["kind"] != "rag.reindex" || res.Header.Get("Location") != j["urls"].(map[string]any)["self"] {
			t.Fatalf("reindex answered %v", j)
		}
		done := b.await(acme, j["id"].(string))
		result, _ := done["result"].(map[string]any)["result"].(map[string]any)
		if done["status"] != "succeeded" || done["progress"] != float64(100) || result["documents"] != float64(2) || result["failed"] != float64(0) {
			t.Fatalf("reindex %d ended %v, progress %v, result %v", round, done["status"], done["progress"], done["result"])
		}
		for id, want := range before {
			if got := b.chunksOf(acme, kbID, id); !reflect.DeepEqual(got, want) {
				t.Errorf("reindex %d changed the chunks of %s: %d chunks, had %d", round, id, len(got), len(want))
			}
		}
	}
	all := b.search(acme, kbPath, map[string]any{"query": "paragraph", "mode": "semantic", "top_k": 100})
	if len(all) != len(before[a["id"].(string)])+len(before[c["id"].(string)]) {
		t.Errorf("%d chunks in the knowledge base after two reindexes, want %d + %d", len(all), len(before[a["id"].(string)]), len(before[c["id"].(string)]))
	}

	// Larger chunks: the PATCH starts the reindex and the counts follow.
	up := b.expect(http.StatusOK, req{Method: "PATCH", Path: kbPath, Auth: acme.Token, Body: map[string]any{"max_tokens": 512}}).JSON(t)
	rj, _ := up["reindex_job"].(map[string]any)
	if rj == nil || rj["kind"] != "rag.reindex" {
		t.Fatalf("a chunk-size change answered %v, want a reindex job", up)
	}
	if done := b.await(acme, rj["id"].(string)); done["status"] != "succeeded" {
		t.Fatalf("reindex after PATCH ended %v: %v", done["status"], done["error"])
	}
	if got := b.chunksOf(acme, kbID, a["id"].(string)); len(got) >= len(before[a["id"].(string)]) {
		t.Errorf("%d chunks at max_tokens 512, had %d at 48", len(got), len(before[a["id"].(string)]))
	}

	// compute-rag-index indexes one document again, to the same chunks.
	want := b.chunksOf(acme, kbID, c["id"].(string))
	doc, job := b.accepted(b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/agents/knowledge-base/" + c["id"].(string) + "/compute-rag-index", Auth: acme.Token}))
	b.indexed(acme, doc, job)
	if got := b.chunksOf(acme, kbID, c["id"].(string)); !reflect.DeepEqual(got, want) {
		t.Errorf("compute-rag-index changed the chunks: %d, had %d", len(got), len(want))
	}

	// A reindex the tenant cannot pay for leaves the settings as they were.
	_, err := b.jobs.SetCosts(context.Background(), acme.ID, map[string]int64{"rag.reindex": 5000})
	must(t, err)
	if res := b.expect(http.StatusPaymentRequired, req{Method: "PATCH", Path: kbPath, Auth: acme.Token, Body: map[string]any{"max_tokens": 64}}); res.ErrorCode(t) != "insufficient_credits" {
		t.Errorf("unaffordable reindex: %s", res.Body)
	}
	if kb := b.expect(http.StatusOK, req{Method: "GET", Path: kbPath, Auth: acme.Token}).JSON(t); kb["max_tokens"] != float64(512) {
		t.Errorf("max_tokens = %v after a refused reindex, want 512 still", kb["max_tokens"])
	}
	b.checkLedger()
}

// TestSearchFilters: filters by document id and by metadata (equality,
// membership, arrays in metadata), and metadata updated in place.
func TestSearchFilters(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	kbID := b.kb(acme, map[string]any{"name": "kb"})["id"].(string)
	kbPath := "/api/v1/knowledge-bases/" + kbID
	en := b.addIndexed(acme, kbID, map[string]any{"source_type": "text", "content": "Penguins huddle against the Antarctic wind.",
		"metadata": map[string]any{"lang": "en", "tags": []string{"birds", "cold"}, "year": 2024}})
	de := b.addIndexed(acme, kbID, map[string]any{"source_type": "text", "content": "Penguins brüten im antarktischen Winter.",
		"metadata": map[string]any{"lang": "de", "tags": []string{"birds"}, "year": 2023}})
	fr := b.addIndexed(acme, kbID, map[string]any{"source_type": "text", "content": "Penguins plongent sous la glace.",
		"metadata": map[string]any{"lang": "fr"}})
	enID, deID, frID := en["id"].(string), de["id"].(string), fr["id"].(string)

	tests := []struct {
		name    string
		filters map[string]any
		want    []string
	}{
		{"no filter", nil, []string{enID, deID, frID}},
		{"one document", map[string]any{"document_ids": []string{deID}}, []string{deID}},
		{"two documents", map[string]any{"document_ids": []string{enID, frID}}, []string{enID, frID}},
		{"metadata equality", map[string]any{"metadata": map[string]any{"lang": "de"}}, []string{deID}},
		{"metadata membership", map[string]any{"metadata": map[string]any{"lang": []string{"en", "fr"}}}, []string{enID, frID}},
		{"a value in a metadata array", map[string]any{"metadata": map[string]any{"tags": "cold"}}, []string{enID}},
		{"a number", map[string]any{"metadata": map[string]any{"year": 2023}}, []string{deID}},
		{"every key must match", map[string]any{"metadata": map[string]any{"tags": "birds", "lang": "en"}}, []string{enID}},
		{"documents and metadata", map[string]any{"document_ids": []string{enID, deID}, "metadata": map[string]any{"lang": "fr"}}, nil},
		{"a document of no knowledge base", map[string]any{"document_ids": []string{"doc_nope"}}, nil},
	}
	for _, tt := range tests {
		for _, mode := range []string{"hybrid", "keyword", "semantic"} {
			got := docIDs(b.search(acme, kbPath, map[string]any{"query": "penguins", "mode": mode, "filters": tt.filters}))
			sort.Strings(got)
			want := append([]string(nil), tt.want...)
			sort.Strings(want)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s (%s): found %v, want %v", tt.name, mode, got, want)
			}
		}
	}

	// Metadata changed on a document is what filters see at once.
	up := b.expect(http.StatusOK, req{Method: "PATCH", Path: kbPath + "/documents/" + frID, Auth: acme.Token,
		Body: map[string]any{"metadata": map[string]any{"lang": "de"}}}).JSON(t)
	if up["metadata"].(map[string]any)["lang"] != "de" {
		t.Errorf("patched document: %v", up)
	}
	got := docIDs(b.search(acme, kbPath, map[string]any{"query": "penguins", "filters": map[string]any{"metadata": map[string]any{"lang": "de"}}}))
	sort.Strings(got)
	if want := []string{deID, frID}; !reflect.DeepEqual(got, sortedCopy(want)) {
		t.Errorf("after the metadata change: %v, want %v", got, want)
	}

	// Bad requests name the field.
	for field, body := range map[string]map[string]any{
		"mode":             {"query": "penguins", "mode": "psychic"},
		"top_k":            {"query": "penguins", "top_k": 1000},
		"query":            {"mode": "keyword"},
		"score_threshold":  {"query": "penguins", "score_threshold": 3},
		"filters.metadata": {"query": "penguins", "filters": map[string]any{"metadata": map[string]any{"lang": map[string]any{"$ne": "en"}}}},
		"filters.unknown":  {"query": "penguins", "filters": map[string]any{"unknown": 1}},
	} {
		res := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: kbPath + "/search", Auth: acme.Token, Body: body})
		fields := res.Fields(t)
		found := false
		for f := range fields {
			found = found || strings.HasPrefix(f, field) || strings.HasSuffix(field, f)
		}
		if !found {
			t.Errorf("%v: %s, want a problem with %s", body, res.Body, field)
		}
	}
	// A threshold drops the weak results.
	if res := b.search(acme, kbPath, map[string]any{"query": "penguins antarctic wind", "mode": "keyword", "score_threshold": 0.5}); len(docIDs(res)) != 1 {
		t.Errorf("score_threshold 0.5 keeps %v, want the document with every word", docIDs(res))
	}
	// Search counts against the ai rate limit.
	res := b.do(req{Method: "POST", Path: kbPath + "/search", Auth: acme.Token, Body: map[string]any{"query": "penguins"}})
	if !strings.HasPrefix(res.Header.Get("RateLimit-Policy"), `"ai"`) {
		t.Errorf("search's rate-limit policy %q, want the ai scope", res.Header.Get("RateLimit-Policy"))
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// TestAddDocumentRefusals: bad sources are refused before anything is
// written, and a document whose job cannot be submitted (or whose upload
// is no PDF) leaves neither a document nor a file behind.
func TestAddDocumentRefusals(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	globex := b.signup("Globex")
	b.site(globex, "gblog")
	globexPost := b.post(globex, "gblog", map[string]any{"title": "Globex secret"})
	kbID := b.kb(acme, map[string]any{"name": "kb"})["id"].(string)
	docsPath := "/api/v1/knowledge-bases/" + kbID + "/documents"

	for name, tc := range map[string]struct {
		body  map[string]any
		field string
	}{
		"no source type":          {map[string]any{"content": "x"}, "source_type"},
		"unknown source type":     {map[string]any{"source_type": "fax", "content": "x"}, "source_type"},
		"text without content":    {map[string]any{"source_type": "text"}, "content"},
		"text with a url":         {map[string]any{"source_type": "text", "content": "x", "url": "https://example.com"}, "url"},
		"url without url":         {map[string]any{"source_type": "url"}, "url"},
		"metadata data center":    {map[string]any{"source_type": "url", "url": "http://169.254.169.254/latest/meta-data/"}, "url"},
		"a file url":              {map[string]any{"source_type": "url", "url": "file:///etc/passwd"}, "url"},
		"another tenant's post":   {map[string]any{"source_type": "post", "post_id": globexPost["id"]}, "post_id"},
		"a media id of no one":    {map[string]any{"source_type": "pdf", "media_id": "med_nope"}, "media_id"},
		"metadata not an object":  {map[string]any{"source_type": "text", "content": "x", "metadata": "x"}, "metadata"},
		"unknown field":           {map[string]any{"source_type": "text", "content": "x", "colour": "red"}, "colour"},
		"pdf without a media id":  {map[string]any{"source_type": "pdf"}, "media_id"},
		"post without a post id":  {map[string]any{"source_type": "post"}, "post_id"},
		"a title far too long":    {map[string]any{"source_type": "text", "content": "x", "title": strings.Repeat("t", 501)}, "title"},
		"markdown with a post id": {map[string]any{"source_type": "markdown", "content": "x", "post_id": "post_x"}, "post_id"},
	} {
		res := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: docsPath, Auth: acme.Token, Body: tc.body})
		if res.Fields(t)[tc.field] == nil {
			t.Errorf("%s: %s, want a problem with %s", name, res.Body, tc.field)
		}
	}
	// A media file that is no PDF.
	b.site(acme, "blog")
	note := b.upload(acme, "blog", "note.txt", []byte("just a note"), nil).JSON(t)["id"]
	if res := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: docsPath, Auth: acme.Token,
		Body: map[string]any{"source_type": "pdf", "media_id": note}}); res.Fields(t)["media_id"] == nil {
		t.Errorf("a text media file as PDF: %s", res.Body)
	}
	// An upload that is no PDF.
	if res := b.sendFormTo(acme.Token, docsPath, formPart{Name: "file", Filename: "x.pdf", Data: []byte("just some text, not a PDF")}); res.Status != http.StatusUnsupportedMediaType || res.ErrorCode(t) != "not_a_pdf" {
		t.Errorf("a text file as PDF: %d %s", res.Status, res.Body)
	}
	if res := b.sendFormTo(acme.Token, docsPath, formPart{Name: "file", Filename: "x.pdf", Data: []byte("%PDF-1.4")},
		formPart{Name: "metadata", Data: []byte("[1]")}, formPart{Name: "colour", Data: []byte("red")}); res.Status != http.StatusUnprocessableEntity ||
		res.Fields(t)["metadata"] == nil || res.Fields(t)["colour"] == nil {
		t.Errorf("bad form fields: %d %s", res.Status, res.Body)
	}

	// No credits for the job: nothing is left, neither document nor file.
	_, err := b.jobs.SetCosts(context.Background(), acme.ID, map[string]int64{"rag.index_document": 500})
	must(t, err)
	pdf := corpusFile(t, "pdf", "004-pdflatex-4-pages_pdflatex-4-pages.pdf")
	if res := b.sendFormTo(acme.Token, docsPath, formPart{Name: "file", Filename: "paper.pdf", Data: pdf}); res.Status != http.StatusPaymentRequired {
		t.Errorf("upload without credits: %d %s", res.Status, res.Body)
	}
	b.expect(http.StatusPaymentRequired, req{Method: "POST", Path: docsPath, Auth: acme.Token, Body: map[string]any{"source_type": "text", "content": "x"}})
	var docs int
	must(t, b.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM kb_documents`).Scan(&docs))
	if docs != 0 {
		t.Errorf("%d documents left by refused adds", docs)
	}
	if entries, err := os.ReadDir(filepath.Join(b.mediaDir, acme.ID, "rag")); err == nil && len(entries) != 0 {
		t.Errorf("files left by refused uploads: %v", entries)
	}

	// Idempotency-Key: one document for two tries, for JSON and for uploads.
	_, err = b.jobs.SetCosts(context.Background(), acme.ID, map[string]int64{"rag.index_document": 1})
	must(t, err)
	key := map[string]string{"Idempotency-Key": "doc-1"}
	first := b.expect(http.StatusAccepted, req{Method: "POST", Path: docsPath, Auth: acme.Token, Header: key, Body: map[string]any{"source_type": "text", "content": "once"}})
	again := b.expect(http.StatusAccepted, req{Method: "POST", Path: docsPath, Auth: acme.Token, Header: key, Body: map[string]any{"source_type": "text", "content": "once"}})
	if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
		t.Errorf("a retry of a document add was not replayed: %s", again.Body)
	}
	b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: docsPath, Auth: acme.Token, Header: key, Body: map[string]any{"source_type": "text", "content": "twice"}})
	up := map[string]string{"Idempotency-Key": "upload-1"}
	u1 := b.sendFormWith(acme.Token, docsPath, up, formPart{Name: "file", Filename: "paper.pdf", Data: pdf})
	u2 := b.sendFormWith(acme.Token, docsPath, up, formPart{Name: "file", Filename: "paper.pdf", Data: pdf})
	if u1.Status != http.StatusAccepted || u2.Header.Get("Idempotent-Replayed") != "true" || string(u1.Body) != string(u2.Body) {
		t.Errorf("a retried upload: %d then %d %s", u1.Status, u2.Status, u2.Body)
	}
	must(t, b.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM kb_documents`).Scan(&docs))
	if docs != 2 {
		t.Errorf("%d documents after two retried adds, want 2", docs)
	}
	b.checkLedger()
}

// TestRAGTenantIsolation: another tenant's knowledge base is a 404 on
// every route, and its chunks never appear in results, even when asked
// for by document id.
func TestRAGTenantIsolation(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	globex := b.signup("Globex")
	acmeKB := b.kb(acme, map[string]any{"name": "acme"})["id"].(string)
	globexKB := b.kb(globex, map[string]any{"name": "globex"})["id"].(string)
	secret := b.addIndexed(acme, acmeKB, map[string]any{"source_type": "text",
		"content": "Project Nightjar launches the zeppelin fleet in March.", "metadata": map[string]any{"team": "skunkworks"}})
	own := b.addIndexed(globex, globexKB, map[string]any{"source_type": "text",
		"content": "Globex plans a zeppelin museum.", "metadata": map[string]any{"team": "skunkworks"}})

	for _, path := range []string{"", "/documents", "/documents/" + secret["id"].(string)} {
		b.expect(http.StatusNotFound, req{Method: "GET", Path: "/api/v1/knowledge-bases/" + acmeKB + path, Auth: globex.Token})
	}
	b.expect(http.StatusNotFound, req{Method: "POST", Path: "/api/v1/knowledge-bases/" + acmeKB + "/search", Auth: globex.Token,
		Body: map[string]any{"query": "zeppelin"}})
	// Acme's document through Globex's own knowledge base is still a 404.
	b.expect(http.StatusNotFound, req{Method: "GET", Path: "/api/v1/knowledge-bases/" + globexKB + "/documents/" + secret["id"].(string), Auth: globex.Token})
	b.expect(http.StatusNotFound, req{Method: "DELETE", Path: "/api/v1/knowledge-bases/" + globexKB + "/documents/" + secret["id"].(string), Auth: globex.Token})

	for _, filters := range []map[string]any{
		nil,
		{"document_ids": []string{secret["id"].(string)}},
		{"document_ids": []string{secret["id"].(string), own["id"].(string)}},
		{"metadata": map[string]any{"team": "skunkworks"}},
	} {
		for _, mode := range []string{"hybrid", "keyword", "semantic"} {
			got := docIDs(b.search(globex, "/api/v1/knowledge-bases/"+globexKB, map[string]any{"query": "Project Nightjar zeppelin fleet", "mode": mode, "filters": filters, "top_k": 100}))
			for _, id := range got {
				if id != own["id"] {
					t.Errorf("Globex's %s search with filters %v found %s", mode, filters, id)
				}
			}
		}
	}
	// An agent cannot be pointed at another tenant's knowledge base.
	res := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/agents", Auth: globex.Token,
		Body: map[string]any{"name": "spy", "knowledge_base_ids": []string{acmeKB}}})
	if res.Fields(t)["knowledge_base_ids"] == nil {
		t.Errorf("agent over another tenant's knowledge base: %s", res.Body)
	}
	agent := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/agents", Auth: globex.Token,
		Body: map[string]any{"name": "agent", "knowledge_base_ids": []string{globexKB}}}).JSON(t)
	got := docIDs(b.search(globex, "/api/v1/agents/"+agent["id"].(string), map[string]any{"query": "Nightjar zeppelin",
		"filters": map[string]any{"document_ids": []string{secret["id"].(string)}}}))
	if len(got) != 0 {
		t.Errorf("Globex's agent found %v by Acme's document id", got)
	}
	b.expect(http.StatusNotFound, req{Method: "POST", Path: "/api/v1/agents/knowledge-base/" + secret["id"].(string) + "/compute-rag-index", Auth: globex.Token})

	// Acme still finds its own.
	if got := docIDs(b.search(acme, "/api/v1/knowledge-bases/"+acmeKB, map[string]any{"query": "Nightjar"})); len(got) != 1 || got[0] != secret["id"] {
		t.Errorf("Acme's search: %v", got)
	}
}

// TestRAGWithoutPgvector: a vector database without pgvector turns the
// RAG routes that need it into 503 vector_store_unavailable, saying how
// to fix it, while the catalog and the rest of Kiln keep working.
func TestRAGWithoutPgvector(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	ctx := context.Background()
	log := testkit.Discard()
	store, err := rag.OpenStore(ctx, b.db.Pool, log, rag.StoreOptions{}) // the machine's Postgres lacks pgvector
	if !errors.Is(err, rag.ErrVectorUnavailable) {
		t.Fatalf("open the vector store on Postgres without pgvector: %v", err)
	}
	tok, err := ai.CL100K()
	must(t, err)
	chunker, err := rag.NewChunker(tok)
	must(t, err)
	svc := rag.NewService(rag.NewCatalog(b.db.Pool, log, rag.DefaultEmbedding(false)), store, chunker, rag.NewEmbedderSet(ai.OpenAIConfig{}), log)
	s := api.New(api.Config{Version: "test", PublicURL: "http://kiln.test", MaxBodyBytes: 64 << 10},
		log, api.Deps{DB: b.db.Pool, Redis: b.redis.Client, Identity: b.identity, Content: content.New(b.db.Pool, log),
			Jobs: b.jobs, Idempotency: idempotency.New(b.db.Pool), RAG: svc})
	degraded := &bundle{t: t, srv: httptest.NewServer(s.Handler()), server: s, db: b.db, jobs: b.jobs}
	t.Cleanup(degraded.srv.Close)

	degraded.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites", Auth: acme.Token})
	kbID := degraded.kb(acme, map[string]any{"name": "still works"})["id"].(string)
	kbPath := "/api/v1/knowledge-bases/" + kbID
	degraded.expect(http.StatusOK, req{Method: "GET", Path: kbPath, Auth: acme.Token})
	degraded.expect(http.StatusOK, req{Method: "GET", Path: kbPath + "/documents", Auth: acme.Token})
	agent := degraded.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/agents", Auth: acme.Token,
		Body: map[string]any{"name": "agent", "knowledge_base_ids": []string{kbID}}}).JSON(t)["id"].(string)
	for _, r := range []req{
		{Method: "POST", Path: kbPath + "/documents", Body: map[string]any{"source_type": "text", "content": "hello"}},
		{Method: "POST", Path: kbPath + "/search", Body: map[string]any{"query": "hello"}},
		{Method: "POST", Path: kbPath + "/reindex"},
		{Method: "POST", Path: "/api/v1/agents/" + agent + "/search", Body: map[string]any{"query": "hello"}},
		{Method: "DELETE", Path: kbPath},
	} {
		r.Auth = acme.Token
		res := degraded.expect(http.StatusServiceUnavailable, r)
		msg, _ := res.JSON(t)["error"].(map[string]any)["message"].(string)
		if res.ErrorCode(t) != "vector_store_unavailable" || !strings.Contains(msg, "pgvector") || !strings.Contains(msg, "VECTOR_DATABASE_URL") {
			t.Errorf("%s %s: %s", r.Method, r.Path, res.Body)
		}
	}
	if res := degraded.sendFormTo(acme.Token, kbPath+"/documents", formPart{Name: "file", Filename: "p.pdf", Data: []byte("%PDF-1.4")}); res.Status != http.StatusServiceUnavailable {
		t.Errorf("PDF upload with the vector store down: %d %s", res.Status, res.Body)
	}
	var n int
	must(t, b.db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM kb_documents) + (SELECT count(*) FROM jobs)`).Scan(&n))
	if n != 0 {
		t.Errorf("%d documents and jobs written while the vector store is down", n)
	}
	// The knowledge base is still there after the refused delete.
	degraded.expect(http.StatusOK, req{Method: "GET", Path: kbPath, Auth: acme.Token})
}
