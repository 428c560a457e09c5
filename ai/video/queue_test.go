package video

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/ai/aitest"
)

const veoFast = "fal-ai/veo3/fast/text-to-video"

// authRecorder is a transport that records the Authorization header sent
// to each URL path.
type authRecorder struct {
	mu   sync.Mutex
	auth map[string]string
}

func (r *authRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.auth[req.URL.Path] = req.Header.Get("Authorization")
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *authRecorder) sent(path string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.auth[path]
	return v, ok
}

// newClient returns a Client of q with short backoffs; edit changes the
// configuration first.
func newClient(t *testing.T, q *aitest.VideoQueue, edit ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{BaseURL: q.URL(), APIKey: q.APIKey(), JWKSURL: q.JWKSURL(),
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestSubmitStatusResult(t *testing.T) {
	q := aitest.NewVideoQueue(t)
	rec := &authRecorder{auth: map[string]string{}}
	c := newClient(t, q, func(cfg *Config) { cfg.HTTPClient = &http.Client{Transport: rec} })
	ctx := context.Background()

	first, err := c.Submit(ctx, veoFast, map[string]any{"prompt": "a kiln at dawn", "duration": "8s"}, "")
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	second, err := c.Submit(ctx, veoFast, map[string]any{"prompt": "a kiln at dusk", "aspect_ratio": "9:16"}, "")
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	base := q.URL() + "/fal-ai/veo3/requests/" + second.ID
	if second.ID == "" || second.ID == first.ID || second.StatusURL != base+"/status" ||
		second.ResponseURL != base || second.CancelURL != base+"/cancel" || second.QueuePosition != 1 {
		t.Fatalf("second request = %+v, want a new id, URLs under %s and queue position 1", second, base)
	}
	if j, _ := q.Job(second.ID); j.Endpoint != veoFast || j.Input["prompt"] != "a kiln at dusk" || j.Webhook != "" {
		t.Errorf("the queue got %+v", j)
	}

	wantState(t, c, second.ID, StateInQueue, 1)
	q.Advance(first.ID)
	wantState(t, c, second.ID, StateInQueue, 0)
	q.Advance(second.ID)
	st, err := c.StatusWithLogs(ctx, veoFast, second.ID)
	if err != nil || st.State != StateInProgress || len(st.Logs) == 0 || !strings.Contains(st.Logs[0].Message, "IN_PROGRESS") {
		t.Fatalf("StatusWithLogs = %+v, %v; want IN_PROGRESS with a log line", st, err)
	}
	q.Complete(second.ID)
	st = wantState(t, c, second.ID, StateCompleted, 0)
	if !st.Done() || st.Failed() || st.InferenceSeconds != 1.5 {
		t.Errorf("completed status = %+v, want done, not failed, 1.5 s of inference", st)
	}

	res, err := c.Result(ctx, veoFast, second.ID)
	if err != nil {
		t.Fatalf("Result: %v", err)
	}
	job, _ := q.Job(second.ID)
	v := res.Video()
	if len(res.Videos) != 1 || v.ContentType != "video/mp4" || v.Size != int64(len(job.Video)) ||
		!bytes.Contains(res.Raw, []byte(`"seed"`)) {
		t.Fatalf("Result = %+v", res)
	}
	data, contentType, err := c.Download(ctx, v.URL, 1<<20)
	if err != nil || !bytes.Equal(data, job.Video) || contentType != "video/mp4" {
		t.Fatalf("Download = %d bytes %q, %v; want the job's %d-byte MP4", len(data), contentType, err, len(job.Video))
	}

	for _, r := range q.Requests() {
		if r.Header.Get("Authorization") != "Key "+q.APIKey() {
			t.Errorf("%s %s sent Authorization %q", r.Method, r.Path, r.Header.Get("Authorization"))
		}
	}
	if auth, ok := rec.sent("/files/" + second.ID + ".mp4"); !ok || auth != "" {
		t.Errorf("the download sent Authorization %q (sent: %v); the key must stay with the queue API", auth, ok)
	}
}

// wantState checks the status of a request of veoFast.
func wantState(t *testing.T, c *Client, id string, state State, position int) Status {
	t.Helper()
	st, err := c.Status(context.Background(), veoFast, id)
	if err != nil || st.State != state || st.QueuePosition != position {
		t.Fatalf("Status = %+v, %v; want %s at position %d", st, err, state, position)
	}
	return st
}

func TestCancel(t *testing.T) {
	q := aitest.NewVideoQueue(t)
	c := newClient(t, q)
	ctx := context.Background()
	req, err := c.Submit(ctx, veoFast, map[string]any{"prompt": "p"}, "")
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	tests := []struct {
		name string
		id   string
		want error
	}{
		{"in queue", req.ID, nil},
		{"again, once finished", req.ID, ErrAlreadyCompleted},
		{"unknown request", "no-such-request", ErrRequestNotFound},
	}
	for _, tc := range tests {
		err := c.Cancel(ctx, veoFast, tc.id)
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("%s: Cancel = %v, want %v", tc.name, err, tc.want)
		}
	}
	if j, _ := q.Job(req.ID); !j.Cancelled {
		t.Errorf("the queue did not cancel the job: %+v", j)
	}
	last := q.Requests()[len(q.Requests())-1]
	if last.Method != http.MethodPut || last.Path != "/fal-ai/veo3/requests/no-such-request/cancel" {
		t.Errorf("cancel went to %s %s, want the app root", last.Method, last.Path)
	}
	if st, err := c.Status(ctx, veoFast, req.ID); err != nil || !st.Failed() || st.ErrorType != aitest.ErrorTypeCancelled {
		t.Errorf("Status after cancel = %+v, %v; want completed with the cancel error", st, err)
	}
	if _, err := c.Status(ctx, veoFast, "no-such-request"); !errors.Is(err, ErrRequestNotFound) {
		t.Errorf("Status of an unknown request = %v, want ErrRequestNotFound", err)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name  string
		setup func(q *aitest.VideoQueue)
		cfg   func(*Config)
		op    string // the operation tried: aitest.QueueSubmit or aitest.QueueStatus
		want  error
		calls int
		msg   string
		wait  time.Duration // the wait logged before the retry, when checked
	}{
		{name: "429 with Retry-After then success", op: aitest.QueueStatus, calls: 2, wait: time.Second,
			setup: func(q *aitest.VideoQueue) { q.Script(aitest.QueueStatus, aitest.Fail(429).RetryAfter(1)) }},
		{name: "5xx twice then success", op: aitest.QueueStatus, calls: 3,
			setup: func(q *aitest.VideoQueue) { q.Script(aitest.QueueStatus, aitest.Fail(503), aitest.Fail(500)) }},
		{name: "429 until the retries run out", op: aitest.QueueStatus, calls: 3, want: ai.ErrProviderRateLimited,
			cfg: func(c *Config) { c.MaxRetries = 2 },
			setup: func(q *aitest.VideoQueue) {
				q.Script(aitest.QueueStatus, aitest.Fail(429), aitest.Fail(429), aitest.Fail(429))
			}},
		{name: "a Retry-After beyond the limit fails at once", op: aitest.QueueStatus, calls: 1, want: ai.ErrProviderRateLimited,
			setup: func(q *aitest.VideoQueue) { q.Script(aitest.QueueStatus, aitest.Fail(429).RetryAfter(3600)) }},
		{name: "wrong API key is 401, not retried", op: aitest.QueueSubmit, calls: 1, want: ai.ErrProviderAuthFailed,
			cfg: func(c *Config) { c.APIKey = "fal-wrong-key" }},
		{name: "403 is an auth failure", op: aitest.QueueStatus, calls: 1, want: ai.ErrProviderAuthFailed,
			setup: func(q *aitest.VideoQueue) { q.Script(aitest.QueueStatus, aitest.Fail(403)) }},
		{name: "422 rejects with fal's message", op: aitest.QueueSubmit, calls: 1, want: ai.ErrProviderRequestRejected,
			msg: "duration must be one of 5, 8",
			setup: func(q *aitest.VideoQueue) {
				q.Script(aitest.QueueSubmit, aitest.Fail(422).Message("duration must be one of 5, 8"))
			}},
		{name: "a content-policy 400 is content_rejected", op: aitest.QueueSubmit, calls: 1, want: ai.ErrContentRejected,
			setup: func(q *aitest.VideoQueue) {
				q.Script(aitest.QueueSubmit, aitest.Fail(400).Message("The prompt violates our content policy"))
			}},
		{name: "a submit without an answer is not sent again", op: aitest.QueueSubmit, calls: 1, want: ai.ErrProviderUnavailable,
			cfg:   func(c *Config) { c.Timeout = 50 * time.Millisecond },
			setup: func(q *aitest.VideoQueue) { q.Script(aitest.QueueSubmit, aitest.OK().After(time.Minute)) }},
		{name: "a status poll without an answer is sent again", op: aitest.QueueStatus, calls: 2,
			cfg:   func(c *Config) { c.Timeout = 200 * time.Millisecond },
			setup: func(q *aitest.VideoQueue) { q.Script(aitest.QueueStatus, aitest.OK().After(time.Minute)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := aitest.NewVideoQueue(t)
			id := submitDirect(t, q)
			if tc.setup != nil {
				tc.setup(q)
			}
			waits := &waitLog{}
			edits := []func(*Config){func(c *Config) { c.Log = slog.New(waits) }}
			if tc.cfg != nil {
				edits = append(edits, tc.cfg)
			}
			c := newClient(t, q, edits...)
			before := q.Calls(tc.op)
			err := tryOp(c, tc.op, id)
			if tc.want == nil && err != nil || !errors.Is(err, tc.want) {
				t.Fatalf("%s = %v, want %v", tc.op, err, tc.want)
			}
			if !strings.Contains(errString(err), tc.msg) {
				t.Errorf("error %q does not carry fal's message %q", err, tc.msg)
			}
			if got := q.Calls(tc.op) - before; got != tc.calls {
				t.Errorf("%d %s requests, want %d", got, tc.op, tc.calls)
			}
			if got := waits.all(); tc.wait != 0 && (len(got) != 1 || got[0] != tc.wait) {
				t.Errorf("waits before retries = %v, want the Retry-After of %s", got, tc.wait)
			}
		})
	}
}

// waitLog is a slog handler keeping the "wait" of each retry line.
type waitLog struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (w *waitLog) Enabled(context.Context, slog.Level) bool { return true }
func (w *waitLog) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *waitLog) WithGroup(string) slog.Handler            { return w }

func (w *waitLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "wait" {
			w.mu.Lock()
			w.waits = append(w.waits, a.Value.Duration())
			w.mu.Unlock()
		}
		return true
	})
	return nil
}

