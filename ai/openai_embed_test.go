package ai

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeOpenAI is an OpenAI-wire-compatible /v1/embeddings server. Each
// request gets the reply of the script entry for its number (the last
// entry repeats); a nil reply embeds the input with the hash embedder and
// bills one token per word.
type fakeOpenAI struct {
	t      *testing.T
	script []reply
	mu     sync.Mutex
	reqs   []embeddingCall
}

type reply struct {
	status  int
	headers map[string]string
	body    string
}

type embeddingCall struct {
	Input      []string `json:"input"`
	Model      string   `json:"model"`
	Dimensions int      `json:"dimensions"`
	auth       string
}

func (f *fakeOpenAI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	var call embeddingCall
	if err := json.NewDecoder(r.Body).Decode(&call); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	call.auth = r.Header.Get("Authorization")
	f.mu.Lock()
	n := len(f.reqs)
	f.reqs = append(f.reqs, call)
	f.mu.Unlock()
	rep := reply{status: http.StatusOK}
	if len(f.script) > 0 {
		rep = f.script[min(n, len(f.script)-1)]
	}
	for k, v := range rep.headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	if rep.status != http.StatusOK {
		w.WriteHeader(rep.status)
		_, _ = w.Write([]byte(rep.body))
		return
	}
	f.embed(w, call)
}

func (f *fakeOpenAI) embed(w http.ResponseWriter, call embeddingCall) {
	dims := call.Dimensions
	if dims == 0 {
		dims = 8
	}
	h := NewHash(dims)
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	var data []item
	tokens := 0
	for i := len(call.Input) - 1; i >= 0; i-- { // out of order: the client must sort
		data = append(data, item{"embedding", i, h.Vector(call.Input[i])})
		tokens += len(strings.Fields(call.Input[i]))
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"object": "list", "data": data, "model": call.Model,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens},
	})
}

func (f *fakeOpenAI) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for _, r := range f.reqs {
		out = append(out, len(r.Input))
	}
	return out
}

const errBody = `{"error": {"message": "%s", "type": "x", "code": null}}`

func jsonErr(msg string) string { return strings.Replace(errBody, "%s", msg, 1) }

func TestOpenAIEmbed(t *testing.T) {
	texts := []string{"one", "two words", "three little words", "four", "five five", "six", "seven"}
	tests := []struct {
		name       string
		cfg        OpenAIConfig
		script     []reply
		texts      []string
		wantSizes  []int // inputs per request, in order
		wantErr    error
		wantTokens int
		minElapsed time.Duration
		maxElapsed time.Duration
	}{
		{
			name: "batches by input count", cfg: OpenAIConfig{MaxBatchInputs: 3},
			texts: texts, wantSizes: []int{3, 3, 1}, wantTokens: 11,
		},
		{
			name: "batches by token budget", cfg: OpenAIConfig{MaxBatchTokens: 4},
			texts: texts, wantSizes: []int{2, 2, 3}, wantTokens: 11,
		},
		{
			name: "429 then success honours retry-after-ms", cfg: OpenAIConfig{MinBackoff: 20 * time.Second},
			script: []reply{{status: 429, headers: map[string]string{"retry-after-ms": "50"}, body: jsonErr("slow down")}, {status: 200}},
			texts:  texts[:2], wantSizes: []int{2, 2}, wantTokens: 3,
			minElapsed: 50 * time.Millisecond, maxElapsed: 5 * time.Second,
		},
		{
			name: "429 then success honours Retry-After seconds", cfg: OpenAIConfig{MinBackoff: 20 * time.Second},
			script: []reply{{status: 429, headers: map[string]string{"Retry-After": "1"}, body: jsonErr("slow down")}, {status: 200}},
			texts:  texts[:1], wantSizes: []int{1, 1}, wantTokens: 1,
			minElapsed: time.Second, maxElapsed: 10 * time.Second,
		},
		{
			name: "5xx retried with backoff", cfg: OpenAIConfig{MinBackoff: 10 * time.Millisecond},
			script: []reply{{status: 500, body: "oops"}, {status: 503, body: jsonErr("overloaded")}, {status: 200}},
			texts:  texts[:1], wantSizes: []int{1, 1, 1}, wantTokens: 1,
		},
		{
			name: "401 is permanent", cfg: OpenAIConfig{MinBackoff: 10 * time.Millisecond},
			script: []reply{{status: 401, body: jsonErr("Incorrect API key provided")}},
			texts:  texts[:1], wantSizes: []int{1}, wantErr: ErrProviderAuthFailed,
		},
		{
			name: "403 is permanent", cfg: OpenAIConfig{MinBackoff: 10 * time.Millisecond},
			script: []reply{{status: 403, body: jsonErr("forbidden")}},
			texts:  texts[:1], wantSizes: []int{1}, wantErr: ErrProviderAuthFailed,
		},
		{
			name: "400 is permanent", cfg: OpenAIConfig{MinBackoff: 10 * time.Millisecond},
			script: []reply{{status: 400, body: jsonErr("unknown model")}},
			texts:  texts[:1], wantSizes: []int{1}, wantErr: ErrProviderRequestRejected,
		},
		{
			name: "429 until retries run out", cfg: OpenAIConfig{MaxRetries: 2, MinBackoff: 5 * time.Millisecond},
			script: []reply{{status: 429, body: jsonErr("slow down")}},
			texts:  texts[:1], wantSizes: []int{1, 1, 1}, wantErr: ErrProviderRateLimited,
		},
		{
			name: "a Retry-After beyond the limit fails at once", cfg: OpenAIConfig{MaxRetryAfter: time.Second},
			script: []reply{{status: 429, headers: map[string]string{"Retry-After": "3600"}, body: jsonErr("quota")}},
			texts:  texts[:1], wantSizes: []int{1}, wantErr: ErrProviderRateLimited, maxElapsed: time.Second,
		},
		{
			name: "an input over the token limit is refused before any request", cfg: OpenAIConfig{MaxInputTokens: 2},
			texts: texts, wantErr: ErrProviderRequestRejected,
		},
		{
			name: "wrong dimensions from the provider", cfg: OpenAIConfig{Model: "other-model", Dimensions: 4},
			texts: texts[:1], wantSizes: []int{1}, wantErr: ErrProviderRequestRejected,
		},
	}
	tok, err := CL100K()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeOpenAI{t: t, script: tt.script}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			cfg := tt.cfg
			cfg.BaseURL, cfg.APIKey, cfg.Tokenizer = srv.URL+"/v1", "sk-test", tok
			if cfg.Dimensions == 0 {
				cfg.Dimensions = 16
			}
			if cfg.Model == "" {
				cfg.Model = "text-embedding-3-small"
			}
			e, err := NewOpenAI(cfg)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			vecs, usage, err := e.Embed(context.Background(), tt.texts)
			elapsed := time.Since(start)
			if diff := cmp.Diff(tt.wantSizes, fake.batchSizes()); diff != "" {
				t.Errorf("inputs per request (-want +got):\n%s", diff)
			}
			if usage.Requests != len(tt.wantSizes) {
				t.Errorf("usage.Requests = %d, want %d", usage.Requests, len(tt.wantSizes))
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				checkElapsed(t, elapsed, tt.minElapsed, tt.maxElapsed)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if usage.Tokens != tt.wantTokens {
				t.Errorf("usage.Tokens = %d, want %d", usage.Tokens, tt.wantTokens)
			}
			h := NewHash(cfg.Dimensions)
			for i, text := range tt.texts {
				if diff := cmp.Diff(h.Vector(text), vecs[i]); diff != "" {
					t.Fatalf("vector %d (%q) is not its text's:\n%s", i, text, diff)
				}
			}
			checkElapsed(t, elapsed, tt.minElapsed, tt.maxElapsed)
		})
	}
}

