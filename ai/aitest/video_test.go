package aitest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const veo = "fal-ai/veo3/fast/text-to-video"

// falCall does one request against the queue with the default key and
// returns the status and the decoded JSON body.
func falCall(t *testing.T, q *VideoQueue, method, url string, body any) (int, map[string]any) {
	t.Helper()
	status, raw, _ := falRaw(t, q, method, url, body, "Key "+DefaultFalKey)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object: %v", method, url, raw, err)
	}
	return status, m
}

func falRaw(t *testing.T, q *VideoQueue, method, url string, body any, auth string) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	if !strings.HasPrefix(url, "http") {
		url = q.URL() + url
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := q.http.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, resp.Header
}

// submit submits a prompt and returns the submit answer.
func submit(t *testing.T, q *VideoQueue, path string, input map[string]any) map[string]any {
	t.Helper()
	status, body := falCall(t, q, http.MethodPost, path, input)
	if status != http.StatusOK {
		t.Fatalf("submit = %d %v", status, body)
	}
	return body
}

func TestVideoQueueLifecycle(t *testing.T) {
	q := NewVideoQueue(t)
	sub := submit(t, q, "/"+veo, map[string]any{"prompt": "a kiln at dawn", "duration": "8s", "aspect_ratio": "9:16"})
	id, _ := sub["request_id"].(string)
	base := q.URL() + "/fal-ai/veo3/requests/" + id
	if sub["status_url"] != base+"/status" || sub["response_url"] != base || sub["cancel_url"] != base+"/cancel" {
		t.Fatalf("submit URLs = %v, want them under %s (subpath dropped)", sub, base)
	}
	if sub["status"] != StatusInQueue || sub["queue_position"] != 0.0 {
		t.Errorf("submit = %v, want IN_QUEUE at position 0", sub)
	}
	wantStatus := func(code int, status string) map[string]any {
		t.Helper()
		got, body := falCall(t, q, http.MethodGet, base+"/status", nil)
		if got != code || body["status"] != status {
			t.Fatalf("status = %d %v, want %d %s", got, body, code, status)
		}
		return body
	}
	wantStatus(http.StatusAccepted, StatusInQueue)
	if got := q.Advance(id); got != StatusInProgress {
		t.Fatalf("Advance = %s", got)
	}
	wantStatus(http.StatusAccepted, StatusInProgress)
	if code, body := falCall(t, q, http.MethodGet, base, nil); code != http.StatusBadRequest {
		t.Errorf("result while running = %d %v, want 400", code, body)
	}
	q.Advance(id)
	if done := wantStatus(http.StatusOK, StatusCompleted); done["error"] != nil {
		t.Errorf("completed status carries an error: %v", done)
	}
	code, result := falCall(t, q, http.MethodGet, base, nil)
	video, _ := result["video"].(map[string]any)
	if code != http.StatusOK || video["content_type"] != "video/mp4" {
		t.Fatalf("result = %d %v", code, result)
	}
	mp4 := fetchVideo(t, q, video["url"].(string))
	if video["file_size"] != float64(len(mp4)) {
		t.Errorf("file_size %v, downloaded %d bytes", video["file_size"], len(mp4))
	}
	m := parseMP4(t, mp4)
	if m.width != 36 || m.height != 64 || m.durationMS != 8000 || m.frames != 8 {
		t.Errorf("video = %+v, want 36x64 (9:16) lasting 8 s at 1 fps", m)
	}
	if j, _ := q.Job(id); j.Endpoint != veo || j.Input["prompt"] != "a kiln at dawn" || j.Polls != 3 {
		t.Errorf("job = %+v", j)
	}
}