func (w *waitLog) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.waits...)
}

// submitDirect queues a request with a client of q, so faults scripted
// afterwards hit the operation under test.
func submitDirect(t *testing.T, q *aitest.VideoQueue) string {
	t.Helper()
	req, err := newClient(t, q).Submit(context.Background(), veoFast, map[string]any{"prompt": "p"}, "")
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	return req.ID
}

func tryOp(c *Client, op, id string) error {
	ctx := context.Background()
	if op == aitest.QueueSubmit {
		_, err := c.Submit(ctx, veoFast, map[string]any{"prompt": "p"}, "")
		return err
	}
	st, err := c.Status(ctx, veoFast, id)
	if err == nil && st.State != StateInQueue {
		return errors.New("status " + string(st.State) + ", want IN_QUEUE")
	}
	return err
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestFailedRequest(t *testing.T) {
	tests := []struct {
		name, errType, msg string
		want               error
	}{
		{"content policy", aitest.ModelErrorContentPolicy,
			"The content could not be processed because it contained material flagged by a content checker.",
			ai.ErrContentRejected},
		{"invalid input", aitest.ModelErrorValue, "image_url could not be downloaded", ai.ErrProviderRequestRejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := aitest.NewVideoQueue(t)
			c := newClient(t, q)
			ctx := context.Background()
			req, err := c.Submit(ctx, veoFast, map[string]any{"prompt": "p"}, "")
			if err != nil {
				t.Fatalf("Submit: %v", err)
			}
			q.FailRequestAs(req.ID, tc.errType, tc.msg)
			if st, err := c.Status(ctx, veoFast, req.ID); err != nil || !st.Failed() || st.Error != tc.msg {
				t.Errorf("Status = %+v, %v; want failed with the model's message", st, err)
			}
			_, err = c.Result(ctx, veoFast, req.ID)
			if !errors.Is(err, tc.want) || !strings.Contains(errString(err), tc.msg) {
				t.Errorf("Result = %v, want %v with the model's message", err, tc.want)
			}
			if tc.want == ai.ErrContentRejected && errors.Is(err, ai.ErrProviderRequestRejected) {
				t.Errorf("a content refusal also matches provider_request_rejected: %v", err)
			}
			if n := q.Calls(aitest.QueueResult); n != 1 {
				t.Errorf("%d result requests, want 1 (a refusal is not retried)", n)
			}
		})
	}
}

