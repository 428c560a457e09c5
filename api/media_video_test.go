package api_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/kilnhq/kiln/ai/aitest"
)

// videoJob submits a media.video.generate job and waits until its request
// is in the provider's queue and the job parked; it returns the job id and
// the provider's request id.
func (b *bundle) videoJob(t tenant, site string, body map[string]any) (jobID, requestID string) {
	b.t.Helper()
	j := b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/sites/" + site + "/media/generatevideo",
		Auth: t.Token, Body: body}).JSON(b.t)
	jobID = j["id"].(string)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var parked bool
		err := b.db.Pool.QueryRow(context.Background(), `SELECT j.parked_until IS NOT NULL, v.request_id
			FROM jobs j JOIN video_requests v ON v.job_id = j.id WHERE j.id = $1`, jobID).Scan(&parked, &requestID)
		if err == nil && parked {
			return jobID, requestID
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("video job %s never parked with a provider request (last error %v)", jobID, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkVideoMedia asserts the job's result is an MP4 stored in the site.
func (b *bundle) checkVideoMedia(t tenant, site string, job map[string]any) {
	b.t.Helper()
	res, _ := job["result"].(map[string]any)
	id, _ := res["media_id"].(string)
	if id == "" {
		b.t.Fatalf("job result names no media: %v", job["result"])
	}
	view := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/" + site + "/media/" + id + "/view", Auth: t.Token})
	if len(view.Body) < 12 || !bytes.Equal(view.Body[4:8], []byte("ftyp")) {
		b.t.Fatalf("stored video is not an MP4 (%d bytes, head %q)", len(view.Body), view.Body[:min(12, len(view.Body))])
	}
	if ct := view.Header.Get("Content-Type"); ct != "video/mp4" {
		b.t.Errorf("video served as %q, want video/mp4", ct)
	}
}

func TestVideoCompletesByProviderWebhook(t *testing.T) {
	b := setupWith(t, bundleOptions{videoPoll: time.Hour}) // no poll comes: only the webhook can finish it
	b.startWorker()
	acme := b.signup("Acme Video")
	site := b.site(acme, "films")
	b.expect(http.StatusOK, req{Method: "PUT", Path: "/api/v1/system-prompts/media.video.generate", Auth: acme.Token,
		Body: map[string]string{"template": "{{.Prompt}}, in watercolour"}})
	jobID, reqID := b.videoJob(acme, site, map[string]any{"prompt": "a kiln at dawn", "duration": 4, "aspect_ratio": "9:16"})

	queued, ok := b.video.Job(reqID)
	if !ok || queued.Input["prompt"] != "a kiln at dawn, in watercolour" || queued.Input["aspect_ratio"] != "9:16" || queued.Webhook == "" {
		t.Fatalf("provider got %+v, want the tenant's rendered prompt, the aspect ratio and a webhook URL", queued)
	}
	running := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs/" + jobID, Auth: acme.Token}).JSON(t)
	if running["status"] != "running" {
		t.Fatalf("job is %v while the provider works, want running", running["status"])
	}

	b.video.Complete(reqID)
	hooks := b.video.Webhooks()
	if len(hooks) != 1 || hooks[0].StatusCode != http.StatusOK {
		t.Fatalf("webhook deliveries %+v, want one answered 200", hooks)
	}
	done := b.await(acme, jobID)
	if done["status"] != "succeeded" {
		t.Fatalf("job %v: %v", done["status"], done["error"])
	}
	b.checkVideoMedia(acme, site, done)
	credits := done["credits"].(map[string]any)
	if credits["reserved"] != float64(40) || credits["charged"] != float64(40) {
		t.Errorf("credits %v, want 4 s x 10 reserved and charged", credits)
	}

	// fal retries deliveries: a second one changes nothing.
	again := b.video.Redeliver(reqID)
	if again.StatusCode != http.StatusOK {
		t.Errorf("redelivered webhook answered %d", again.StatusCode)
	}
	var n int
	b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM media`).Scan(&n)
	if n != 1 {
		t.Errorf("%d media rows after a redelivered webhook, want 1", n)
	}
	b.checkLedger()
}

func TestVideoCompletesByPolling(t *testing.T) {
	b := setup(t)
	b.videoHooks.Store(false)
	b.video.SetPollsPerStep(1) // each status poll moves the request on
	b.startWorker()
	acme := b.signup("Acme Poll")
	site := b.site(acme, "films")
	jobID, reqID := b.videoJob(acme, site, map[string]any{"prompt": "waves", "duration": 2})
	done := b.await(acme, jobID)
	if done["status"] != "succeeded" {
		t.Fatalf("job %v: %v", done["status"], done["error"])
	}
	b.checkVideoMedia(acme, site, done)
	if hooks := b.video.Webhooks(); len(hooks) != 0 {
		t.Errorf("%d webhooks sent, want none: this job asked for none", len(hooks))
	}
	if j, _ := b.video.Job(reqID); j.Polls < 2 {
		t.Errorf("provider saw %d status polls, want at least 2", j.Polls)
	}
	events := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/jobs/" + jobID + "/events", Auth: acme.Token})
	if !bytes.Contains(events.Body, []byte("video provider")) {
		t.Errorf("no progress event tells of the provider's queue:\n%s", events.Body)
	}
}

func TestCancelVideoJobCancelsTheProviderRequest(t *testing.T) {
	b := setupWith(t, bundleOptions{videoPoll: time.Hour})
	b.startWorker()
	acme := b.signup("Acme Cancel")
	site := b.site(acme, "films")
	jobID, reqID := b.videoJob(acme, site, map[string]any{"prompt": "never mind", "duration": 3})
	canceled := b.expect(http.StatusOK, req{Method: "POST", Path: "/api/v1/jobs/" + jobID + "/cancel", Auth: acme.Token}).JSON(t)
	if canceled["status"] != "canceled" {
		t.Fatalf("after cancel the job is %v, want canceled at once", canceled["status"])
	}
	deadline := time.Now().Add(5 * time.Second)
	for j, _ := b.video.Job(reqID); !j.Cancelled; j, _ = b.video.Job(reqID) {
		if time.Now().After(deadline) {
			t.Fatal("the provider's request was not canceled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if bal := b.balance(acme); bal["balance"] != float64(100) || bal["reserved"] != float64(0) {
		t.Errorf("balance %v after cancel, want all 100 back and nothing reserved", bal)
	}
	b.checkLedger()
}

func TestVideoRejectedByTheModelIsNotCharged(t *testing.T) {
	b := setupWith(t, bundleOptions{videoPoll: time.Hour})
	b.startWorker()
	acme := b.signup("Acme Rejected")
	site := b.site(acme, "films")
	jobID, reqID := b.videoJob(acme, site, map[string]any{"prompt": "something forbidden", "duration": 2})
	b.video.FailRequestAs(reqID, aitest.ModelErrorContentPolicy, "The content could not be processed because it contained material flagged by a content checker.")
	done := b.await(acme, jobID)
	errObj, _ := done["error"].(map[string]any)
	if done["status"] != "failed" || errObj["code"] != "content_rejected" {
		t.Fatalf("job %v with %v, want failed content_rejected", done["status"], done["error"])
	}
	if c := done["credits"].(map[string]any); c["charged"] != float64(0) {
		t.Errorf("charged %v for a rejected video, want 0", c["charged"])
	}
	if done["attempt"] != float64(1) {
		t.Errorf("attempt %v, want 1: a rejection is not retried", done["attempt"])
	}
}

func TestVideoRequestsAreCheckedAtTheDoor(t *testing.T) {
	b := setupWith(t, bundleOptions{noProvider: true})
	acme := b.signup("Acme Door")
	site := b.site(acme, "films")
	path := "/api/v1/sites/" + site + "/media/generatevideo"
	res := b.expect(http.StatusServiceUnavailable, req{Method: "POST", Path: path, Auth: acme.Token,
		Body: map[string]any{"prompt": "x"}})
	if res.ErrorCode(t) != "provider_not_configured" || !bytes.Contains(res.Body, []byte("KILN_FAL_API_KEY")) {
		t.Errorf("no provider: %s, want provider_not_configured naming KILN_FAL_API_KEY", res.Body)
	}
	bad := b.expect(http.StatusUnprocessableEntity, req{Method: "POST", Path: path, Auth: acme.Token,
		Body: map[string]any{"prompt": "", "duration": 99, "aspect_ratio": "4:3"}})
	fields := bad.Fields(t)
	for _, f := range []string{"input.prompt", "input.duration", "input.aspect_ratio"} {
		if fields[f] == nil {
			t.Errorf("422 names no %s: %v", f, fields)
		}
	}
	forged := b.do(req{Method: "POST", Path: "/api/v1/providers/fal/webhook", Body: `{"request_id":"x","status":"OK"}`,
		Header: map[string]string{"X-Fal-Webhook-Request-Id": "x", "X-Fal-Webhook-User-Id": "u",
			"X-Fal-Webhook-Timestamp": "1", "X-Fal-Webhook-Signature": "00"}})
	if forged.Status != http.StatusUnauthorized {
		t.Errorf("forged webhook answered %d, want 401", forged.Status)
	}
	if res := b.do(req{Method: "POST", Path: "/api/v1/providers/nope/webhook", Body: `{}`}); res.Status != http.StatusNotFound {
		t.Errorf("unknown provider answered %d, want 404", res.Status)
	}
}

// TestVideoSubmitWithoutAnAnswerIsNotRepeated: a submit whose answer never
// comes may have been queued (and billed) by the provider, so the job
// fails provider_submit_lost instead of submitting a second time.
func TestVideoSubmitWithoutAnAnswerIsNotRepeated(t *testing.T) {
	b := setupWith(t, bundleOptions{videoRequestTimeout: 200 * time.Millisecond})
	b.video.Delay(aitest.QueueSubmit, 2*time.Second)
	b.startWorker()
	acme := b.signup("Acme Lost")
	site := b.site(acme, "films")
	j := b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/sites/" + site + "/media/generatevideo",
		Auth: acme.Token, Body: map[string]any{"prompt": "waves", "duration": 2}}).JSON(t)
	done := b.await(acme, j["id"].(string))
	errObj, _ := done["error"].(map[string]any)
	if done["status"] != "failed" || errObj["code"] != "provider_submit_lost" || done["attempt"] != float64(1) {
		t.Fatalf("job %v %v at attempt %v, want failed provider_submit_lost at once", done["status"], done["error"], done["attempt"])
	}
	if n := b.video.Calls(aitest.QueueSubmit); n != 1 {
		t.Errorf("%d submits reached the provider, want 1", n)
	}
	if c := done["credits"].(map[string]any); c["charged"] != float64(0) {
		t.Errorf("charged %v, want 0", c["charged"])
	}
	b.checkLedger()
}

// TestVideoProviderTooSlowIsCanceledUpstream: a request the provider has
// not finished within MaxWait is canceled there and the job fails
// provider_timeout, uncharged.
func TestVideoProviderTooSlowIsCanceledUpstream(t *testing.T) {
	b := setupWith(t, bundleOptions{videoPoll: 100 * time.Millisecond, videoMaxWait: 300 * time.Millisecond})
	b.videoHooks.Store(false)
	b.startWorker()
	acme := b.signup("Acme Slow")
	site := b.site(acme, "films")
	jobID, reqID := b.videoJob(acme, site, map[string]any{"prompt": "glaciers", "duration": 2})
	done := b.await(acme, jobID)
	errObj, _ := done["error"].(map[string]any)
	if done["status"] != "failed" || errObj["code"] != "provider_timeout" {
		t.Fatalf("job %v %v, want failed provider_timeout", done["status"], done["error"])
	}
	if j, _ := b.video.Job(reqID); !j.Cancelled {
		t.Error("the provider's request was not canceled")
	}
	if c := done["credits"].(map[string]any); c["charged"] != float64(0) {
		t.Errorf("charged %v, want 0", c["charged"])
	}
}