// fetchVideo downloads a video URL, also checking a range request.
func fetchVideo(t *testing.T, q *VideoQueue, url string) []byte {
	t.Helper()
	resp, err := q.http.Client().Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if len(b) < 8 || string(b[4:8]) != "ftyp" {
		t.Fatalf("the video does not start with an ftyp box: % x", b[:min(8, len(b))])
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Range", "bytes=0-7")
	part, err := q.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer part.Body.Close()
	head, _ := io.ReadAll(part.Body)
	if part.StatusCode != http.StatusPartialContent || !bytes.Equal(head, b[:8]) {
		t.Errorf("range request = %d % x", part.StatusCode, head)
	}
	return b
}

func TestVideoQueuePositionsAndPolls(t *testing.T) {
	q := NewVideoQueue(t)
	var ids []string
	for range 3 {
		ids = append(ids, submit(t, q, "/fal-ai/kling-video", map[string]any{"prompt": "p"})["request_id"].(string))
	}
	position := func(id string) any {
		_, body := falCall(t, q, http.MethodGet, "/fal-ai/kling-video/requests/"+id+"/status", nil)
		return body["queue_position"]
	}
	if got := position(ids[2]); got != 2.0 {
		t.Errorf("third request position = %v, want 2", got)
	}
	q.Advance(ids[0])
	if got := position(ids[2]); got != 1.0 {
		t.Errorf("after the first started, position = %v, want 1", got)
	}

	q.SetPollsPerStep(2)
	var seen []string
	for range 4 {
		_, body := falCall(t, q, http.MethodGet, "/fal-ai/kling-video/requests/"+ids[1]+"/status", nil)
		seen = append(seen, body["status"].(string))
	}
	if want := []string{StatusInQueue, StatusInProgress, StatusInProgress, StatusCompleted}; strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("polls saw %v, want %v", seen, want)
	}
	if q.Calls(QueueStatus) != 6 || q.Calls(QueueSubmit) != 3 {
		t.Errorf("calls: status %d submit %d", q.Calls(QueueStatus), q.Calls(QueueSubmit))
	}
}

// webhookSink records the webhook POSTs it receives.
type webhookSink struct {
	mu   sync.Mutex
	got  []*http.Request
	body [][]byte
	code int
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got, s.body = append(s.got, r), append(s.body, b)
	w.WriteHeader(s.code)
}

// verifyFal checks a delivery the way a fal webhook verifier does, with
// the key fetched from the JWKS URL.
func verifyFal(t *testing.T, q *VideoQueue, h http.Header, body []byte) error {
	t.Helper()
	_, jwks := falCall(t, q, http.MethodGet, q.JWKSURL(), nil)
	keys := jwks["keys"].([]any)
	x, err := base64.RawURLEncoding.DecodeString(keys[0].(map[string]any)["x"].(string))
	if err != nil || len(x) != ed25519.PublicKeySize {
		t.Fatalf("JWKS key x: %v (%d bytes)", err, len(x))
	}
	sum := sha256.Sum256(body)
	msg := strings.Join([]string{h.Get("X-Fal-Webhook-Request-Id"), h.Get("X-Fal-Webhook-User-Id"),
		h.Get("X-Fal-Webhook-Timestamp"), hex.EncodeToString(sum[:])}, "\n")
	sig, err := hex.DecodeString(h.Get("X-Fal-Webhook-Signature"))
	if err != nil {
		return err
	}
	if !ed25519.Verify(x, []byte(msg), sig) {
		return errors.New("bad signature")
	}
	return nil
}