func TestDownloadLimit(t *testing.T) {
	q := aitest.NewVideoQueue(t)
	c := newClient(t, q)
	ctx := context.Background()
	req, err := c.Submit(ctx, veoFast, map[string]any{"prompt": "p"}, "")
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	q.Complete(req.ID)
	res, err := c.Result(ctx, veoFast, req.ID)
	if err != nil {
		t.Fatalf("Result: %v", err)
	}
	size := res.Video().Size
	// chunked serves the same bytes without a Content-Length.
	job, _ := q.Job(req.ID)
	chunked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < len(job.Video); i += 64 {
			_, _ = w.Write(job.Video[i:min(i+64, len(job.Video))])
			w.(http.Flusher).Flush()
		}
	}))
	defer chunked.Close()
	tests := []struct {
		name  string
		url   string
		limit int64
		want  error
	}{
		{"at the limit", res.Video().URL, size, nil},
		{"over the limit by Content-Length", res.Video().URL, size - 1, ErrTooLarge},
		{"over the limit while reading", chunked.URL, size - 1, ErrTooLarge},
		{"under the limit while reading", chunked.URL, size, nil},
		{"a missing file", q.URL() + "/files/nope.mp4", size, ai.ErrProviderRequestRejected},
	}
	for _, tc := range tests {
		data, contentType, err := c.Download(ctx, tc.url, tc.limit)
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("%s: Download = %v, want %v", tc.name, err, tc.want)
			continue
		}
		if tc.want == nil && (!bytes.Equal(data, job.Video) || contentType != "video/mp4") {
			t.Errorf("%s: got %d bytes of %q, want the %d-byte MP4", tc.name, len(data), contentType, size)
		}
	}
}

