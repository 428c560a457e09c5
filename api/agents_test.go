package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestAgentsCRUD(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	viewer, _ := b.member(acme, "viewer")
	kb1 := b.kb(acme, map[string]any{"name": "one"})["id"].(string)
	kb2 := b.kb(acme, map[string]any{"name": "two"})["id"].(string)

	res := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/agents", Auth: acme.Token,
		Header: map[string]string{"Idempotency-Key": "agent-1"},
		Body: map[string]any{"name": "Support bot", "system_prompt": "Answer from the handbook.", "model": "gpt-4o-mini",
			"knowledge_base_ids": []string{kb1, kb2}, "metadata": map[string]any{"channel": "chat"}}})
	a := res.JSON(t)
	id := a["id"].(string)
	if !strings.HasPrefix(id, "agent_") || res.Header.Get("Location") != "http://kiln.test/api/v1/agents/"+id {
		t.Fatalf("id %q, Location %q", id, res.Header.Get("Location"))
	}
	if a["name"] != "Support bot" || a["system_prompt"] != "Answer from the handbook." || a["model"] != "gpt-4o-mini" ||
		strings.Join(anyStrings(a["knowledge_base_ids"]), ",") != kb1+","+kb2 {
		t.Errorf("created agent: %v", a)
	}
	replay := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/agents", Auth: acme.Token,
		Header: map[string]string{"Idempotency-Key": "agent-1"},
		Body: map[string]any{"name": "Support bot", "system_prompt": "Answer from the handbook.", "model": "gpt-4o-mini",
			"knowledge_base_ids": []string{kb1, kb2}, "metadata": map[string]any{"channel": "chat"}}})
	if replay.JSON(t)["id"] != id {
		t.Errorf("a retried create made another agent")
	}

	if got := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/agents/" + id, Auth: viewer}).JSON(t); got["name"] != "Support bot" {
		t.Errorf("get: %v", got)
	}
	if l := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/agents", Auth: viewer}).JSON(t); len(l["data"].([]any)) != 1 {
		t.Errorf("list: %v", l)
	}
	up := b.expect(http.StatusOK, req{Method: "PATCH", Path: "/api/v1/agents/" + id, Auth: acme.Token,
		Body: map[string]any{"system_prompt": "Be brief.", "knowledge_base_ids": []string{kb2}}}).JSON(t)
	if up["system_prompt"] != "Be brief." || up["name"] != "Support bot" || strings.Join(anyStrings(up["knowledge_base_ids"]), ",") != kb2 {
		t.Errorf("patched agent: %v", up)
	}
	// A patch without knowledge_base_ids keeps them.
	up = b.expect(http.StatusOK, req{Method: "PATCH", Path: "/api/v1/agents/" + id, Auth: acme.Token, Body: map[string]any{"model": "other"}}).JSON(t)
	if strings.Join(anyStrings(up["knowledge_base_ids"]), ",") != kb2 {
		t.Errorf("knowledge bases after a patch of the model: %v", up["knowledge_base_ids"])
	}

	for name, tc := range map[string]struct {
		method, path string
		body         map[string]any
		field        string
	}{
		"no name":                  {"POST", "/api/v1/agents", map[string]any{"model": "x"}, "name"},
		"unknown knowledge base":   {"POST", "/api/v1/agents", map[string]any{"name": "x", "knowledge_base_ids": []string{"kb_nope"}}, "knowledge_base_ids"},
		"repeated knowledge base":  {"PATCH", "/api/v1/agents/" + id, map[string]any{"knowledge_base_ids": []string{kb1, kb1}}, "knowledge_base_ids"},
		"blank name":               {"PATCH", "/api/v1/agents/" + id, map[string]any{"name": " "}, "name"},
		"an unknown field":         {"POST", "/api/v1/agents", map[string]any{"name": "x", "temperature": 2}, "temperature"},
		"metadata that is no JSON": {"POST", "/api/v1/agents", map[string]any{"name": "x", "metadata": 3}, "metadata"},
	} {
		if res := b.expect(http.StatusUnprocessableEntity, req{Method: tc.method, Path: tc.path, Auth: acme.Token, Body: tc.body}); res.Fields(t)[tc.field] == nil {
			t.Errorf("%s: %s", name, res.Body)
		}
	}
	b.expect(http.StatusForbidden, req{Method: "POST", Path: "/api/v1/agents", Auth: viewer, Body: map[string]any{"name": "x"}})
	b.expect(http.StatusForbidden, req{Method: "PATCH", Path: "/api/v1/agents/" + id, Auth: viewer, Body: map[string]any{"name": "x"}})

	// Deleting a knowledge base unlinks it; deleting the agent keeps them.
	b.expect(http.StatusNoContent, req{Method: "DELETE", Path: "/api/v1/knowledge-bases/" + kb2, Auth: acme.Token})
	if got := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/agents/" + id, Auth: acme.Token}).JSON(t); len(anyStrings(got["knowledge_base_ids"])) != 0 {
		t.Errorf("agent still names a deleted knowledge base: %v", got["knowledge_base_ids"])
	}
	b.expect(http.StatusNoContent, req{Method: "DELETE", Path: "/api/v1/agents/" + id, Auth: acme.Token})
	if res := b.expect(http.StatusNotFound, req{Method: "GET", Path: "/api/v1/agents/" + id, Auth: acme.Token}); res.ErrorCode(t) != "agent_not_found" {
		t.Errorf("deleted agent: %s", res.Body)
	}
	b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/knowledge-bases/" + kb1, Auth: acme.Token})
}

