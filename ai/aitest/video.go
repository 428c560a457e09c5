package aitest

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Operations of the video queue, the endpoint names for VideoQueue's
// Script, Choose, Delay and Calls.
const (
	QueueSubmit = "submit"
	QueueStatus = "status"
	QueueResult = "result"
	QueueCancel = "cancel"
)

// Statuses of a queue request, as the status endpoint reports them.
const (
	StatusInQueue    = "IN_QUEUE"
	StatusInProgress = "IN_PROGRESS"
	StatusCompleted  = "COMPLETED"
)

// DefaultFalKey is the key a VideoQueue accepts unless WithAPIKey says
// otherwise; clients send it as "Authorization: Key <key>".
const DefaultFalKey = "fal-aitest-key:0123456789abcdef"

// DefaultWebhookUserID is the X-Fal-Webhook-User-Id of webhook deliveries.
const DefaultWebhookUserID = "aitest-user"

// VideoQueue is a test server for an asynchronous generation queue shaped
// like fal.ai's (https://queue.fal.run):
//
//	POST /{owner}/{app}[/{path}][?fal_webhook=URL]  submit → request_id, status_url, response_url, cancel_url
//	GET  /{owner}/{app}/requests/{id}/status     → {status, queue_position, ...}; 202 until COMPLETED, then 200
//	GET  /{owner}/{app}/requests/{id}            → the result: {video: {url, content_type, file_name, file_size}, seed}
//	PUT  /{owner}/{app}/requests/{id}/cancel     → 202 CANCELLATION_REQUESTED, 400 ALREADY_COMPLETED, 404 NOT_FOUND
//	GET  /files/{id}.mp4                         → the video, a small valid MP4 (no key needed, like fal's CDN)
//	GET  /.well-known/jwks.json                  → the public key webhooks are signed with
//
// The status and result URLs drop any path after {owner}/{app}, as fal
// does (after {namespace}/{owner}/{app} for the "workflows" and "comfy"
// namespaces). Requests move IN_QUEUE → IN_PROGRESS → COMPLETED only when the
// test says so: Advance, Complete, FailRequest or FailRequestAs, or every
// n-th status poll after SetPollsPerStep(n). A failed request reports
// COMPLETED with "error" and error_type ErrorTypeFailed, and its result
// answers 422 with fal's model error shape, {"detail": [{loc, msg, type,
// url}]}, the type ModelErrorValue or the one FailRequestAs names (such
// as ModelErrorContentPolicy); a cancelled one reports
// COMPLETED with error_type ErrorTypeCancelled, its result answers 400
// and no webhook is sent. Asking for the result before completion answers
// 400 "Request is still in progress".
//
// Webhooks follow fal's scheme: when a request with fal_webhook completes,
// the server POSTs {request_id, gateway_request_id, status: "OK"|"ERROR",
// payload, error} to the URL, signed with Ed25519. The headers are
// X-Fal-Webhook-Request-Id, X-Fal-Webhook-User-Id,
// X-Fal-Webhook-Timestamp (Unix seconds) and X-Fal-Webhook-Signature, the
// hex signature of the message
//
//	request_id + "\n" + user_id + "\n" + timestamp + "\n" + hex(sha256(body))
//
// made with a key pair generated per server, whose public key is served
// as a JWKS (kty OKP, crv Ed25519, x the base64url key) at JWKSURL. A
// verifier built for fal's production JWKS URL works here when given
// JWKSURL instead. The delivery happens once, synchronously, before the
// call that completed the request returns; Redeliver repeats it, as fal's
// retries would.
type VideoQueue struct {
	t       testing.TB
	http    *httptest.Server
	ctl     *control
	opts    options
	key     ed25519.PrivateKey
	deliver *http.Client

	mu        sync.Mutex
	jobs      map[string]*Job
	order     []string
	pollsStep int
	webhooks  []WebhookDelivery
}

// Job is the state of one submitted request.
type Job struct {
	// ID is the request_id.
	ID string
	// App is "{owner}/{app}", the base of the status and result URLs.
	App string
	// Endpoint is the full submitted model path, e.g. "fal-ai/veo3" or
	// "fal-ai/kling-video/v2/master/text-to-video".
	Endpoint string
	// Input is the submitted JSON body.
	Input map[string]any
	// Webhook is the fal_webhook URL, if any.
	Webhook string
	// Status is IN_QUEUE, IN_PROGRESS or COMPLETED.
	Status string
	// Cancelled reports a cancel before completion.
	Cancelled bool
	// Error is the failure message of a failed request.
	Error string
	// ErrorType is the model error type of a failed request, e.g.
	// ModelErrorContentPolicy.
	ErrorType string
	// Polls counts the status requests for the job.
	Polls int
	// Video is the generated MP4 once COMPLETED without error.
	Video []byte
}