func TestVideoQueueWebhook(t *testing.T) {
	q := NewVideoQueue(t)
	sink := &webhookSink{code: http.StatusOK}
	hook := httptest.NewServer(sink)
	defer hook.Close()
	sub := submit(t, q, "/"+veo+"?fal_webhook="+hook.URL+"/hooks/fal", map[string]any{"prompt": "hooked"})
	id := sub["request_id"].(string)
	if len(q.Webhooks()) != 0 {
		t.Fatal("a webhook was sent before completion")
	}
	q.Complete(id)
	if len(sink.got) != 1 {
		t.Fatalf("the receiver got %d webhooks, want 1", len(sink.got))
	}
	r, body := sink.got[0], sink.body[0]
	if r.URL.Path != "/hooks/fal" || r.Header.Get("X-Fal-Webhook-Request-Id") != id ||
		r.Header.Get("X-Fal-Webhook-User-Id") != DefaultWebhookUserID {
		t.Errorf("delivery to %s with headers %v", r.URL.Path, r.Header)
	}
	if err := verifyFal(t, q, r.Header, body); err != nil {
		t.Errorf("the signature does not verify: %v", err)
	}
	if err := verifyFal(t, q, r.Header, append(bytes.Clone(body), ' ')); err == nil {
		t.Error("a changed body verified; the check would prove nothing")
	}
	var msg struct {
		RequestID string `json:"request_id"`
		Status    string `json:"status"`
		Payload   struct {
			Video struct{ URL string } `json:"video"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(body, &msg); err != nil || msg.RequestID != id || msg.Status != "OK" {
		t.Fatalf("webhook body %s (%v)", body, err)
	}
	fetchVideo(t, q, msg.Payload.Video.URL)
	d := q.Redeliver(id)
	if len(sink.got) != 2 || d.StatusCode != http.StatusOK || !bytes.Equal(sink.body[1], body) {
		t.Errorf("redelivery: %d received, status %d", len(sink.got), d.StatusCode)
	}
	if ws := q.Webhooks(); len(ws) != 2 || ws[0].RequestID != id || ws[0].URL != hook.URL+"/hooks/fal" {
		t.Errorf("recorded deliveries = %+v", ws)
	}
}

func TestVideoQueueFailure(t *testing.T) {
	q := NewVideoQueue(t)
	sink := &webhookSink{code: http.StatusInternalServerError}
	hook := httptest.NewServer(sink)
	defer hook.Close()
	id := submit(t, q, "/"+veo+"?fal_webhook="+hook.URL, map[string]any{"prompt": "forbidden"})["request_id"].(string)
	q.FailRequest(id, "content policy violation")
	code, st := falCall(t, q, http.MethodGet, "/fal-ai/veo3/requests/"+id+"/status", nil)
	if code != 200 || st["status"] != StatusCompleted || st["error"] != "content policy violation" || st["error_type"] != ErrorTypeFailed {
		t.Errorf("status = %d %v", code, st)
	}
	if code, res := falCall(t, q, http.MethodGet, "/fal-ai/veo3/requests/"+id, nil); code != http.StatusUnprocessableEntity ||
		!strings.Contains(mustJSON(res), "content policy violation") {
		t.Errorf("result = %d %v, want 422 with the message", code, res)
	}
	ws := q.Webhooks()
	if len(ws) != 1 || ws[0].StatusCode != 500 || !strings.Contains(string(ws[0].Body), `"status":"ERROR"`) {
		t.Errorf("deliveries = %+v", ws)
	}
}

func TestVideoQueueFailureTypes(t *testing.T) {
	q := NewVideoQueue(t)
	tests := []struct {
		name, wantType, msg string
		fail                func(id, msg string)
	}{
		{"FailRequest", ModelErrorValue, "duration must be 5 or 10", q.FailRequest},
		{"FailRequestAs content policy", ModelErrorContentPolicy, "flagged by a content checker",
			func(id, msg string) { q.FailRequestAs(id, ModelErrorContentPolicy, msg) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := submit(t, q, "/"+veo, map[string]any{"prompt": "p"})["request_id"].(string)
			tc.fail(id, tc.msg)
			code, res := falCall(t, q, http.MethodGet, "/fal-ai/veo3/requests/"+id, nil)
			detail, _ := res["detail"].([]any)
			if code != http.StatusUnprocessableEntity || len(detail) != 1 {
				t.Fatalf("result = %d %v, want 422 with one error", code, res)
			}
			e := detail[0].(map[string]any)
			if e["type"] != tc.wantType || e["msg"] != tc.msg || !strings.HasSuffix(e["url"].(string), "#"+tc.wantType) {
				t.Errorf("error = %v, want type %s and msg %q", e, tc.wantType, tc.msg)
			}
			if j, _ := q.Job(id); j.ErrorType != tc.wantType {
				t.Errorf("job error type = %q", j.ErrorType)
			}
		})
	}
}

func TestVideoQueueNamespacedApp(t *testing.T) {
	q := NewVideoQueue(t)
	sub := submit(t, q, "/workflows/acme/clip/render", map[string]any{"prompt": "p"})
	id := sub["request_id"].(string)
	base := q.URL() + "/workflows/acme/clip/requests/" + id
	if sub["status_url"] != base+"/status" {
		t.Fatalf("status_url = %v, want %s/status (namespace, owner and app kept)", sub["status_url"], base)
	}
	if code, body := falCall(t, q, http.MethodGet, base+"/status", nil); code != http.StatusAccepted || body["status"] != StatusInQueue {
		t.Errorf("status = %d %v", code, body)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestVideoQueueCancel(t *testing.T) {
	q := NewVideoQueue(t)
	sink := &webhookSink{code: http.StatusOK}
	hook := httptest.NewServer(sink)
	defer hook.Close()
	id := submit(t, q, "/"+veo+"?fal_webhook="+hook.URL, map[string]any{"prompt": "p"})["request_id"].(string)
	q.Advance(id)
	base := "/fal-ai/veo3/requests/" + id
	tests := []struct {
		name   string
		method string
		url    string
		code   int
		key    string
		want   any
	}{
		{"cancel running", http.MethodPut, base + "/cancel", http.StatusAccepted, "status", "CANCELLATION_REQUESTED"},
		{"status after cancel", http.MethodGet, base + "/status", http.StatusOK, "error_type", ErrorTypeCancelled},
		{"result after cancel", http.MethodGet, base, http.StatusBadRequest, "detail", "Request was cancelled"},
		{"cancel again", http.MethodPut, base + "/cancel", http.StatusBadRequest, "status", "ALREADY_COMPLETED"},
		{"cancel unknown", http.MethodPut, "/fal-ai/veo3/requests/nope/cancel", http.StatusNotFound, "status", "NOT_FOUND"},
		{"wrong app", http.MethodGet, "/fal-ai/other/requests/" + id + "/status", http.StatusNotFound, "status", "NOT_FOUND"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := falCall(t, q, tc.method, tc.url, nil)
			if code != tc.code || body[tc.key] != tc.want {
				t.Errorf("%s %s = %d %v, want %d with %s=%v", tc.method, tc.url, code, body, tc.code, tc.key, tc.want)
			}
		})
	}
	if j, _ := q.Job(id); !j.Cancelled || len(sink.got) != 0 {
		t.Errorf("job cancelled = %v, webhooks sent = %d", j.Cancelled, len(sink.got))
	}
}

func TestVideoQueueRejects(t *testing.T) {
	q := NewVideoQueue(t)
	tests := []struct {
		name, method, path, auth string
		body                     any
		code                     int
	}{
		{"no key", http.MethodPost, "/" + veo, "", map[string]any{"prompt": "p"}, 401},
		{"wrong key", http.MethodPost, "/" + veo, "Key nope", map[string]any{"prompt": "p"}, 401},
		{"bearer instead of Key", http.MethodPost, "/" + veo, "Bearer " + DefaultFalKey, map[string]any{"prompt": "p"}, 401},
		{"no prompt", http.MethodPost, "/" + veo, "Key " + DefaultFalKey, map[string]any{"duration": 5}, 422},
		{"not JSON", http.MethodPost, "/" + veo, "Key " + DefaultFalKey, "text", 422},
		{"no app", http.MethodPost, "/veo3", "Key " + DefaultFalKey, map[string]any{"prompt": "p"}, 404},
		{"image-to-video needs no prompt", http.MethodPost, "/fal-ai/kling/i2v", "Key " + DefaultFalKey,
			map[string]any{"image_url": "https://x/y.png"}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := falRaw(t, q, tc.method, tc.path, tc.body, tc.auth)
			if code != tc.code {
				t.Errorf("%s %s = %d %s, want %d", tc.method, tc.path, code, body, tc.code)
			}
		})
	}
}

func TestVideoQueueFaults(t *testing.T) {
	q := NewVideoQueue(t)
	id := submit(t, q, "/"+veo, map[string]any{"prompt": "p"})["request_id"].(string)
	url := "/fal-ai/veo3/requests/" + id + "/status"
	q.Script(QueueStatus, Fail(429).RetryAfter(3), Fail(503).Message("runner unavailable"))
	code, body, h := falRaw(t, q, http.MethodGet, url, nil, "Key "+DefaultFalKey)
	if code != 429 || h.Get("Retry-After") != "3" || !strings.Contains(string(body), `"detail"`) {
		t.Errorf("first poll = %d %s Retry-After %q", code, body, h.Get("Retry-After"))
	}
	if code, body := falCall(t, q, http.MethodGet, url, nil); code != 503 || body["detail"] != "runner unavailable" {
		t.Errorf("second poll = %d %v", code, body)
	}
	if code, body := falCall(t, q, http.MethodGet, url, nil); code != 202 || body["status"] != StatusInQueue {
		t.Errorf("third poll = %d %v", code, body)
	}
	if j, _ := q.Job(id); j.Polls != 1 {
		t.Errorf("failed polls counted as status polls: %d", j.Polls)
	}

	q.Delay(QueueSubmit, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, q.URL()+"/"+veo, strings.NewReader(`{"prompt":"slow"}`))
	req.Header.Set("Authorization", "Key "+DefaultFalKey)
	if _, err := q.http.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow submit error = %v, want the deadline", err)
	}
	waitFor(t, func() bool {
		for _, r := range q.Requests() {
			if r.Canceled && strings.Contains(string(r.Body), "slow") {
				return true
			}
		}
		return false
	})
	if len(q.Jobs()) != 1 {
		t.Errorf("the cancelled submit created a job: %d jobs", len(q.Jobs()))
	}
}

// mp4Info is what parseMP4 reads from a file.
type mp4Info struct {
	width, height, frames int
	durationMS            uint32
}

// parseMP4 walks the boxes of an MP4 from aitest and checks the layout:
// ftyp, moov, mdat covering the file; the sample table pointing at the
// mdat payload; every sample an IDR NAL unit; an avcC with SPS and PPS.
func parseMP4(t *testing.T, b []byte) mp4Info {
	t.Helper()
	top := boxes(t, b)
	if len(top) != 3 || top[0].typ != "ftyp" || top[1].typ != "moov" || top[2].typ != "mdat" {
		t.Fatalf("top-level boxes = %v, want ftyp moov mdat", top)
	}
	be := binary.BigEndian
	moov := top[1].body
	trak := find(t, moov, "trak")
	stbl := find(t, find(t, find(t, trak, "mdia"), "minf"), "stbl")
	var info mp4Info
	info.durationMS = be.Uint32(find(t, moov, "mvhd")[16:20])
	tkhd := find(t, trak, "tkhd")
	info.width, info.height = int(be.Uint32(tkhd[76:80])>>16), int(be.Uint32(tkhd[80:84])>>16)
	stsz := find(t, stbl, "stsz")
	info.frames = int(be.Uint32(stsz[8:12]))
	offset := int(be.Uint32(find(t, stbl, "stco")[8:12]))
	if offset != top[2].start+8 {
		t.Errorf("stco offset %d, mdat payload at %d", offset, top[2].start+8)
	}
	pos := offset
	for i := range info.frames {
		size := int(be.Uint32(stsz[12+4*i:]))
		if n := int(be.Uint32(b[pos:])); n != size-4 || b[pos+4] != 0x65 {
			t.Fatalf("sample %d: NAL length %d of %d, type byte %#x", i, n, size, b[pos+4])
		}
		pos += size
	}
	if pos != len(b) {
		t.Errorf("samples end at %d, file at %d", pos, len(b))
	}
	stsd := find(t, stbl, "stsd")
	avcC := find(t, boxes(t, stsd[8:])[0].body[78:], "avcC")
	if avcC[0] != 1 || avcC[8] != 0x67 {
		t.Errorf("avcC = % x, want version 1 and an SPS", avcC[:9])
	}
	return info
}

type mp4Box struct {
	typ   string
	start int
	body  []byte
}

// boxes splits b into boxes, failing on sizes that do not add up.
func boxes(t *testing.T, b []byte) []mp4Box {
	t.Helper()
	var out []mp4Box
	for off := 0; off < len(b); {
		if len(b)-off < 8 {
			t.Fatalf("trailing %d bytes at %d", len(b)-off, off)
		}
		size := int(binary.BigEndian.Uint32(b[off:]))
		if size < 8 || off+size > len(b) {
			t.Fatalf("box %q at %d has size %d past the end %d", b[off+4:off+8], off, size, len(b))
		}
		out = append(out, mp4Box{typ: string(b[off+4 : off+8]), start: off, body: b[off+8 : off+size]})
		off += size
	}
	return out
}

func find(t *testing.T, b []byte, typ string) []byte {
	t.Helper()
	for _, bx := range boxes(t, b) {
		if bx.typ == typ {
			return bx.body
		}
	}
	t.Fatalf("no %s box", typ)
	return nil
}

func TestVideoMP4(t *testing.T) {
	tests := []struct {
		input        map[string]any
		w, h, frames int
	}{
		{map[string]any{}, 64, 36, 5},
		{map[string]any{"aspect_ratio": "16:9", "duration": 3.0}, 64, 36, 3},
		{map[string]any{"aspect_ratio": "1:1", "duration": "10"}, 48, 48, 10},
		{map[string]any{"aspect_ratio": "4:3", "duration": "2s"}, 64, 48, 2},
		{map[string]any{"aspect_ratio": "3:4", "duration": 500.0}, 48, 64, 60},
	}
	for _, tc := range tests {
		t.Run(mustJSON(tc.input), func(t *testing.T) {
			b := renderVideo(tc.input, "id-1")
			m := parseMP4(t, b)
			if m.width != tc.w || m.height != tc.h || m.frames != tc.frames || m.durationMS != uint32(1000*tc.frames) {
				t.Errorf("mp4 = %+v, want %dx%d with %d frames of 1 s", m, tc.w, tc.h, tc.frames)
			}
			w, h := spsSize(t, b)
			if w != tc.w || h != tc.h {
				t.Errorf("SPS decodes to %dx%d, want %dx%d", w, h, tc.w, tc.h)
			}
		})
	}
}

// spsSize decodes the picture size from the SPS in the avcC of an MP4,
// with an Exp-Golomb reader written apart from the encoder.
func spsSize(t *testing.T, mp4 []byte) (int, int) {
	t.Helper()
	stbl := find(t, find(t, find(t, find(t, find(t, mp4, "moov"), "trak"), "mdia"), "minf"), "stbl")
	avcC := find(t, boxes(t, find(t, stbl, "stsd")[8:])[0].body[78:], "avcC")
	n := int(binary.BigEndian.Uint16(avcC[6:8]))
	r := &bitReader{b: avcC[9 : 8+n]} // skip the NAL header byte
	r.bits(24)                        // profile, constraints, level
	for range 3 {                     // sps id, log2_max_frame_num_minus4, poc type (2: nothing follows)
		r.ue()
	}
	r.ue()    // max_num_ref_frames
	r.bits(1) // gaps
	w, h := (r.ue()+1)*16, (r.ue()+1)*16
	r.bits(2) // frame_mbs_only, direct_8x8
	if r.bits(1) == 1 {
		left, right, top, bottom := r.ue(), r.ue(), r.ue(), r.ue()
		w -= 2 * (left + right)
		h -= 2 * (top + bottom)
	}
	return w, h
}

type bitReader struct {
	b   []byte
	pos int
}

func (r *bitReader) bits(n int) int {
	v := 0
	for range n {
		v = v<<1 | int(r.b[r.pos/8]>>(7-r.pos%8)&1)
		r.pos++
	}
	return v
}

func (r *bitReader) ue() int {
	zeros := 0
	for r.bits(1) == 0 {
		zeros++
	}
	return 1<<zeros - 1 + r.bits(zeros)
}
