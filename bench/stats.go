package bench

import (
	"context"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Rate is a throughput figure: Count operations in Elapsed.
type Rate struct {
	Count   int
	Elapsed time.Duration
}

// PerSecond returns the rate in operations per second (0 when unmeasured).
func (r Rate) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Count) / r.Elapsed.Seconds()
}

// Latency summarises a latency distribution.
type Latency struct {
	Samples int
	P50     time.Duration
	P99     time.Duration
	Max     time.Duration
}

// summarize returns the nearest-rank percentiles of ds.
func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return Latency{Samples: len(s), P50: percentile(s, 0.50), P99: percentile(s, 0.99), Max: s[len(s)-1]}
}

// percentile returns the nearest-rank p-th percentile of sorted s.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// runConcurrent runs op n times from workers goroutines and returns each
// call's latency and the wall time of the whole. The first error stops it.
func runConcurrent(ctx context.Context, n, workers int, op func(context.Context) error) ([]time.Duration, time.Duration, error) {
	var next atomic.Int64
	per := make([][]time.Duration, workers)
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	for w := range workers {
		g.Go(func() error {
			for next.Add(1) <= int64(n) {
				t0 := time.Now()
				if err := op(gctx); err != nil {
					return err
				}
				per[w] = append(per[w], time.Since(t0))
			}
			return nil
		})
	}
	err := g.Wait()
	elapsed := time.Since(start)
	return slices.Concat(per...), elapsed, err
}
