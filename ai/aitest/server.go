package aitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai"
)

// Paths of the OpenAI endpoints the Server answers; Script, Choose, Delay,
// Calls and RequestsTo take them (with or without the /v1 prefix).
const (
	PathChat       = "/v1/chat/completions"
	PathImages     = "/v1/images/generations"
	PathImageEdits = "/v1/images/edits"
	PathSpeech     = "/v1/audio/speech"
	PathEmbeddings = "/v1/embeddings"
	PathModels     = "/v1/models"
)

// DefaultAPIKey is the key a Server accepts unless WithAPIKey says
// otherwise.
const DefaultAPIKey = "sk-aitest-0123456789abcdef"

// DefaultModels are the model ids a Server serves unless WithModels adds
// more. A request naming another model gets OpenAI's 404
// model_not_found.
func DefaultModels() []string {
	return []string{
		"gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-5-mini",
		"dall-e-2", "dall-e-3", "gpt-image-1",
		"tts-1", "tts-1-hd", "gpt-4o-mini-tts",
		"text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002",
	}
}

// Option configures a Server or a VideoQueue.
type Option func(*options)

type options struct {
	apiKey    string
	keySet    bool
	models    []string
	userID    string
	pollsStep int
}

// WithAPIKey sets the key the server accepts. An empty key turns the check
// off, as with local servers (Ollama, vLLM) that take any key.
func WithAPIKey(key string) Option {
	return func(o *options) { o.apiKey, o.keySet = key, true }
}

// WithModels adds model ids to those the Server serves.
func WithModels(ids ...string) Option {
	return func(o *options) { o.models = append(o.models, ids...) }
}

func buildOptions(defaultKey string, opts []Option) options {
	o := options{models: DefaultModels(), userID: DefaultWebhookUserID}
	for _, opt := range opts {
		opt(&o)
	}
	if !o.keySet {
		o.apiKey = defaultKey
	}
	return o
}

// Server is an OpenAI-wire-compatible test server. It answers chat
// completions, image generations and edits, speech, embeddings and the
// model list with realistic payloads, injects scripted faults and delays,
// and records every request. Create it with New; it closes itself when the
// test ends.
type Server struct {
	t    testing.TB
	http *httptest.Server
	ctl  *control
	opts options

	mu    sync.Mutex
	reply func(Prompt) string
	files map[string]servedFile
	seq   int
}

// servedFile is a generated file served under /files/ (image URLs).
type servedFile struct {
	contentType string
	data        []byte
}

type handler func(w http.ResponseWriter, rec *Request, st Step)

// New starts a Server for the test t; t's cleanup closes it.
func New(t testing.TB, opts ...Option) *Server {
	s := &Server{t: t, ctl: newControl(), opts: buildOptions(DefaultAPIKey, opts), files: map[string]servedFile{}}
	s.http = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

// URL is the API base URL, up to and including /v1: the BaseURL of a
// go-openai client.
func (s *Server) URL() string { return s.http.URL + "/v1" }

// APIKey is the key the server accepts ("" when it accepts any).
func (s *Server) APIKey() string { return s.opts.apiKey }

// ClientConfig is a go-openai configuration for this server.
func (s *Server) ClientConfig() openai.ClientConfig {
	cfg := openai.DefaultConfig(s.opts.apiKey)
	cfg.BaseURL = s.URL()
	cfg.HTTPClient = s.http.Client()
	return cfg
}

// Close ends pending delays and shuts the server down. It is safe to call
// more than once.
func (s *Server) Close() {
	s.ctl.close()
	s.http.Close()
}

// Script queues steps for the next calls to path: the first call after
// Script gets steps[0], and so on. Calls beyond the queue get the step of
// the Choose function, or OK.
func (s *Server) Script(path string, steps ...Step) {
	s.ctl.script(s.key(path), steps)
}

// Choose sets a function that picks the step for each call to path that no
// Script step covers; it sees the recorded request (Prompt, JSON, Call),
// so a test can fail or answer by content, e.g. fail one language of a
// fan-out. Nil removes it.
func (s *Server) Choose(path string, fn func(Request) Step) {
	s.ctl.choose(s.key(path), fn)
}

// Delay slows every call to path by d (on top of a step's own delay). A
// client that cancels meanwhile gets no answer. Zero removes the delay.
func (s *Server) Delay(path string, d time.Duration) {
	s.ctl.delay(s.key(path), d)
}

// SetReply makes every chat completion answer text (unless a step says
// otherwise). Empty restores the default reply.
func (s *Server) SetReply(text string) {
	if text == "" {
		s.SetReplyFunc(nil)
		return
	}
	s.SetReplyFunc(func(Prompt) string { return text })
}

// SetReplyFunc makes chat completions answer what fn returns for the
// prompt. Nil restores the default: a deterministic reply derived from the
// last user message, which also acknowledges any images.
func (s *Server) SetReplyFunc(fn func(Prompt) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reply = fn
}

// Calls is the number of requests path received so far.
func (s *Server) Calls(path string) int { return s.ctl.count(s.key(path)) }

// Requests returns every request received, in arrival order.
func (s *Server) Requests() []Request { return s.ctl.requests(nil) }

// RequestsTo returns the requests received on path, in arrival order.
func (s *Server) RequestsTo(path string) []Request {
	key := s.key(path)
	return s.ctl.requests(func(p string) bool { return p == key })
}

// key normalizes an endpoint path and fails the test on an unknown one, so
// a typo in Script does not silently script nothing.
func (s *Server) key(path string) string {
	s.t.Helper()
	if !strings.HasPrefix(path, "/v1/") {
		path = "/v1/" + strings.TrimPrefix(path, "/")
	}
	known := []string{PathChat, PathImages, PathImageEdits, PathSpeech, PathEmbeddings, PathModels}
	if !slices.Contains(known, path) {
		s.t.Errorf("aitest: %q is not an endpoint of the OpenAI test server (want one of %v)", path, known)
	}
	return path
}

// ServeHTTP answers one request: generated files, then the API endpoints
// behind the key check, the scripted step and the delays.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/files/") && r.Method == http.MethodGet {
		s.serveFile(w, r)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	key := r.URL.Path
	if strings.HasPrefix(key, PathModels+"/") {
		key = PathModels
	}
	rec := s.ctl.begin(w, r, key)
	canceled := false
	defer func() { s.ctl.finish(rec, sw.status, canceled) }()
	s.setHeaders(sw.Header(), rec.Call)
	h := s.route(r.Method, r.URL.Path)
	if h == nil {
		writeAPIError(sw, Fail(http.StatusNotFound).Code(nullCode).
			Message(fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path)))
		return
	}
	if msg, ok := s.authorized(r); !ok {
		writeAPIError(sw, Fail(http.StatusUnauthorized).Code(codeFor401(msg)).Message(msg))
		return
	}
	st, delay := s.ctl.next(key, rec)
	if !s.ctl.pause(r.Context(), delay+st.delay) {
		canceled = true
		return
	}
	if st.fails() {
		writeAPIError(sw, st)
		return
	}
	h(sw, rec, st)
}