// WebhookDelivery is one webhook POST the queue made.
type WebhookDelivery struct {
	RequestID string
	URL       string
	Header    http.Header
	Body      []byte
	// StatusCode is the receiver's answer; 0 when the POST failed.
	StatusCode int
	// Err is the transport error, if any.
	Err string
}

// NewVideoQueue starts a VideoQueue for the test t; t's cleanup closes it.
func NewVideoQueue(t testing.TB, opts ...Option) *VideoQueue {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("aitest: generating the webhook key: %v", err)
	}
	q := &VideoQueue{
		t: t, ctl: newControl(), opts: buildOptions(DefaultFalKey, opts), key: priv,
		deliver: &http.Client{Timeout: 15 * time.Second}, jobs: map[string]*Job{},
	}
	q.http = httptest.NewServer(q)
	t.Cleanup(q.Close)
	return q
}

// URL is the queue's base URL, the counterpart of https://queue.fal.run.
func (q *VideoQueue) URL() string { return q.http.URL }

// APIKey is the key the queue accepts ("" when it accepts any).
func (q *VideoQueue) APIKey() string { return q.opts.apiKey }

// JWKSURL is where the webhook signing key is published.
func (q *VideoQueue) JWKSURL() string { return q.http.URL + "/.well-known/jwks.json" }

// PublicKey is the webhook signing key.
func (q *VideoQueue) PublicKey() ed25519.PublicKey { return q.key.Public().(ed25519.PublicKey) }

// Close shuts the server down; t's cleanup calls it.
func (q *VideoQueue) Close() {
	q.ctl.close()
	q.http.Close()
}

// Script queues steps for the next calls of an operation (QueueSubmit,
// QueueStatus, QueueResult, QueueCancel); a failing step answers
// {"detail": message} with its status instead of doing the operation.
func (q *VideoQueue) Script(op string, steps ...Step) { q.ctl.script(q.op(op), steps) }

// Choose sets the step function for calls of op that no Script step
// covers. Nil removes it.
func (q *VideoQueue) Choose(op string, fn func(Request) Step) { q.ctl.choose(q.op(op), fn) }

// Delay slows every call of op by d.
func (q *VideoQueue) Delay(op string, d time.Duration) { q.ctl.delay(q.op(op), d) }

// Calls is the number of calls of op so far.
func (q *VideoQueue) Calls(op string) int { return q.ctl.count(q.op(op)) }

// Requests returns every API request received (not file or JWKS
// downloads), in arrival order.
func (q *VideoQueue) Requests() []Request { return q.ctl.requests(nil) }

// SetPollsPerStep makes every n-th status poll of a request advance it one
// state before the poll is answered (so with n = 2 the polls see
// IN_QUEUE, IN_PROGRESS, IN_PROGRESS, COMPLETED). Zero, the default,
// leaves progress to Advance.
func (q *VideoQueue) SetPollsPerStep(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pollsStep = n
}

func (q *VideoQueue) op(op string) string {
	q.t.Helper()
	switch op {
	case QueueSubmit, QueueStatus, QueueResult, QueueCancel:
	default:
		q.t.Errorf("aitest: %q is not a video queue operation", op)
	}
	return op
}

// Jobs returns the submitted requests in submission order.
func (q *VideoQueue) Jobs() []Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]Job, len(q.order))
	for i, id := range q.order {
		out[i] = *q.jobs[id]
	}
	return out
}

// Job returns the request with the id.
func (q *VideoQueue) Job(id string) (Job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	j, ok := q.jobs[id]
	if !ok {
		return Job{}, false
	}
	return *j, true
}

// Webhooks returns the webhook deliveries made so far.
func (q *VideoQueue) Webhooks() []WebhookDelivery {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]WebhookDelivery(nil), q.webhooks...)
}

