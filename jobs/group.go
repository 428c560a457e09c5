package jobs

import "sync"

// grouper is group commit: concurrent callers add items, and the items that
// pile up while a flush is in progress go into the next flush together, so
// many jobs share one Postgres transaction (and one fsync, and one update of
// a tenant's credit row). At most parallel flushes run at once; no flush
// runs when nothing waits, so there is no goroutine to stop.
type grouper[T, R any] struct {
	flush    func(items []T) []R // one result per item, in order
	parallel int
	maxBatch int

	mu      sync.Mutex
	pending []groupItem[T, R]
	running int
}

type groupItem[T, R any] struct {
	item T
	done chan R
}

func newGrouper[T, R any](parallel, maxBatch int, flush func([]T) []R) *grouper[T, R] {
	return &grouper[T, R]{flush: flush, parallel: parallel, maxBatch: maxBatch}
}

// do adds item to the next flush and waits for its result.
func (g *grouper[T, R]) do(item T) R {
	done := make(chan R, 1)
	g.mu.Lock()
	g.pending = append(g.pending, groupItem[T, R]{item: item, done: done})
	start := g.running < g.parallel
	if start {
		g.running++
	}
	g.mu.Unlock()
	if start {
		go g.drain()
	}
	return <-done
}

// drain flushes batches until nothing waits.
func (g *grouper[T, R]) drain() {
	for {
		g.mu.Lock()
		n := min(len(g.pending), g.maxBatch)
		if n == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		batch := make([]groupItem[T, R], n)
		copy(batch, g.pending)
		g.pending = append(g.pending[:0], g.pending[n:]...)
		g.mu.Unlock()

		items := make([]T, n)
		for i, b := range batch {
			items[i] = b.item
		}
		results := g.flush(items)
		for i, b := range batch {
			b.done <- results[i]
		}
	}
}
