package api_test

import (
	"net/http"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/kilnhq/kiln/jobs"
)

// TestTraceparentRidesInTaskHeaders: the submitting request's traceparent
// is kept with the job and travels in its Asynq task's headers, so the
// worker's log lines for the job carry the request's trace id.
func TestTraceparentRidesInTaskHeaders(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	j := b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/jobs", Auth: acme.Token,
		Header: map[string]string{"traceparent": tp}, Body: map[string]any{"kind": "system.echo"}}).JSON(t)
	insp := asynq.NewInspectorFromRedisClient(b.redis.Client)
	info, err := insp.GetTaskInfo(jobs.QueueName(b.ns, jobs.PriorityNormal), j["id"].(string))
	must(t, err)
	if info.Headers["traceparent"] != tp {
		t.Errorf("task headers %v, want traceparent %s", info.Headers, tp)
	}
	var stored string
	must(t, b.db.Pool.QueryRow(t.Context(), `SELECT traceparent FROM jobs WHERE id = $1`, j["id"]).Scan(&stored))
	if stored != tp {
		t.Errorf("stored traceparent %q", stored)
	}
	// A malformed header is ignored, not stored.
	j2 := b.expect(http.StatusAccepted, req{Method: "POST", Path: "/api/v1/jobs", Auth: acme.Token,
		Header: map[string]string{"traceparent": "garbage"}, Body: map[string]any{"kind": "system.echo"}}).JSON(t)
	var none *string
	must(t, b.db.Pool.QueryRow(t.Context(), `SELECT traceparent FROM jobs WHERE id = $1`, j2["id"]).Scan(&none))
	if none != nil {
		t.Errorf("malformed traceparent stored as %q", *none)
	}
	if got := jobs.TraceID(tp); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("TraceID = %q", got)
	}
}
