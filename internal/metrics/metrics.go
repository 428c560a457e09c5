// Package metrics defines Kiln's Prometheus metrics in one place: the HTTP
// API's requests, the job engine's submissions, outcomes, run times and
// queue waits, credits charged, webhook deliveries and rate-limit
// decisions. One *Metrics is made per process and passed to the packages
// that record; the API serves its registry at /metrics.
package metrics

import (
	"time"

	"github.com/hibiken/asynq"
	asynqmetrics "github.com/hibiken/asynq/x/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds every Kiln metric and the registry they are registered in.
type Metrics struct {
	// Registry is what /metrics serves; callers may register more
	// collectors (the Asynq queue collector, say).
	Registry *prometheus.Registry

	// HTTPRequests counts answered requests by method, route template
	// and status code.
	HTTPRequests *prometheus.CounterVec
	// HTTPDuration observes request latency by method, route and status.
	HTTPDuration *prometheus.HistogramVec
	// JobsSubmitted counts accepted jobs by kind.
	JobsSubmitted *prometheus.CounterVec
	// JobsFinished counts jobs that reached a final status, by kind and
	// status (succeeded, failed, canceled).
	JobsFinished *prometheus.CounterVec
	// JobRunSeconds observes the time from a job's first start to its end.
	JobRunSeconds *prometheus.HistogramVec
	// JobQueueWaitSeconds observes the time from when a job could run
	// (created, or its run_at) to its first start.
	JobQueueWaitSeconds *prometheus.HistogramVec
	// CreditsCharged counts credits captured from finished jobs, by kind.
	CreditsCharged *prometheus.CounterVec
	// WebhookDeliveries counts delivery attempts by outcome (succeeded,
	// failed, blocked, disabled).
	WebhookDeliveries *prometheus.CounterVec
	// RateLimited counts rate-limit decisions by scope and outcome
	// (allowed, limited, error).
	RateLimited *prometheus.CounterVec
}

// jobBuckets span a few milliseconds to an hour: jobs run from no-op echo
// tasks to long video renders.
var jobBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

// New returns Kiln's metrics registered in a fresh registry, with the Go
// runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiln_http_requests_total", Help: "HTTP requests answered, by method, route template and status.",
		}, []string{"method", "route", "status"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kiln_http_request_duration_seconds", Help: "HTTP request latency, by method, route template and status.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route", "status"}),
		JobsSubmitted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiln_jobs_submitted_total", Help: "Jobs accepted, by kind.",
		}, []string{"kind"}),
		JobsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiln_jobs_finished_total", Help: "Jobs that reached a final status, by kind and status.",
		}, []string{"kind", "status"}),
		JobRunSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kiln_job_run_seconds", Help: "Time from a job's first start to its final status, by kind.", Buckets: jobBuckets,
		}, []string{"kind"}),
		JobQueueWaitSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kiln_job_queue_wait_seconds", Help: "Time from when a job could run to its first start, by kind.", Buckets: jobBuckets,
		}, []string{"kind"}),
		CreditsCharged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiln_credits_charged_total", Help: "Credits captured from finished jobs, by kind.",
		}, []string{"kind"}),
		WebhookDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiln_webhook_deliveries_total", Help: "Webhook delivery attempts, by outcome.",
		}, []string{"outcome"}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiln_rate_limit_decisions_total", Help: "Rate-limit decisions, by scope and outcome (allowed, limited, error).",
		}, []string{"scope", "outcome"}),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.HTTPRequests, m.HTTPDuration, m.JobsSubmitted, m.JobsFinished, m.JobRunSeconds,
		m.JobQueueWaitSeconds, m.CreditsCharged, m.WebhookDeliveries, m.RateLimited,
	)
	return m
}

// WatchQueues adds Asynq's queue collector (asynq/x/metrics): sizes by
// state, latency, memory, processed and failed counts of every queue,
// read through insp at scrape time.
func (m *Metrics) WatchQueues(insp *asynq.Inspector) {
	m.Registry.MustRegister(asynqmetrics.NewQueueMetricsCollector(insp))
}

// ObserveSince records the seconds from start to now in h, ignoring a
// start in the future (clock skew between machines).
func ObserveSince(h prometheus.Observer, start, now time.Time) {
	if d := now.Sub(start); d >= 0 {
		h.Observe(d.Seconds())
	}
}