// route returns the handler of an endpoint, nil for none.
func (s *Server) route(method, path string) handler {
	type route struct{ method, path string }
	switch (route{method, path}) {
	case route{http.MethodPost, PathChat}:
		return s.chat
	case route{http.MethodPost, PathImages}:
		return s.images
	case route{http.MethodPost, PathImageEdits}:
		return s.imageEdits
	case route{http.MethodPost, PathSpeech}:
		return s.speech
	case route{http.MethodPost, PathEmbeddings}:
		return s.embeddings
	case route{http.MethodGet, PathModels}:
		return s.listModels
	}
	if method == http.MethodGet && strings.HasPrefix(path, PathModels+"/") {
		return s.getModel
	}
	return nil
}

// authorized checks the bearer token (or Azure's api-key header) and
// returns OpenAI's message when it is missing or wrong.
func (s *Server) authorized(r *http.Request) (string, bool) {
	if s.opts.apiKey == "" {
		return "", true
	}
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		key = r.Header.Get("Api-Key")
	}
	switch key {
	case s.opts.apiKey:
		return "", true
	case "":
		return "You didn't provide an API key. You need to provide your API key in an Authorization " +
			"header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", false
	}
	return fmt.Sprintf("Incorrect API key provided: %s. You can find your API key at "+
		"https://platform.openai.com/account/api-keys.", redact(key)), false
}

func codeFor401(msg string) string {
	if strings.HasPrefix(msg, "You didn't") {
		return nullCode // OpenAI sends code null for a missing key
	}
	return "invalid_api_key"
}

// redact shows a key as OpenAI does: its start and end only.
func redact(key string) string {
	if len(key) <= 8 {
		return "****"
	}
	return key[:3] + strings.Repeat("*", 12) + key[len(key)-4:]
}

// setHeaders writes the headers OpenAI sends on every answer.
func (s *Server) setHeaders(h http.Header, call int) {
	s.mu.Lock()
	s.seq++
	id := s.seq
	s.mu.Unlock()
	h.Set("X-Request-Id", fmt.Sprintf("req_aitest%06d", id))
	h.Set("Openai-Version", "2020-10-01")
	h.Set("Openai-Processing-Ms", "1")
	h.Set("X-Ratelimit-Limit-Requests", "10000")
	h.Set("X-Ratelimit-Remaining-Requests", strconv.Itoa(max(0, 10000-call)))
	h.Set("X-Ratelimit-Reset-Requests", "6ms")
	h.Set("X-Ratelimit-Limit-Tokens", "2000000")
	h.Set("X-Ratelimit-Remaining-Tokens", "1999000")
	h.Set("X-Ratelimit-Reset-Tokens", "30ms")
}

// nextID returns a fresh number for ids and file names.
func (s *Server) nextID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return s.seq
}

// hasModel reports whether the server serves the model id.
func (s *Server) hasModel(id string) bool { return slices.Contains(s.opts.models, id) }

// checkModel answers OpenAI's errors for a missing or unknown model and
// reports whether the request may go on.
func (s *Server) checkModel(w http.ResponseWriter, model string) bool {
	if model == "" {
		writeAPIError(w, badRequest("you must provide a model parameter", ""))
		return false
	}
	if !s.hasModel(model) {
		writeAPIError(w, Fail(http.StatusNotFound).Message(
			fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", model)))
		return false
	}
	return true
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/files/")
	s.mu.Lock()
	f, ok := s.files[name]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
	_, _ = w.Write(f.data)
}

// storeFile keeps data to serve under /files/name and returns its URL.
func (s *Server) storeFile(name, contentType string, data []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[name] = servedFile{contentType: contentType, data: data}
	return s.http.URL + "/files/" + name
}