// TestAgentKnowledgeBaseRoutes walks the Cognitor-style routes: a post
// added through the agent lands in its default knowledge base (made for
// it when it has none) and is indexed; the agent lists and searches it;
// adding the post again refreshes the same document; compute-rag-index
// reindexes it; removing it takes its chunks away.
func TestAgentKnowledgeBaseRoutes(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	b.site(acme, "blog")
	post := b.post(acme, "blog", map[string]any{"title": "Tide tables",
		"body_markdown": "Spring tides follow the new moon; neap tides follow the quarter moons."})
	agent := b.expect(http.StatusCreated, req{Method: "POST", Path: "/api/v1/agents", Auth: acme.Token,
		Body: map[string]any{"name": "Harbour master"}}).JSON(t)
	agentPath := "/api/v1/agents/" + agent["id"].(string)

	// An agent without knowledge bases finds nothing and lists nothing.
	if got := b.search(acme, agentPath, map[string]any{"query": "tides"}); len(got) != 0 {
		t.Errorf("search of an agent without knowledge bases: %v", got)
	}
	if l := b.expect(http.StatusOK, req{Method: "GET", Path: agentPath + "/knowledge-base", Auth: acme.Token}).JSON(t); len(l["data"].([]any)) != 0 {
		t.Errorf("documents of a new agent: %v", l)
	}

	doc, job := b.accepted(b.expect(http.StatusAccepted, req{Method: "POST", Path: agentPath + "/knowledge-base/from-post/" + post["id"].(string), Auth: acme.Token}))
	doc = b.indexed(acme, doc, job)
	if doc["source_type"] != "post" || doc["source_ref"] != post["id"] || doc["title"] != "Tide tables" {
		t.Errorf("document from the post: %v", doc)
	}
	a := b.expect(http.StatusOK, req{Method: "GET", Path: agentPath, Auth: acme.Token}).JSON(t)
	kbs := anyStrings(a["knowledge_base_ids"])
	if len(kbs) != 1 || kbs[0] != doc["knowledge_base_id"] {
		t.Fatalf("agent's knowledge bases %v, document in %v", kbs, doc["knowledge_base_id"])
	}
	if kb := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/knowledge-bases/" + kbs[0], Auth: acme.Token}).JSON(t); kb["name"] != "Harbour master knowledge base" {
		t.Errorf("default knowledge base: %v", kb)
	}
	list := b.expect(http.StatusOK, req{Method: "GET", Path: agentPath + "/knowledge-base", Auth: acme.Token}).JSON(t)["data"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != doc["id"] || list[0].(map[string]any)["status"] != "ready" {
		t.Errorf("agent's documents: %v", list)
	}
	if got := docIDs(b.search(acme, agentPath, map[string]any{"query": "neap tides quarter moons"})); len(got) != 1 || got[0] != doc["id"] {
		t.Errorf("agent search: %v", got)
	}

	// A second knowledge base of the agent is searched too.
	other := b.kb(acme, map[string]any{"name": "weather"})["id"].(string)
	weather := b.addIndexed(acme, other, map[string]any{"source_type": "text", "content": "Easterly gales bring high tides to the harbour."})
	b.expect(http.StatusOK, req{Method: "PATCH", Path: agentPath, Auth: acme.Token, Body: map[string]any{"knowledge_base_ids": []string{kbs[0], other}}})
	if got := docIDs(b.search(acme, agentPath, map[string]any{"query": "tides", "mode": "keyword"})); len(got) != 2 {
		t.Errorf("search across the agent's knowledge bases: %v", got)
	}
	if got := docIDs(b.search(acme, agentPath, map[string]any{"query": "tides", "filters": map[string]any{"document_ids": []string{weather["id"].(string)}}})); len(got) != 1 || got[0] != weather["id"] {
		t.Errorf("agent search filtered by document: %v", got)
	}

	// The post changes; adding it again refreshes the same document.
	b.expect(http.StatusOK, req{Method: "PATCH", Path: "/api/v1/sites/blog/posts/" + post["id"].(string), Auth: acme.Token,
		Body: map[string]any{"body_markdown": "King tides flood the quay twice a year."}})
	again, job := b.accepted(b.expect(http.StatusAccepted, req{Method: "POST", Path: agentPath + "/knowledge-base/from-post/" + post["id"].(string), Auth: acme.Token}))
	if again["id"] != doc["id"] {
		t.Errorf("adding the post again made document %v, want %v", again["id"], doc["id"])
	}
	b.indexed(acme, again, job)
	if got := docIDs(b.search(acme, agentPath, map[string]any{"query": "king tides flood quay", "mode": "keyword"})); len(got) == 0 || got[0] != doc["id"] {
		t.Errorf("after re-adding the changed post: %v", got)
	}
	if got := b.search(acme, agentPath, map[string]any{"query": "neap", "mode": "keyword"}); len(got) != 0 {
		t.Errorf("the post's old text is still found: %v", got)
	}

	// compute-rag-index indexes the document again.
	cdoc, cjob := b.accepted(b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/agents/knowledge-base/" + doc["id"].(string) + "/compute-rag-index", Auth: acme.Token}))
	b.indexed(acme, cdoc, cjob)
	b.expect(http.StatusNotFound, req{Method: "POST", Path: "/api/v1/agents/knowledge-base/doc_nope/compute-rag-index", Auth: acme.Token})
	b.expect(http.StatusNotFound, req{Method: "POST", Path: agentPath + "/knowledge-base/from-post/post_nope", Auth: acme.Token})

	// A re-add the tenant cannot pay for leaves the document's text as it
	// was: indexing it again later does not pick up the newer post.
	b.expect(http.StatusOK, req{Method: "PATCH", Path: "/api/v1/sites/blog/posts/" + post["id"].(string), Auth: acme.Token,
		Body: map[string]any{"body_markdown": "Tsunami sirens were tested on Tuesday."}})
	_, err := b.jobs.SetCosts(context.Background(), acme.ID, map[string]int64{"rag.index_document": 5000})
	must(t, err)
	b.expect(http.StatusPaymentRequired, req{Method: "POST", Path: agentPath + "/knowledge-base/from-post/" + post["id"].(string), Auth: acme.Token})
	_, err = b.jobs.SetCosts(context.Background(), acme.ID, map[string]int64{"rag.index_document": 1})
	must(t, err)
	cdoc, cjob = b.accepted(b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/agents/knowledge-base/" + doc["id"].(string) + "/compute-rag-index", Auth: acme.Token}))
	b.indexed(acme, cdoc, cjob)
	if got := docIDs(b.search(acme, agentPath, map[string]any{"query": "king tides flood quay", "mode": "keyword"})); len(got) == 0 || got[0] != doc["id"] {
		t.Errorf("after a refused re-add the document lost its text: %v", got)
	}

	// Removing: a document outside the agent's knowledge bases is a 404.
	unrelated := b.kb(acme, map[string]any{"name": "unrelated"})["id"].(string)
	stray := b.addIndexed(acme, unrelated, map[string]any{"source_type": "text", "content": "Not the agent's."})
	b.expect(http.StatusNotFound, req{Method: "DELETE", Path: agentPath + "/knowledge-base/" + stray["id"].(string), Auth: acme.Token})
	b.expect(http.StatusNoContent, req{Method: "DELETE", Path: agentPath + "/knowledge-base/" + doc["id"].(string), Auth: acme.Token})
	if got := docIDs(b.search(acme, agentPath, map[string]any{"query": "tides", "top_k": 100})); len(got) != 1 || got[0] != weather["id"] {
		t.Errorf("after removing the post's document the agent finds %v", got)
	}
	if l := b.expect(http.StatusOK, req{Method: "GET", Path: agentPath + "/knowledge-base", Auth: acme.Token}).JSON(t)["data"].([]any); len(l) != 1 {
		t.Errorf("agent's documents after the removal: %v", l)
	}
	b.checkLedger()
}

// anyStrings converts a decoded JSON array of strings.
func anyStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, len(list))
	for i, x := range list {
		out[i], _ = x.(string)
	}
	return out
}
