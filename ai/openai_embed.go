package ai

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
	"github.com/sashabaranov/go-openai"

	"github.com/kilnhq/kiln/internal/problem"
)

// Defaults of OpenAIConfig.
const (
	DefaultOpenAIBaseURL   = "https://api.openai.com/v1"
	DefaultOpenAIModel     = "text-embedding-3-small"
	DefaultMaxBatchInputs  = 2048    // OpenAI's limit of inputs per request
	DefaultMaxBatchTokens  = 300_000 // OpenAI's limit of tokens per request
	DefaultMaxInputTokens  = 8191    // OpenAI's limit of tokens per input
	DefaultMaxRetries      = 5
	DefaultMinBackoff      = 500 * time.Millisecond
	DefaultMaxBackoff      = 30 * time.Second
	DefaultMaxRetryAfter   = 60 * time.Second
	defaultRequestsTimeout = 60 * time.Second
)

// OpenAIConfig configures an OpenAI-compatible embeddings provider. Zero
// fields take the defaults above.
type OpenAIConfig struct {
	// BaseURL is the API root, up to and including /v1.
	BaseURL string
	// APIKey is sent as a bearer token; required.
	APIKey string
	// Model is the embedding model.
	Model string
	// Dimensions is the vector size. For text-embedding-3 models it is sent
	// as the dimensions parameter (shortened embeddings); for other models
	// it must be the model's own size. Zero takes the size of a known model.
	Dimensions int
	// HTTPClient sends the requests; pass Kiln's egress client when the
	// base URL comes from a user. Nil uses a client with a 60 s timeout.
	HTTPClient *http.Client
	// MaxBatchInputs and MaxBatchTokens cap one request; MaxInputTokens caps
	// one input. Tokens are counted with cl100k_base.
	MaxBatchInputs int
	MaxBatchTokens int
	MaxInputTokens int
	// MaxRetries is how many times a 429, 5xx or network failure is retried.
	MaxRetries int
	// MinBackoff and MaxBackoff bound the exponential backoff between tries.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After the embedder waits for; a
	// longer one fails at once with ErrProviderRateLimited, so the job that
	// called it can be rescheduled instead of holding a worker.
	MaxRetryAfter time.Duration
	// Log receives one line per retry; nil discards.
	Log *slog.Logger
	// Tokenizer counts tokens to size batches; nil builds one (see CL100K).
	Tokenizer *tiktoken.Tiktoken
}

// knownDimensions are the native sizes of OpenAI's embedding models.
var knownDimensions = map[string]int{
	"text-embedding-3-small": 1536,
	"text-embedding-3-large": 3072,
	"text-embedding-ada-002": 1536,
}

// OpenAI embeds through an OpenAI-compatible /embeddings API, in batches,
// retrying rate limits and outages with exponential backoff and jitter.
type OpenAI struct {
	cfg OpenAIConfig
	enc *tiktoken.Tiktoken
}

// NewOpenAI checks cfg and fills its defaults. Without cfg.Tokenizer it
// builds its own (see CL100K).
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	cfg = cfg.withDefaults()
	if cfg.APIKey == "" {
		return nil, errors.New("openai embedder: an API key is required")
	}
	if cfg.Dimensions <= 0 {
		return nil, fmt.Errorf("openai embedder: dimensions unknown for model %q; set them", cfg.Model)
	}
	enc := cfg.Tokenizer
	if enc == nil {
		var err error
		if enc, err = CL100K(); err != nil {
			return nil, fmt.Errorf("openai embedder: %w", err)
		}
	}
	return &OpenAI{cfg: cfg, enc: enc}, nil
}

// cl100kPattern and cl100kSpecial define the cl100k_base encoding, as in
// tiktoken; its ranks come from the file embedded by tiktoken-go-loader.
const cl100kPattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

func cl100kSpecial() map[string]int {
	return map[string]int{
		tiktoken.ENDOFTEXT: 100257, tiktoken.FIM_PREFIX: 100258, tiktoken.FIM_MIDDLE: 100259,
		tiktoken.FIM_SUFFIX: 100260, tiktoken.ENDOFPROMPT: 100276,
	}
}

// CL100K returns a new cl100k_base tokenizer (the encoding of OpenAI's
// embedding models), built from the encoding file embedded in the binary,
// so no network is needed, and without touching tiktoken's package state.
// Building one takes about 0.2 s and some 20 MB: build one per process and
// share it; it is safe for concurrent use.
func CL100K() (*tiktoken.Tiktoken, error) {
	ranks, err := tiktoken_loader.NewOfflineLoader().LoadTiktokenBpe("cl100k_base.tiktoken")
	if err != nil {
		return nil, fmt.Errorf("load cl100k_base ranks: %w", err)
	}
	special := cl100kSpecial()
	bpe, err := tiktoken.NewCoreBPE(ranks, special, cl100kPattern)
	if err != nil {
		return nil, fmt.Errorf("build cl100k_base tokenizer: %w", err)
	}
	set := make(map[string]any, len(special))
	for k := range special {
		set[k] = true
	}
	enc := &tiktoken.Encoding{Name: tiktoken.MODEL_CL100K_BASE, PatStr: cl100kPattern, MergeableRanks: ranks, SpecialTokens: special}
	return tiktoken.NewTiktoken(bpe, enc, set), nil
}

