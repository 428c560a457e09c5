package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/worker"
)

// TestMaintenanceTasksRun registers a maintenance job, enqueues its task as
// the scheduler would, and checks a worker runs it and drains on shutdown.
func TestMaintenanceTasksRun(t *testing.T) {
	rd := testkit.NewRedis(t)
	ns := testkit.Namespace(t, rd)
	var runs atomic.Int32
	mux := worker.NewMux()
	periodic := worker.RegisterMaintenance(mux, testkit.Discard(), worker.Maintenance{
		Type: ns + ":maintenance:test", Spec: "@every 1h",
		Run: func(context.Context) (int64, error) { runs.Add(1); return 3, nil },
	})
	if len(periodic) != 1 || periodic[0].Spec != "@every 1h" || periodic[0].Type != ns+":maintenance:test" {
		t.Fatalf("schedule = %+v", periodic)
	}
	opt, err := asynq.ParseRedisURI(testkit.RedisURL())
	testkit.Must(t, "redis url", err)
	queue := ns + ":maintenance"
	client := asynq.NewClient(opt)
	defer client.Close()
	_, err = client.Enqueue(asynq.NewTask(periodic[0].Type, nil), asynq.Queue(queue))
	testkit.Must(t, "enqueue", err)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, opt, worker.Config{Concurrency: 2, ShutdownGrace: time.Second,
			Queues: map[string]int{queue: 1}, PollInterval: 10 * time.Millisecond}, testkit.Discard(), mux)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for runs.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	testkit.Must(t, "worker", <-done)
	if runs.Load() != 1 {
		t.Fatalf("maintenance ran %d times, want 1", runs.Load())
	}
}
