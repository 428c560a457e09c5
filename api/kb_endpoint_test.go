package api_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/kilnhq/kiln/ai/aitest"
)

// TestKnowledgeBaseOwnEmbeddingEndpoint: a knowledge base can embed with
// its own OpenAI-compatible base URL and key; the key is stored sealed and
// shown masked; a knowledge base without one uses the tenant's settings,
// then the deployment's.
func TestKnowledgeBaseOwnEmbeddingEndpoint(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme Embeddings")
	const ownKey = "sk-kb-own-key-4321"
	own := aitest.New(t, aitest.WithAPIKey(ownKey))

	kb := b.kb(acme, map[string]any{"name": "own endpoint", "embedding_provider": "openai",
		"embedding_model": "text-embedding-3-small", "embedding_dimensions": 256,
		"embedding_base_url": own.URL(), "embedding_api_key": ownKey})
	if kb["embedding_api_key"] != "…4321" || kb["embedding_base_url"] != own.URL() {
		t.Fatalf("knowledge base shows key %v at %v, want the masked …4321 at the own URL", kb["embedding_api_key"], kb["embedding_base_url"])
	}
	kbID := kb["id"].(string)
	var sealed []byte
	must(t, b.db.Pool.QueryRow(context.Background(), `SELECT embedding_api_key_sealed FROM knowledge_bases WHERE id = $1`, kbID).Scan(&sealed))
	if len(sealed) == 0 || bytes.Contains(sealed, []byte(ownKey)) || bytes.Contains(sealed, []byte("own-key")) {
		t.Fatalf("stored key is not ciphertext: %q", sealed)
	}

	doc, job := b.addDoc(acme, kbID, map[string]any{"source_type": "text", "title": "Kilns", "content": "A kiln fires clay into ceramic at high heat."})
	b.indexed(acme, doc, job)
	b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/knowledge-bases/" + kbID + "/search", Auth: acme.Token,
		Body: map[string]any{"query": "what fires clay?", "mode": "semantic"}})
	if n := own.Calls(aitest.PathEmbeddings); n < 2 {
		t.Errorf("own endpoint got %d embedding calls, want the index and the query", n)
	}
	if n := b.ai.Calls(aitest.PathEmbeddings); n != 0 {
		t.Errorf("deployment endpoint got %d embedding calls, want none: the knowledge base has its own", n)
	}
	for _, r := range own.RequestsTo(aitest.PathEmbeddings) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+ownKey {
			t.Errorf("own endpoint called with %q, want the knowledge base's key", got)
		}
	}

	// Without its own key, the deployment's provider embeds.
	plain := b.kb(acme, map[string]any{"name": "deployment endpoint", "embedding_provider": "openai",
		"embedding_model": "text-embedding-3-small", "embedding_dimensions": 256})
	if plain["embedding_api_key"] != "" {
		t.Errorf("a knowledge base without a key shows %v", plain["embedding_api_key"])
	}
	doc, job = b.addDoc(acme, plain["id"].(string), map[string]any{"source_type": "text", "title": "Glaze", "content": "Glaze is glass fused to clay."})
	b.indexed(acme, doc, job)
	if n := b.ai.Calls(aitest.PathEmbeddings); n == 0 {
		t.Error("the deployment's endpoint was not used for a knowledge base without a key")
	}

	// Without its own key, its own URL is never sent another key: indexing
	// fails provider_not_configured, and the deployment's key stays home.
	upd := b.expect(http.StatusOK, req{Method: "PATCH", Path: "/api/v1/knowledge-bases/" + kbID, Auth: acme.Token,
		Body: map[string]any{"embedding_api_key": ""}}).JSON(t)["knowledge_base"].(map[string]any)
	if upd["embedding_api_key"] != "" {
		t.Errorf("after removing the key it shows %v", upd["embedding_api_key"])
	}
	ownCalls := own.Calls(aitest.PathEmbeddings)
	_, job = b.addDoc(acme, kbID, map[string]any{"source_type": "text", "title": "Kiln", "content": "Kilns are hot."})
	if j := b.await(acme, job["id"].(string)); j["status"] != "failed" || j["error"].(map[string]any)["code"] != "provider_not_configured" {
		t.Errorf("indexing at an own URL without an own key: %v %v, want failed provider_not_configured", j["status"], j["error"])
	}
	if own.Calls(aitest.PathEmbeddings) != ownCalls {
		t.Error("the knowledge base's URL was called without its key")
	}
	res := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/knowledge-bases", Auth: acme.Token,
		Body: map[string]any{"name": "hash with key", "embedding_provider": "hash", "embedding_api_key": "sk-nope-12345678",
			"embedding_base_url": own.URL()}})
	if f := res.Fields(t); f["embedding_api_key"] == nil || f["embedding_base_url"] == nil {
		t.Errorf("hash knowledge base with a key and URL: fields %v, want both named", f)
	}
	blocked := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: "/api/v1/knowledge-bases", Auth: acme.Token,
		Body: map[string]any{"name": "metadata", "embedding_provider": "openai", "embedding_model": "m", "embedding_dimensions": 8,
			"embedding_base_url": "http://169.254.169.254/v1"}})
	if blocked.Fields(t)["embedding_base_url"] == nil {
		t.Errorf("a base URL egress refuses was not named: %s", blocked.Body)
	}
}
