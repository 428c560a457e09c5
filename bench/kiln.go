package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/kilnhq/kiln/jobs"
)

// submitBody is the job every phase submits: system.echo, no sleep.
const submitBody = `{"kind":"system.echo","input":{}}`

// singleJobTimeout bounds the wait for one job of the latency phase.
const singleJobTimeout = time.Minute

// warmUpJobs is how many jobs the unmeasured warm-up submits.
const warmUpJobs = 2000

// warmUp submits warmUpJobs jobs unmeasured, which opens the client's
// connections and fills the tables, then analyzes them (when the server
// will not).
func (e *env) warmUp(ctx context.Context) error {
	_, _, err := runConcurrent(ctx, warmUpJobs, e.cfg.Concurrency, func(ctx context.Context) error {
		_, err := e.submit(ctx, false)
		return err
	})
	if err != nil {
		return fmt.Errorf("bench: warm-up: %w", err)
	}
	return e.analyze(ctx)
}

// measureSubmit posts cfg.Submit jobs from cfg.Concurrency clients while
// no worker runs.
func (e *env) measureSubmit(ctx context.Context) (Rate, Latency, error) {
	lat, elapsed, err := runConcurrent(ctx, e.cfg.Submit, e.cfg.Concurrency, func(ctx context.Context) error {
		_, err := e.submit(ctx, false)
		return err
	})
	if err != nil {
		return Rate{}, Latency{}, fmt.Errorf("bench: submit phase: %w", err)
	}
	return Rate{Count: e.cfg.Submit, Elapsed: elapsed}, summarize(lat), nil
}

// measureE2E submits cfg.E2E jobs with the worker running, waits until all
// have succeeded, and rates them from the first created_at to the last
// finished_at in Postgres.
func (e *env) measureE2E(ctx context.Context, log *slog.Logger) (Rate, error) {
	_, _, err := runConcurrent(ctx, e.cfg.E2E, e.cfg.Concurrency, func(ctx context.Context) error {
		_, err := e.submit(ctx, false)
		return err
	})
	if err != nil {
		return Rate{}, fmt.Errorf("bench: end-to-end phase: %w", err)
	}
	if err := e.waitSucceeded(ctx, e.cfg.E2E, log); err != nil {
		return Rate{}, fmt.Errorf("bench: end-to-end phase: %w", err)
	}
	var first, last time.Time
	err = e.cfg.DB.QueryRow(ctx, `SELECT min(created_at), max(finished_at) FROM jobs WHERE tenant_id = $1`,
		e.tenantID).Scan(&first, &last)
	if err != nil {
		return Rate{}, fmt.Errorf("bench: read end-to-end span: %w", err)
	}
	return Rate{Count: e.cfg.E2E, Elapsed: last.Sub(first)}, nil
}

// waitSucceeded polls Postgres every 250 ms until n of the tenant's jobs
// have succeeded; a failed or canceled job ends the wait with an error.
// The figure comes from the jobs' timestamps, so the interval only decides
// how soon the wait ends; each poll counts the tenant's jobs, and polling
// more often would take CPU from the engine it measures.
func (e *env) waitSucceeded(ctx context.Context, n int, log *slog.Logger) error {
	polls := 0
	return waitFor(ctx, fmt.Sprintf("%d jobs to succeed", n), e.cfg.Timeout, 250*time.Millisecond, func(ctx context.Context) (bool, error) {
		var done int
		err := e.cfg.DB.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE tenant_id = $1 AND status = 'succeeded'`,
			e.tenantID).Scan(&done)
		if err != nil || done >= n {
			return done >= n, err
		}
		if polls++; polls%20 == 0 {
			log.InfoContext(ctx, "waiting for jobs", "succeeded", done, "of", n)
			return false, e.checkNoFailures(ctx)
		}
		return false, nil
	})
}

// checkNoFailures fails when a job of the tenant ended other than
// succeeded: the figures would mean nothing.
func (e *env) checkNoFailures(ctx context.Context) error {
	var bad int
	err := e.cfg.DB.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE tenant_id = $1 AND status IN ('failed', 'canceled')`,
		e.tenantID).Scan(&bad)
	if err != nil {
		return fmt.Errorf("count failed jobs: %w", err)
	}
	if bad > 0 {
		return fmt.Errorf("%d jobs failed or were canceled", bad)
	}
	return nil
}

// measureStartLatency submits one job at a time to the idle worker and
// waits for it to succeed; each sample is started_at - created_at. A random
// pause before each submit spreads arrivals over the worker's poll cycle.
func (e *env) measureStartLatency(ctx context.Context) (Latency, error) {
	samples := make([]time.Duration, 0, e.cfg.LatencySamples)
	for range e.cfg.LatencySamples {
		if err := jobs.Sleep(ctx, jitter(e.cfg.PollInterval)); err != nil {
			return Latency{}, err
		}
		id, err := e.submit(ctx, true)
		if err != nil {
			return Latency{}, fmt.Errorf("bench: latency phase: %w", err)
		}
		d, err := e.startLatency(ctx, id)
		if err != nil {
			return Latency{}, fmt.Errorf("bench: latency phase: %w", err)
		}
		samples = append(samples, d)
	}
	return summarize(samples), nil
}

// startLatency waits until job id succeeds and returns started_at -
// created_at.
func (e *env) startLatency(ctx context.Context, id string) (time.Duration, error) {
	var d time.Duration
	err := waitFor(ctx, "job "+id, singleJobTimeout, 5*time.Millisecond, func(ctx context.Context) (bool, error) {
		var status string
		var created time.Time
		var started *time.Time
		err := e.cfg.DB.QueryRow(ctx, `SELECT status, created_at, started_at FROM jobs WHERE id = $1`, id).
			Scan(&status, &created, &started)
		if err != nil {
			return false, err
		}
		switch status {
		case "succeeded":
			d = started.Sub(created)
			return true, nil
		case "failed", "canceled":
			return false, fmt.Errorf("job %s %s", id, status)
		}
		return false, nil
	})
	return d, err
}

// submit posts one system.echo job and checks for 202 Accepted. With
// wantID it decodes the answer and returns the job's id.
func (e *env) submit(ctx context.Context, wantID bool) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.baseURL+"/api/v1/jobs", bytes.NewReader([]byte(submitBody)))
	if err != nil {
		return "", fmt.Errorf("build submit request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+e.apiKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := e.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("POST /api/v1/jobs: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return "", fmt.Errorf("read submit answer: %w", err)
	}
	if res.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("POST /api/v1/jobs: status %d: %.300s", res.StatusCode, body)
	}
	if !wantID {
		return "", nil
	}
	var j struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &j); err != nil || j.ID == "" {
		return "", fmt.Errorf("submit answer has no job id: %.300s", body)
	}
	return j.ID, nil
}

// jitter returns a random pause in [0, 1.5 × interval): a worker with an
// empty queue sleeps between half and one and a half intervals.
func jitter(interval time.Duration) time.Duration {
	return rand.N(interval + interval/2)
}
