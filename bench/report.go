package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Result holds every figure of a run and the settings it ran with.
type Result struct {
	Machine           Machine
	Namespace         string
	Concurrency       int
	WorkerConcurrency int
	PollInterval      time.Duration
	TenantMaxActive   int
	APIKeyCacheTTL    time.Duration
	// Housekeeping is what the run did to the engine's tables.
	Housekeeping Housekeeping

	// Submit is API submit throughput with no worker running, and
	// SubmitLatency the latency of each POST as the client saw it.
	Submit        Rate
	SubmitLatency Latency
	// E2E is system.echo jobs from the first created_at to the last
	// finished_at.
	E2E Rate
	// SubmitToStart is started_at - created_at on an idle worker.
	SubmitToStart Latency

	// RawEnqueue is asynq.Client enqueues of no-op tasks, and
	// RawEnqueueLatency the latency of each.
	RawEnqueue        Rate
	RawEnqueueLatency Latency
	// RawProcess is an Asynq server with default settings draining them.
	RawProcess Rate
	// RawPickup is enqueue-to-handler latency of an idle Asynq server with
	// its default TaskCheckInterval (1 s).
	RawPickup Latency
	// RawPickupAtPoll is the same with TaskCheckInterval set to the Kiln
	// worker's poll interval: Asynq's share of SubmitToStart.
	RawPickupAtPoll Latency
}

// The targets Kiln aims at.
const (
	TargetSubmitPerSecond = 3000
	TargetE2EPerSecond    = 1500
	TargetStartP50        = 20 * time.Millisecond
	TargetStartP99        = 100 * time.Millisecond
)

// Check is one target and whether the run met it.
type Check struct {
	Name string
	Pass bool
}

// Checks compares the run with the targets.
func (r Result) Checks() []Check {
	return []Check{
		{"submit", r.Submit.PerSecond() >= TargetSubmitPerSecond},
		{"end-to-end", r.E2E.PerSecond() >= TargetE2EPerSecond},
		{"submit-to-start p50", r.SubmitToStart.Samples > 0 && r.SubmitToStart.P50 <= TargetStartP50},
		{"submit-to-start p99", r.SubmitToStart.Samples > 0 && r.SubmitToStart.P99 <= TargetStartP99},
	}
}

// row is one line of the table.
type row struct {
	figure, kiln, raw, ratio, target, verdict string
}

// Print writes the settings, the table of figures beside raw Asynq with
// their ratios and targets, and the reference pickup latency.
func (r Result) Print(w io.Writer) error {
	m := r.Machine
	fmt.Fprintf(w, "machine: %d CPUs (runtime.NumCPU), GOMAXPROCS %d, %s; Postgres pool %d conns, Redis pool %d conns\n",
		m.NumCPU, m.GOMAXPROCS, m.GoVersion, m.DBMaxConns, m.RedisPoolSize)
	fmt.Fprintf(w, "settings: namespace %s, %d HTTP clients (and raw enqueuers), worker concurrency %d, poll interval %s, TenantMaxActive %d, API key cache %s\n",
		r.Namespace, r.Concurrency, r.WorkerConcurrency, r.PollInterval, r.TenantMaxActive, r.APIKeyCacheTTL)
	fmt.Fprintf(w, "tables: %s\n\n", r.Housekeeping)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tKILN\tRAW ASYNQ\tRATIO\tTARGET\tRESULT")
	for _, x := range r.rows() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.figure, x.kiln, x.raw, x.ratio, x.target, x.verdict)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print bench table: %w", err)
	}
	_, err := fmt.Fprintf(w, `
raw asynq columns: enqueue rate/latency (asynq.Client), no-op processing (default server), pickup (default TaskCheckInterval 1s, %d samples).
ratios: Kiln / Asynq; below 1 for a latency means Kiln is faster.
reference: raw asynq pickup with TaskCheckInterval %s: p50 %s, p99 %s (%d samples).
`, r.RawPickup.Samples, r.PollInterval, ms(r.RawPickupAtPoll.P50), ms(r.RawPickupAtPoll.P99), r.RawPickupAtPoll.Samples)
	return err
}

func (r Result) rows() []row {
	checks := r.Checks()
	return []row{
		{"submit (jobs/s, no worker)", perSec(r.Submit), perSec(r.RawEnqueue), ratio(r.Submit.PerSecond(), r.RawEnqueue.PerSecond()),
			fmt.Sprintf(">= %d", TargetSubmitPerSecond), verdict(checks[0])},
		{"submit latency p50 (ms)", ms(r.SubmitLatency.P50), ms(r.RawEnqueueLatency.P50), durRatio(r.SubmitLatency.P50, r.RawEnqueueLatency.P50), "", ""},
		{"submit latency p99 (ms)", ms(r.SubmitLatency.P99), ms(r.RawEnqueueLatency.P99), durRatio(r.SubmitLatency.P99, r.RawEnqueueLatency.P99), "", ""},
		{"end-to-end (jobs/s, echo sleep 0)", perSec(r.E2E), perSec(r.RawProcess), ratio(r.E2E.PerSecond(), r.RawProcess.PerSecond()),
			fmt.Sprintf(">= %d", TargetE2EPerSecond), verdict(checks[1])},
		{"submit-to-start p50 (ms)", ms(r.SubmitToStart.P50), ms(r.RawPickup.P50), durRatio(r.SubmitToStart.P50, r.RawPickup.P50),
			"<= " + ms(TargetStartP50), verdict(checks[2])},
		{"submit-to-start p99 (ms)", ms(r.SubmitToStart.P99), ms(r.RawPickup.P99), durRatio(r.SubmitToStart.P99, r.RawPickup.P99),
			"<= " + ms(TargetStartP99), verdict(checks[3])},
	}
}

func verdict(c Check) string {
	if c.Pass {
		return "PASS"
	}
	return "MISS"
}

func perSec(r Rate) string { return fmt.Sprintf("%.0f", r.PerSecond()) }

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000)
}

func ratio(kiln, raw float64) string {
	if raw <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", kiln/raw)
}

func durRatio(kiln, raw time.Duration) string { return ratio(float64(kiln), float64(raw)) }