func checkElapsed(t *testing.T, got, min, max time.Duration) {
	t.Helper()
	if got < min || (max > 0 && got > max) {
		t.Errorf("took %v, want between %v and %v", got, min, max)
	}
}

func TestOpenAIRequestFields(t *testing.T) {
	tests := []struct {
		model    string
		dims     int
		wantDims int // the dimensions parameter sent
	}{
		{"text-embedding-3-small", 256, 256},
		{"text-embedding-3-large", 1024, 1024},
		{"nomic-embed-text", 8, 0}, // other models: not sent, the size is checked
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			fake := &fakeOpenAI{t: t}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			e, err := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1/", APIKey: "sk-abc", Model: tt.model, Dimensions: tt.dims})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.Embed(context.Background(), []string{"hello"}); err != nil {
				t.Fatal(err)
			}
			got := fake.reqs[0]
			if got.Model != tt.model || got.Dimensions != tt.wantDims || got.auth != "Bearer sk-abc" {
				t.Fatalf("request model %q dimensions %d auth %q; want %q %d %q", got.Model, got.Dimensions, got.auth, tt.model, tt.wantDims, "Bearer sk-abc")
			}
			if e.Dimensions() != tt.dims || e.Model() != tt.model {
				t.Fatalf("Dimensions() = %d, Model() = %q", e.Dimensions(), e.Model())
			}
		})
	}
}

func TestNewOpenAIChecksConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  OpenAIConfig
		want string
	}{
		{"no key", OpenAIConfig{Model: "text-embedding-3-small"}, "API key"},
		{"unknown model without dimensions", OpenAIConfig{APIKey: "k", Model: "mystery"}, "dimensions unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewOpenAI(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	e, err := NewOpenAI(OpenAIConfig{APIKey: "k"})
	if err != nil || e.Dimensions() != 1536 || e.Model() != DefaultOpenAIModel {
		t.Fatalf("defaults: %v, %d dims, model %q", err, e.Dimensions(), e.Model())
	}
}

func TestCL100KMatchesKnownTokenCounts(t *testing.T) {
	enc, err := CL100K()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text string
		want int
	}{
		{"hello world", 2},
		{"tiktoken is great!", 6},
		{"", 0},
	}
	for _, tt := range tests {
		if got := len(enc.EncodeOrdinary(tt.text)); got != tt.want {
			t.Errorf("tokens(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
}
