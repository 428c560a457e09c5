package ingest

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kilnhq/kiln/internal/testkit"
)

// TestExtractionWaitsForASlot: with every extraction slot taken, a PDF
// waits (here until its context ends) instead of starting another child.
func TestExtractionWaitsForASlot(t *testing.T) {
	in := New(nil, testkit.Discard(), Config{MaxExtractions: 1})
	if cap(in.slots) != 1 {
		t.Fatalf("%d slots, want the configured 1", cap(in.slots))
	}
	in.slots <- struct{}{} // another extraction is running
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := in.ExtractPDF(ctx, io.NopCloser(strings.NewReader("%PDF-1.4 not really")), nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ExtractPDF with no free slot: %v, want it to wait until its context ends", err)
	}
	if d := New(nil, testkit.Discard(), Config{}); cap(d.slots) < 1 {
		t.Errorf("default slots %d, want one per CPU", cap(d.slots))
	}
}