// Advance moves the request one state on (IN_QUEUE → IN_PROGRESS →
// COMPLETED) and returns the new status; completing it sends its webhook.
// An unknown or finished request fails the test.
func (q *VideoQueue) Advance(id string) string {
	status, done, err := q.step(id, "", "")
	if err != nil {
		q.t.Errorf("aitest: advancing %s: %v", id, err)
		return status
	}
	if done {
		q.sendWebhook(id)
	}
	return status
}

// Complete moves the request to COMPLETED with a video and sends its
// webhook.
func (q *VideoQueue) Complete(id string) {
	for {
		if st := q.Advance(id); st == StatusCompleted || st == "" {
			return
		}
	}
}

// FailRequest completes the request with an error (as when the model
// rejects the input) and sends its webhook with status ERROR. The error's
// type is ModelErrorValue.
func (q *VideoQueue) FailRequest(id, message string) {
	q.FailRequestAs(id, ModelErrorValue, message)
}

// FailRequestAs is FailRequest with the model error type of fal's error
// reference, e.g. ModelErrorContentPolicy for a prompt the model's safety
// checker refused.
func (q *VideoQueue) FailRequestAs(id, errorType, message string) {
	if _, _, err := q.step(id, message, errorType); err != nil {
		q.t.Errorf("aitest: failing %s: %v", id, err)
		return
	}
	q.sendWebhook(id)
}

// step advances (or, with a failure message, fails with errorType) a job
// under the lock and reports whether it completed now.
func (q *VideoQueue) step(id, failure, errorType string) (string, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	j, ok := q.jobs[id]
	if !ok {
		return "", false, fmt.Errorf("no such request")
	}
	if j.Status == StatusCompleted {
		return j.Status, false, fmt.Errorf("the request is already %s", j.Status)
	}
	switch {
	case failure != "":
		j.Status, j.Error, j.ErrorType = StatusCompleted, failure, errorType
	case j.Status == StatusInQueue:
		j.Status = StatusInProgress
	default:
		j.Status = StatusCompleted
		j.Video = renderVideo(j.Input, j.ID)
	}
	return j.Status, j.Status == StatusCompleted, nil
}

// renderVideo makes the MP4 for an input's duration and aspect_ratio.
func renderVideo(input map[string]any, id string) []byte {
	w, h := 64, 36
	switch input["aspect_ratio"] {
	case "9:16":
		w, h = 36, 64
	case "1:1":
		w, h = 48, 48
	case "4:3":
		w, h = 64, 48
	case "3:4":
		w, h = 48, 64
	}
	hash := fnv.New64a()
	_, _ = hash.Write([]byte(id))
	return videoMP4(w, h, videoSeconds(input["duration"]), hash.Sum64())
}

// videoSeconds reads a duration input: 5, "5", "8s"; 5 when absent,
// within 1 to 60.
func videoSeconds(v any) int {
	secs := 5
	switch v := v.(type) {
	case float64:
		secs = int(v)
	case string:
		digits := strings.TrimRightFunc(v, func(r rune) bool { return r < '0' || r > '9' })
		if n, err := strconv.Atoi(digits); err == nil {
			secs = n
		}
	}
	return min(max(secs, 1), 60)
}

// ServeHTTP routes the queue API, the video files and the JWKS.
func (q *VideoQueue) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/.well-known/jwks.json":
		q.serveJWKS(w)
		return
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/files/"):
		q.serveVideo(w, r)
		return
	}
	op, app, id := parseQueuePath(r.Method, r.URL.Path)
	if op == "" {
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not Found"})
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	rec := q.ctl.begin(w, r, op)
	canceled := false
	defer func() { q.ctl.finish(rec, sw.status, canceled) }()
	if !q.authorized(r) {
		writeJSON(sw, http.StatusUnauthorized, map[string]string{"detail": "Invalid or missing key: " +
			"send Authorization: Key <key>."})
		return
	}
	st, delay := q.ctl.next(op, rec)
	if !q.ctl.pause(r.Context(), delay+st.delay) {
		canceled = true
		return
	}
	if st.fails() {
		st.setRetryAfter(sw.Header())
		writeJSON(sw, st.status, map[string]string{"detail": falMessage(st)})
		return
	}
	q.serveOp(sw, rec, op, app, id)
}

func (q *VideoQueue) serveOp(w http.ResponseWriter, rec *Request, op, app, id string) {
	switch op {
	case QueueSubmit:
		q.submit(w, rec, app)
	case QueueStatus:
		q.status(w, rec, app, id)
	case QueueResult:
		q.result(w, app, id)
	case QueueCancel:
		q.cancel(w, app, id)
	}
}

