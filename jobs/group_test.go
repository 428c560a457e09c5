package jobs

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGrouperBatchesConcurrentCallersAndAnswersEach(t *testing.T) {
	var flushes, maxSize, inFlight, maxInFlight atomic.Int32
	g := newGrouper(2, 50, func(items []int) []int {
		flushes.Add(1)
		if n := int32(len(items)); n > maxSize.Load() {
			maxSize.Store(n)
		}
		if n := inFlight.Add(1); n > maxInFlight.Load() {
			maxInFlight.Store(n)
		}
		time.Sleep(5 * time.Millisecond) // a slow commit lets callers pile up
		inFlight.Add(-1)
		out := make([]int, len(items))
		for i, v := range items {
			out[i] = v * 2
		}
		return out
	})
	const callers = 400
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := g.do(i); got != i*2 {
				t.Errorf("do(%d) = %d, want %d", i, got, i*2)
			}
		}()
	}
	wg.Wait()
	if flushes.Load() >= callers/2 {
		t.Errorf("%d flushes for %d callers: nothing was grouped", flushes.Load(), callers)
	}
	if maxSize.Load() > 50 || maxInFlight.Load() > 2 {
		t.Errorf("largest batch %d (limit 50), most flushes at once %d (limit 2)", maxSize.Load(), maxInFlight.Load())
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running != 0 || len(g.pending) != 0 {
		t.Errorf("after all callers returned: %d flushers running, %d items pending", g.running, len(g.pending))
	}
}
