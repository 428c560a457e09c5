package aitest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error types a completed-with-error request reports in its status.
const (
	ErrorTypeCancelled = "request_cancelled"
	ErrorTypeFailed    = "request_failed"
)

// Model error types of a failed request's result detail, from fal's model
// error reference (https://docs.fal.ai/errors).
const (
	// ModelErrorContentPolicy: the model's safety checker flagged the
	// input or the output.
	ModelErrorContentPolicy = "content_policy_violation"
	// ModelErrorValue: an input value the model cannot use.
	ModelErrorValue = "value_error"
)

// status answers GET .../requests/{id}/status, first advancing the job
// when SetPollsPerStep says this poll does.
func (q *VideoQueue) status(w http.ResponseWriter, rec *Request, app, id string) {
	q.mu.Lock()
	j, ok := q.jobs[id]
	if !ok || j.App != app {
		q.mu.Unlock()
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Request not found", "status": "NOT_FOUND"})
		return
	}
	j.Polls++
	advance := q.pollsStep > 0 && j.Polls%q.pollsStep == 0 && j.Status != StatusCompleted
	q.mu.Unlock()
	if advance {
		if _, done, err := q.step(id, "", ""); err == nil && done {
			q.sendWebhook(id)
		}
	}
	q.mu.Lock()
	body, code := q.statusBody(j, rec.Query.Get("logs") == "1")
	q.mu.Unlock()
	writeJSON(w, code, body)
}

// statusBody is the status answer of j: 202 while it runs, 200 once
// COMPLETED. The caller holds q.mu.
func (q *VideoQueue) statusBody(j *Job, logs bool) (map[string]any, int) {
	body := q.urls(j)
	body["status"] = j.Status
	body["logs"] = nil
	if logs {
		body["logs"] = []map[string]any{{"message": "aitest: request is " + j.Status, "level": "INFO",
			"source": "user", "timestamp": time.Now().UTC().Format(time.RFC3339Nano)}}
	}
	switch j.Status {
	case StatusInQueue:
		body["queue_position"] = q.position(j)
		return body, http.StatusAccepted
	case StatusInProgress:
		return body, http.StatusAccepted
	}
	body["metrics"] = map[string]any{"inference_time": 1.5}
	switch {
	case j.Cancelled:
		body["error"], body["error_type"] = "Request was cancelled", ErrorTypeCancelled
	case j.Error != "":
		body["error"], body["error_type"] = j.Error, ErrorTypeFailed
	}
	return body, http.StatusOK
}

// result answers GET .../requests/{id}.
func (q *VideoQueue) result(w http.ResponseWriter, app, id string) {
	j, ok := q.lookup(w, app, id)
	if !ok {
		return
	}
	q.mu.Lock()
	status, cancelled, failure, errorType := j.Status, j.Cancelled, j.Error, j.ErrorType
	payload := q.resultPayload(j)
	q.mu.Unlock()
	switch {
	case status != StatusCompleted:
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "Request is still in progress"})
	case cancelled:
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "Request was cancelled"})
	case failure != "":
		writeJSON(w, http.StatusUnprocessableEntity, failureDetail(failure, errorType))
	default:
		writeJSON(w, http.StatusOK, payload)
	}
}

// resultPayload is the model output of a completed job. The caller holds
// q.mu.
func (q *VideoQueue) resultPayload(j *Job) map[string]any {
	return map[string]any{
		"video": map[string]any{"url": q.http.URL + "/files/" + j.ID + ".mp4", "content_type": "video/mp4",
			"file_name": "output.mp4", "file_size": len(j.Video)},
		"seed": len(j.ID) * 7919,
	}
}

// failureDetail is fal's model error body: a detail array of errors with
// loc, msg, a machine-readable type and the url documenting it.
func failureDetail(msg, errorType string) map[string]any {
	return map[string]any{"detail": []map[string]any{{"loc": []string{"body"}, "msg": msg, "type": errorType,
		"url": "https://docs.fal.ai/errors#" + errorType}}}
}