// parseQueuePath names the operation of a request and its app and id.
func parseQueuePath(method, path string) (op, app, id string) {
	p := strings.Trim(path, "/")
	before, after, isReq := strings.Cut(p, "/requests/")
	if !isReq {
		if method == http.MethodPost && strings.Count(p, "/") >= 1 {
			return QueueSubmit, p, ""
		}
		return "", "", ""
	}
	id, tail, _ := strings.Cut(after, "/")
	switch {
	case method == http.MethodGet && tail == "status":
		return QueueStatus, before, id
	case method == http.MethodGet && tail == "":
		return QueueResult, before, id
	case method == http.MethodPut && tail == "cancel":
		return QueueCancel, before, id
	}
	return "", "", ""
}

func (q *VideoQueue) authorized(r *http.Request) bool {
	if q.opts.apiKey == "" {
		return true
	}
	return r.Header.Get("Authorization") == "Key "+q.opts.apiKey
}

// falMessage is the detail of a scripted failure.
func falMessage(st Step) string {
	if st.message != "" {
		return st.message
	}
	if st.status == http.StatusTooManyRequests {
		return "Rate limit exceeded. Please retry later."
	}
	return http.StatusText(st.status)
}

// submit answers POST /{owner}/{app}[/{path}]: it checks the input, queues
// a job and returns its URLs.
func (q *VideoQueue) submit(w http.ResponseWriter, rec *Request, endpoint string) {
	if rec.JSON == nil {
		writeJSON(w, http.StatusUnprocessableEntity, validationError("body", "Input should be a valid JSON object"))
		return
	}
	prompt, _ := rec.JSON["prompt"].(string)
	if _, hasImage := rec.JSON["image_url"]; prompt == "" && !hasImage {
		writeJSON(w, http.StatusUnprocessableEntity, validationError("prompt", "Field required"))
		return
	}
	app := appOf(endpoint)
	q.mu.Lock()
	id := fmt.Sprintf("%08x-0000-4000-8000-%012x", len(q.order)+1, len(q.order)+1)
	j := &Job{ID: id, App: app, Endpoint: endpoint, Input: rec.JSON, Webhook: rec.Query.Get("fal_webhook"),
		Status: StatusInQueue}
	q.jobs[id] = j
	q.order = append(q.order, id)
	body := q.urls(j)
	body["status"], body["queue_position"] = StatusInQueue, q.position(j)
	q.mu.Unlock()
	body["gateway_request_id"] = id
	writeJSON(w, http.StatusOK, body)
}

// appOf is the [{namespace}/]{owner}/{app} prefix of an endpoint path.
// Like fal's clients, it treats a first segment "workflows" or "comfy" as
// a namespace, so those ids keep three segments in their request URLs.
func appOf(endpoint string) string {
	parts := strings.Split(endpoint, "/")
	n := 2
	if (parts[0] == "workflows" || parts[0] == "comfy") && len(parts) > 2 {
		n = 3
	}
	return strings.Join(parts[:n], "/")
}

func validationError(field, msg string) map[string]any {
	return map[string]any{"detail": []map[string]any{{"loc": []string{"body", field}, "msg": msg, "type": "missing"}}}
}

// urls are a job's request_id and URLs. The caller holds q.mu.
func (q *VideoQueue) urls(j *Job) map[string]any {
	base := fmt.Sprintf("%s/%s/requests/%s", q.http.URL, j.App, j.ID)
	return map[string]any{"request_id": j.ID, "response_url": base, "status_url": base + "/status",
		"cancel_url": base + "/cancel"}
}

// position is the number of jobs submitted earlier that are still queued.
// The caller holds q.mu.
func (q *VideoQueue) position(j *Job) int {
	n := 0
	for _, id := range q.order {
		o := q.jobs[id]
		if o == j {
			break
		}
		if o.Status == StatusInQueue {
			n++
		}
	}
	return n
}

// lookup returns the job of app and id, or answers 404.
func (q *VideoQueue) lookup(w http.ResponseWriter, app, id string) (*Job, bool) {
	q.mu.Lock()
	j, ok := q.jobs[id]
	q.mu.Unlock()
	if !ok || j.App != app {
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Request not found", "status": "NOT_FOUND"})
		return nil, false
	}
	return j, true
}
