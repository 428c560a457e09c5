package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kilnhq/kiln/api"
)

// TestMetricsReflectJobs: after jobs run, /metrics counts them by kind and
// status, their credits, and the requests by route template.
func TestMetricsReflectJobs(t *testing.T) {
	b := setup(t)
	b.startWorker()
	acme := b.signup("Acme")
	ok := b.submit(acme, map[string]any{"kind": "system.echo", "input": map[string]any{"message": "hi"}})
	bad := b.submit(acme, map[string]any{"kind": "system.echo", "input": map[string]any{"fail_times": 9}})
	b.await(acme, ok["id"].(string))
	b.await(acme, bad["id"].(string))

	body := string(b.expect(http.StatusOK, req{Method: "GET", Path: "/metrics"}).Body)
	for _, line := range []string{
		`kiln_jobs_submitted_total{kind="system.echo"} 2`,
		`kiln_jobs_finished_total{kind="system.echo",status="succeeded"} 1`,
		`kiln_jobs_finished_total{kind="system.echo",status="failed"} 1`,
		`kiln_credits_charged_total{kind="system.echo"} 1`,
		`kiln_job_run_seconds_count{kind="system.echo"} 2`,
		`kiln_job_queue_wait_seconds_count{kind="system.echo"} 2`,
		`kiln_http_requests_total{method="POST",route="/api/v1/jobs",status="202"} 2`,
		`kiln_http_request_duration_seconds_count{method="POST",route="/api/v1/jobs",status="202"} 2`,
	} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	if !strings.Contains(body, `asynq_queue_size{queue="`+b.ns+`:normal"}`) {
		t.Error("/metrics lacks Asynq's queue collector (asynq_queue_size of the normal queue)")
	}
	if strings.Contains(body, acme.ID) || strings.Contains(body, ok["id"].(string)) {
		t.Error("/metrics labels carry ids; labels must be bounded (route templates, kinds)")
	}
}

// TestMetricsBasicAuth: with KILN_METRICS_BASIC_AUTH set, /metrics needs it.
func TestMetricsBasicAuth(t *testing.T) {
	b := setup(t, func(c *api.Config) { c.MetricsBasicAuth = "prom:s3cret" })
	res := b.expect(http.StatusUnauthorized, req{Method: "GET", Path: "/metrics"})
	if res.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	r, err := http.NewRequest("GET", b.srv.URL+"/metrics", nil)
	must(t, err)
	r.SetBasicAuth("prom", "wrong")
	wrong, err := http.DefaultClient.Do(r)
	must(t, err)
	wrong.Body.Close()
	if wrong.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: status %d, want 401", wrong.StatusCode)
	}
	r.SetBasicAuth("prom", "s3cret")
	right, err := http.DefaultClient.Do(r)
	must(t, err)
	right.Body.Close()
	if right.StatusCode != http.StatusOK {
		t.Errorf("right password: status %d, want 200", right.StatusCode)
	}
}