func (c OpenAIConfig) withDefaults() OpenAIConfig {
	c.BaseURL = strings.TrimRight(or(c.BaseURL, DefaultOpenAIBaseURL), "/")
	c.Model = or(c.Model, DefaultOpenAIModel)
	if c.Dimensions == 0 {
		c.Dimensions = knownDimensions[c.Model]
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: defaultRequestsTimeout}
	}
	c.MaxBatchInputs = orInt(c.MaxBatchInputs, DefaultMaxBatchInputs)
	c.MaxBatchTokens = orInt(c.MaxBatchTokens, DefaultMaxBatchTokens)
	c.MaxInputTokens = orInt(c.MaxInputTokens, DefaultMaxInputTokens)
	c.MaxRetries = orInt(c.MaxRetries, DefaultMaxRetries)
	c.MinBackoff = orDur(c.MinBackoff, DefaultMinBackoff)
	c.MaxBackoff = orDur(c.MaxBackoff, DefaultMaxBackoff)
	c.MaxRetryAfter = orDur(c.MaxRetryAfter, DefaultMaxRetryAfter)
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Dimensions is the length of the vectors.
func (o *OpenAI) Dimensions() int { return o.cfg.Dimensions }

// Model is the configured model.
func (o *OpenAI) Model() string { return o.cfg.Model }

// Embed embeds texts in as few requests as the limits allow. Usage counts
// the tokens the provider reported, also when a later batch fails.
func (o *OpenAI) Embed(ctx context.Context, texts []string) ([][]float32, Usage, error) {
	batches, err := o.batches(texts)
	if err != nil {
		return nil, Usage{}, err
	}
	out := make([][]float32, 0, len(texts))
	var usage Usage
	for _, b := range batches {
		vecs, u, err := o.embedBatch(ctx, b)
		usage = usage.Add(u)
		if err != nil {
			return nil, usage, err
		}
		out = append(out, vecs...)
	}
	return out, usage, nil
}

// batches splits texts into runs within the input and token limits.
func (o *OpenAI) batches(texts []string) ([][]string, error) {
	var out [][]string
	start, tokens := 0, 0
	for i, t := range texts {
		n := len(o.enc.EncodeOrdinary(t))
		if n > o.cfg.MaxInputTokens {
			return nil, &problem.Problem{Kind: problem.Invalid, Code: ErrProviderRequestRejected.Code,
				Message: fmt.Sprintf("input %d has %d tokens; the model takes at most %d", i, n, o.cfg.MaxInputTokens)}
		}
		if i > start && (i-start >= o.cfg.MaxBatchInputs || tokens+n > o.cfg.MaxBatchTokens) {
			out = append(out, texts[start:i])
			start, tokens = i, 0
		}
		tokens += n
	}
	if start < len(texts) {
		out = append(out, texts[start:])
	}
	return out, nil
}

// embedBatch sends one request, retrying what may pass.
func (o *OpenAI) embedBatch(ctx context.Context, texts []string) ([][]float32, Usage, error) {
	var usage Usage
	var vecs [][]float32
	op := fmt.Sprintf("embed %d texts with %s", len(texts), o.cfg.Model)
	n, err := retry(ctx, o.cfg.retryPolicy(), op, func(ctx context.Context) (time.Duration, error) {
		v, tokens, retryAfter, err := o.request(ctx, texts)
		usage.Tokens += tokens
		vecs = v
		return retryAfter, err
	})
	usage.Requests = n
	if err != nil {
		return nil, usage, err
	}
	return vecs, usage, nil
}

func (c OpenAIConfig) retryPolicy() retryPolicy {
	return retryPolicy{MaxRetries: c.MaxRetries, MinBackoff: c.MinBackoff, MaxBackoff: c.MaxBackoff,
		MaxRetryAfter: c.MaxRetryAfter, Log: c.Log}
}

// request makes one API call and returns the vectors, the billed tokens,
// and the wait the provider asked for (zero when it did not).
func (o *OpenAI) request(ctx context.Context, texts []string) ([][]float32, int, time.Duration, error) {
	rec := &headerRecorder{doer: o.cfg.HTTPClient}
	cc := openai.DefaultConfig(o.cfg.APIKey)
	cc.BaseURL = o.cfg.BaseURL
	cc.HTTPClient = rec
	req := openai.EmbeddingRequestStrings{Input: texts, Model: openai.EmbeddingModel(o.cfg.Model)}
	if strings.HasPrefix(o.cfg.Model, "text-embedding-3") {
		req.Dimensions = o.cfg.Dimensions
	}
	res, err := openai.NewClientWithConfig(cc).CreateEmbeddings(ctx, req)
	if err != nil {
		return nil, 0, rec.retryAfter(), err
	}
	vecs, err := o.vectors(res, len(texts))
	return vecs, res.Usage.PromptTokens, 0, err
}

// vectors puts the response's embeddings in input order and checks them.
func (o *OpenAI) vectors(res openai.EmbeddingResponse, n int) ([][]float32, error) {
	if len(res.Data) != n {
		return nil, fmt.Errorf("%w: asked for %d embeddings, got %d", ErrProviderUnavailable, n, len(res.Data))
	}
	out := make([][]float32, n)
	for _, d := range res.Data {
		if d.Index < 0 || d.Index >= n || out[d.Index] != nil {
			return nil, fmt.Errorf("%w: embedding index %d out of range or repeated", ErrProviderUnavailable, d.Index)
		}
		if len(d.Embedding) != o.cfg.Dimensions {
			return nil, &problem.Problem{Kind: problem.Invalid, Code: ErrProviderRequestRejected.Code,
				Message: fmt.Sprintf("model %s returned %d dimensions, the knowledge base expects %d; set the dimensions to the model's", o.cfg.Model, len(d.Embedding), o.cfg.Dimensions)}
		}
		out[d.Index] = d.Embedding
	}
	return out, nil
}