// cancel answers PUT .../requests/{id}/cancel. Cancelling a running
// request stops it at once here (fal signals the runner, and the model
// decides).
func (q *VideoQueue) cancel(w http.ResponseWriter, app, id string) {
	j, ok := q.lookup(w, app, id)
	if !ok {
		return
	}
	q.mu.Lock()
	done := j.Status == StatusCompleted
	if !done {
		j.Status, j.Cancelled = StatusCompleted, true
	}
	q.mu.Unlock()
	if done {
		writeJSON(w, http.StatusBadRequest, map[string]string{"status": "ALREADY_COMPLETED"})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "CANCELLATION_REQUESTED"})
}

// sendWebhook delivers the completion of job id to its fal_webhook URL,
// if it has one and was not cancelled.
func (q *VideoQueue) sendWebhook(id string) {
	q.mu.Lock()
	j := q.jobs[id]
	url, skip := j.Webhook, j.Cancelled
	body := q.webhookBody(j)
	q.mu.Unlock()
	if url == "" || skip {
		return
	}
	d := q.post(url, id, body)
	q.mu.Lock()
	q.webhooks = append(q.webhooks, d)
	q.mu.Unlock()
}

// Redeliver sends the webhook of a completed request again, as fal does
// when a delivery is not acknowledged, and returns the delivery.
func (q *VideoQueue) Redeliver(id string) WebhookDelivery {
	before := len(q.Webhooks())
	q.sendWebhook(id)
	if all := q.Webhooks(); len(all) > before {
		return all[len(all)-1]
	}
	q.t.Errorf("aitest: request %s has no webhook to redeliver", id)
	return WebhookDelivery{}
}

// webhookBody is fal's webhook payload for a completed job. The caller
// holds q.mu.
func (q *VideoQueue) webhookBody(j *Job) []byte {
	msg := map[string]any{"request_id": j.ID, "gateway_request_id": j.ID, "status": "OK", "payload": q.resultPayload(j)}
	if j.Error != "" {
		msg["status"], msg["error"], msg["payload"] = "ERROR", "Invalid status code: 422", failureDetail(j.Error, j.ErrorType)
	}
	b, _ := json.Marshal(msg)
	return b
}

// post signs body and POSTs it to url, recording the outcome.
func (q *VideoQueue) post(url, id string, body []byte) WebhookDelivery {
	d := WebhookDelivery{RequestID: id, URL: url, Body: body, Header: q.signedHeaders(id, body)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-q.ctl.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		d.Err = fmt.Sprintf("building the webhook request: %v", err)
		return d
	}
	req.Header = d.Header.Clone()
	resp, err := q.deliver.Do(req)
	if err != nil {
		d.Err = err.Error()
		return d
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	d.StatusCode = resp.StatusCode
	return d
}

// signedHeaders are fal's webhook headers with an Ed25519 signature of
// request_id, user_id, timestamp and the body's SHA-256, joined by
// newlines.
func (q *VideoQueue) signedHeaders(id string, body []byte) http.Header {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sum := sha256.Sum256(body)
	msg := strings.Join([]string{id, q.opts.userID, ts, hex.EncodeToString(sum[:])}, "\n")
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Fal-Webhook-Request-Id", id)
	h.Set("X-Fal-Webhook-User-Id", q.opts.userID)
	h.Set("X-Fal-Webhook-Timestamp", ts)
	h.Set("X-Fal-Webhook-Signature", hex.EncodeToString(ed25519.Sign(q.key, []byte(msg))))
	return h
}

// serveJWKS publishes the webhook key as a JSON Web Key Set.
func (q *VideoQueue) serveJWKS(w http.ResponseWriter) {
	key := map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": "aitest-1", "alg": "EdDSA", "use": "sig",
		"x": base64.RawURLEncoding.EncodeToString(q.PublicKey())}
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{key}})
}

// serveVideo serves GET /files/{id}.mp4, with range support.
func (q *VideoQueue) serveVideo(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/files/"), ".mp4")
	q.mu.Lock()
	var video []byte
	if j, ok := q.jobs[id]; ok {
		video = j.Video
	}
	q.mu.Unlock()
	if video == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "video/mp4")
	http.ServeContent(w, r, "output.mp4", time.Time{}, bytes.NewReader(video))
}
