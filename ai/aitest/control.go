package aitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxBody bounds a request body the servers read (OpenAI takes image edits
// of up to 50 MB).
const maxBody = 64 << 20

// Request is one HTTP request a test server received, for assertions.
type Request struct {
	// Call is the 1-based number of this request among those to the same
	// endpoint (a path of Server, an operation of VideoQueue).
	Call int
	// Method, Path and Query are those of the request URL.
	Method string
	Path   string
	Query  url.Values
	// Header holds the request headers, Authorization included.
	Header http.Header
	// Body is the raw request body.
	Body []byte
	// JSON is the body decoded as a JSON object; nil when it is not one.
	JSON map[string]any
	// Form and Files hold the fields and files of a multipart body, by
	// field name (the first of each name).
	Form  map[string]string
	Files map[string]File
	// Status is the HTTP status the server answered; 0 when it never
	// answered because the client went away first.
	Status int
	// Canceled reports that the client canceled the request while the
	// server was delaying it.
	Canceled bool
}

// File is a file part of a multipart request.
type File struct {
	Filename    string
	ContentType string
	Data        []byte
}

// Decode decodes the JSON body into v.
func (r Request) Decode(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("aitest: decoding the body of %s %s: %w", r.Method, r.Path, err)
	}
	return nil
}

// Prompt returns the text the request asks about: the text of all chat
// messages joined by newlines, else the "prompt" field (JSON or form),
// else the "input" field (a string, or strings joined by newlines).
func (r Request) Prompt() string {
	if msgs, ok := r.JSON["messages"].([]any); ok {
		var parts []string
		for _, m := range msgs {
			if m, ok := m.(map[string]any); ok {
				parts = append(parts, contentText(m["content"]))
			}
		}
		return strings.Join(parts, "\n")
	}
	if p, ok := r.JSON["prompt"].(string); ok {
		return p
	}
	if p, ok := r.Form["prompt"]; ok {
		return p
	}
	return contentText(r.JSON["input"])
}

// contentText returns the text of a chat content value (a string or a list
// of parts) or of an input value (a string or a list of strings).
func contentText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		var parts []string
		for _, p := range v {
			if m, ok := p.(map[string]any); ok {
				p = m["text"]
			}
			if s, ok := p.(string); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "\n")
	}
	return ""
}

// control records requests and hands out scripted steps; both servers use
// it, keyed by endpoint.
type control struct {
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	reqs     []*Request
	calls    map[string]int
	scripts  map[string][]Step
	choosers map[string]func(Request) Step
	delays   map[string]time.Duration
}

func newControl() *control {
	return &control{
		closed:   make(chan struct{}),
		calls:    map[string]int{},
		scripts:  map[string][]Step{},
		choosers: map[string]func(Request) Step{},
		delays:   map[string]time.Duration{},
	}
}

// close ends every pending delay, so a closing server does not wait on
// them.
func (c *control) close() { c.closeOnce.Do(func() { close(c.closed) }) }

// begin reads and records r as a call to key.
func (c *control) begin(w http.ResponseWriter, r *http.Request, key string) *Request {
	body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	rec := &Request{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
		Header: r.Header.Clone(), Body: body,
	}
	decodeBody(rec, r.Header.Get("Content-Type"))
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[key]++
	rec.Call = c.calls[key]
	c.reqs = append(c.reqs, rec)
	return rec
}

// decodeBody fills rec.JSON or rec.Form and rec.Files from the raw body.
func decodeBody(rec *Request, contentType string) {
	mediaType, params, _ := mime.ParseMediaType(contentType)
	if mediaType != "multipart/form-data" {
		var m map[string]any
		if json.Unmarshal(rec.Body, &m) == nil {
			rec.JSON = m
		}
		return
	}
	form, err := multipart.NewReader(bytes.NewReader(rec.Body), params["boundary"]).ReadForm(maxBody)
	if err != nil {
		return
	}
	defer func() { _ = form.RemoveAll() }()
	rec.Form, rec.Files = map[string]string{}, map[string]File{}
	for k, v := range form.Value {
		rec.Form[k] = v[0]
	}
	for k, fhs := range form.File {
		if f, err := readPart(fhs[0]); err == nil {
			rec.Files[k] = f
		}
	}
}

func readPart(fh *multipart.FileHeader) (File, error) {
	f, err := fh.Open()
	if err != nil {
		return File{}, fmt.Errorf("opening part %s: %w", fh.Filename, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return File{}, fmt.Errorf("reading part %s: %w", fh.Filename, err)
	}
	return File{Filename: fh.Filename, ContentType: fh.Header.Get("Content-Type"), Data: data}, nil
}

// next returns the step for the call rec to key: the next scripted step,
// else the chooser's, else OK; and the endpoint's standing delay.
func (c *control) next(key string, rec *Request) (Step, time.Duration) {
	c.mu.Lock()
	delay := c.delays[key]
	if q := c.scripts[key]; len(q) > 0 {
		c.scripts[key] = q[1:]
		c.mu.Unlock()
		return q[0], delay
	}
	choose := c.choosers[key]
	snapshot := *rec
	c.mu.Unlock()
	if choose != nil {
		return choose(snapshot), delay
	}
	return OK(), delay
}

// finish records how the call ended.
func (c *control) finish(rec *Request, status int, canceled bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec.Status, rec.Canceled = status, canceled
}

// pause waits d, or less when ctx ends or the server closes; it reports
// whether the whole delay passed.
func (c *control) pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-c.closed:
	}
	return false
}

func (c *control) script(key string, steps []Step) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scripts[key] = append(c.scripts[key], steps...)
}

func (c *control) choose(key string, fn func(Request) Step) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.choosers[key] = fn
}

func (c *control) delay(key string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.delays[key] = d
}

func (c *control) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[key]
}

// requests returns copies of the recorded requests whose path matches
// (all when match is nil).
func (c *control) requests(match func(string) bool) []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Request
	for _, r := range c.reqs {
		if match == nil || match(r.Path) {
			out = append(out, *r)
		}
	}
	return out
}

// statusWriter remembers the status written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the status and passes it on.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Flush sends what is buffered, for streamed answers.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "aitest: encoding the answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
