package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/worker"
)

// Task types of the raw Asynq phases.
const (
	taskNoop   = "bench:noop"
	taskPickup = "bench:pickup"
)

// asynqDefaultCheckInterval is Asynq's TaskCheckInterval when none is set.
const asynqDefaultCheckInterval = time.Second

// rawHandler counts no-op tasks until target and reports when each pickup
// task starts.
type rawHandler struct {
	processed atomic.Int64
	target    int64
	drained   chan struct{}
	picked    chan time.Time
}

func newRawHandler(target int) *rawHandler {
	return &rawHandler{target: int64(target), drained: make(chan struct{}), picked: make(chan time.Time, 1)}
}

// ProcessTask implements asynq.Handler.
func (h *rawHandler) ProcessTask(_ context.Context, t *asynq.Task) error {
	switch t.Type() {
	case taskNoop:
		if h.processed.Add(1) == h.target {
			close(h.drained)
		}
	case taskPickup:
		select {
		case h.picked <- time.Now():
		default:
		}
	}
	return nil
}

// runRaw measures raw Asynq on the same Redis in its own queue: enqueue
// rate, no-op processing rate and pickup latency with default settings,
// then pickup latency with the Kiln worker's poll interval for reference.
func runRaw(ctx context.Context, e *env, res *Result, log *slog.Logger) error {
	client := asynq.NewClient(e.cfg.RedisOpt)
	defer client.Close()
	log.InfoContext(ctx, "phase: raw asynq enqueue", "tasks", e.cfg.RawTasks, "clients", e.cfg.Concurrency)
	var err error
	if res.RawEnqueue, res.RawEnqueueLatency, err = e.rawEnqueue(ctx, client); err != nil {
		return err
	}
	log.InfoContext(ctx, "phase: raw asynq processing and pickup (default settings)", "concurrency", e.cfg.WorkerConcurrency,
		"pickup_samples", e.cfg.PickupSamples)
	if res.RawProcess, res.RawPickup, err = e.rawDefaultServer(ctx, client); err != nil {
		return err
	}
	log.InfoContext(ctx, "phase: raw asynq pickup at the worker's poll interval", "poll_interval", e.cfg.PollInterval.String(),
		"samples", e.cfg.LatencySamples)
	res.RawPickupAtPoll, err = e.rawPickupAtPoll(ctx, client)
	return err
}

// rawQueue is the raw phases' queue, inside the namespace so clean-up
// removes it with the rest.
func (e *env) rawQueue() string { return e.cfg.Namespace + ":raw" }

// rawEnqueue enqueues cfg.RawTasks no-op tasks from cfg.Concurrency
// goroutines; they wait in the queue for the processing phase.
func (e *env) rawEnqueue(ctx context.Context, client *asynq.Client) (Rate, Latency, error) {
	q := asynq.Queue(e.rawQueue())
	lat, elapsed, err := runConcurrent(ctx, e.cfg.RawTasks, e.cfg.Concurrency, func(ctx context.Context) error {
		_, err := client.EnqueueContext(ctx, asynq.NewTask(taskNoop, nil), q)
		return err
	})
	if err != nil {
		return Rate{}, Latency{}, fmt.Errorf("bench: raw enqueue: %w", err)
	}
	return Rate{Count: e.cfg.RawTasks, Elapsed: elapsed}, summarize(lat), nil
}

// rawServer returns an Asynq server on the raw queue with default settings
// but for the concurrency, the queue, the logger and checkInterval (zero
// keeps Asynq's default).
func (e *env) rawServer(checkInterval time.Duration) *asynq.Server {
	return asynq.NewServer(e.cfg.RedisOpt, asynq.Config{
		Concurrency:       e.cfg.WorkerConcurrency,
		Queues:            map[string]int{e.rawQueue(): 1},
		TaskCheckInterval: checkInterval,
		Logger:            worker.AsynqLogger(e.log.With("component", "asynq-raw")),
	})
}

// rawDefaultServer starts a default server over the enqueued tasks, times
// how long it takes to drain them, then measures its pickup latency idle.
func (e *env) rawDefaultServer(ctx context.Context, client *asynq.Client) (Rate, Latency, error) {
	h := newRawHandler(e.cfg.RawTasks)
	srv := e.rawServer(0)
	start := time.Now()
	if err := srv.Start(h); err != nil {
		return Rate{}, Latency{}, fmt.Errorf("bench: start raw asynq server: %w", err)
	}
	defer srv.Shutdown()
	select {
	case <-h.drained:
	case <-time.After(e.cfg.Timeout):
		return Rate{}, Latency{}, fmt.Errorf("bench: raw asynq processed %d of %d tasks in %s", h.processed.Load(), e.cfg.RawTasks, e.cfg.Timeout)
	case <-ctx.Done():
		return Rate{}, Latency{}, context.Cause(ctx)
	}
	rate := Rate{Count: e.cfg.RawTasks, Elapsed: time.Since(start)}
	pickup, err := e.rawPickup(ctx, client, h, e.cfg.PickupSamples, asynqDefaultCheckInterval)
	return rate, pickup, err
}

// rawPickupAtPoll measures pickup latency of an Asynq server whose check
// interval is the Kiln worker's poll interval: what Kiln would see if it
// added nothing to Asynq.
func (e *env) rawPickupAtPoll(ctx context.Context, client *asynq.Client) (Latency, error) {
	h := newRawHandler(0)
	srv := e.rawServer(e.cfg.PollInterval)
	if err := srv.Start(h); err != nil {
		return Latency{}, fmt.Errorf("bench: start raw asynq server: %w", err)
	}
	defer srv.Shutdown()
	if err := jobs.Sleep(ctx, 250*time.Millisecond); err != nil {
		return Latency{}, err
	}
	return e.rawPickup(ctx, client, h, e.cfg.LatencySamples, e.cfg.PollInterval)
}

// rawPickup enqueues one task at a time into an idle server and measures
// from just before the enqueue to the handler's start. A random pause
// before each spreads arrivals over the server's check cycle.
func (e *env) rawPickup(ctx context.Context, client *asynq.Client, h *rawHandler, samples int, interval time.Duration) (Latency, error) {
	ds := make([]time.Duration, 0, samples)
	for range samples {
		if err := jobs.Sleep(ctx, jitter(interval)); err != nil {
			return Latency{}, err
		}
		t0 := time.Now()
		if _, err := client.EnqueueContext(ctx, asynq.NewTask(taskPickup, nil), asynq.Queue(e.rawQueue())); err != nil {
			return Latency{}, fmt.Errorf("bench: raw pickup enqueue: %w", err)
		}
		select {
		case t1 := <-h.picked:
			ds = append(ds, t1.Sub(t0))
		case <-time.After(singleJobTimeout):
			return Latency{}, errors.New("bench: raw pickup task never started")
		case <-ctx.Done():
			return Latency{}, context.Cause(ctx)
		}
	}
	return summarize(ds), nil
}