func TestModelPaths(t *testing.T) {
	tests := []struct {
		model, submit, app string
		bad                bool
	}{
		{model: "fal-ai/veo3", submit: "fal-ai/veo3", app: "fal-ai/veo3"},
		{model: "fal-ai/sora-2/text-to-video", submit: "fal-ai/sora-2/text-to-video", app: "fal-ai/sora-2"},
		{model: "fal-ai/kling-video/v2/master/text-to-video", submit: "fal-ai/kling-video/v2/master/text-to-video",
			app: "fal-ai/kling-video"},
		{model: "workflows/acme/clip/render", submit: "workflows/acme/clip/render", app: "workflows/acme/clip"},
		{model: "acme/my app", submit: "acme/my%20app", app: "acme/my%20app"},
		{model: "veo3", bad: true},
		{model: "fal-ai//veo3", bad: true},
		{model: "/fal-ai/veo3", bad: true},
		{model: "fal-ai/../admin", bad: true},
	}
	for _, tc := range tests {
		submit, err1 := modelPath(tc.model)
		app, err2 := appPath(tc.model)
		if tc.bad {
			if err1 == nil || err2 == nil {
				t.Errorf("%q: paths %q, %q; want an error", tc.model, submit, app)
			}
			continue
		}
		if err1 != nil || err2 != nil || submit != tc.submit || app != tc.app {
			t.Errorf("%q: submit %q app %q (%v, %v); want %q and %q", tc.model, submit, app, err1, err2, tc.submit, tc.app)
		}
	}
}

func TestNamespacedModelAgainstQueue(t *testing.T) {
	q := aitest.NewVideoQueue(t)
	c := newClient(t, q)
	ctx := context.Background()
	const model = "workflows/acme/clip/render"
	req, err := c.Submit(ctx, model, map[string]any{"prompt": "p"}, "")
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if st, err := c.Status(ctx, model, req.ID); err != nil || st.State != StateInQueue {
		t.Errorf("Status = %+v, %v", st, err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no key", Config{}, "KILN_FAL_API_KEY"},
		{"relative base URL", Config{APIKey: "k", BaseURL: "queue.fal.run"}, "base URL"},
		{"bad JWKS URL", Config{APIKey: "k", JWKSURL: "ftp://x"}, "JWKS URL"},
	}
	for _, tc := range tests {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	c, err := New(Config{APIKey: "k"})
	if err != nil || c.cfg.BaseURL != DefaultBaseURL || c.verifier.cfg.JWKSURL != DefaultJWKSURL || c.cfg.Timeout != DefaultTimeout {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	if _, err := c.Submit(context.Background(), "fal-ai/veo3", nil, "not a url"); err == nil ||
		!strings.Contains(err.Error(), "webhook URL") {
		t.Errorf("Submit with a bad webhook URL = %v, want an error before any request", err)
	}
}
