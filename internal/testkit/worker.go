package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/worker"
)

// StartWorker runs an in-process worker for svc's kinds on namespace ns,
// with the relay and the cancel listener beside it, as `kiln worker` does.
// Retries wait 20 ms instead of seconds. It stops when stop is called or the
// test ends.
func StartWorker(t testing.TB, svc *jobs.Service, ns string, concurrency int, extras ...Extra) (stop func()) {
	t.Helper()
	opt, err := asynq.ParseRedisURI(RedisURL())
	Must(t, "parse KILN_TEST_REDIS_URL", err)
	return StartWorkerOn(t, svc, opt, ns, concurrency, extras...)
}

// Extra is more work for a test worker beside the jobs: a queue with its
// weight, the task handlers to register, and a loop to run beside it.
type Extra struct {
	Queue    string
	Weight   int
	Register func(mux *worker.Mux)
	Run      func(ctx context.Context)
}

// StartWorkerOn is StartWorker on the Redis of opt, with extras.
func StartWorkerOn(t testing.TB, svc *jobs.Service, opt asynq.RedisConnOpt, ns string, concurrency int, extras ...Extra) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	mux := worker.NewMux()
	svc.Register(mux)
	queues := jobs.Queues(ns)
	for _, e := range extras {
		queues[e.Queue] = e.Weight
		e.Register(mux)
		go e.Run(ctx)
	}
	done := make(chan error, 1)
	go svc.ListenForCancels(ctx)
	go svc.RunRelay(ctx)
	go func() {
		done <- worker.Run(ctx, opt, worker.Config{Concurrency: concurrency, ShutdownGrace: 5 * time.Second,
			Queues: queues, PollInterval: 10 * time.Millisecond,
			RetryDelay: func(int, error, *asynq.Task) time.Duration { return 20 * time.Millisecond },
			OnShutdown: svc.Drain}, Discard(), mux)
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}
