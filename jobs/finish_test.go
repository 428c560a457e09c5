package jobs

import (
	"errors"
	"testing"
	"time"
)

func TestRetryDelayGrowsWithJitterAndIsCapped(t *testing.T) {
	tests := []struct {
		attempt  int
		min, max time.Duration
	}{
		{0, 750 * time.Millisecond, 1250 * time.Millisecond},
		{1, 1500 * time.Millisecond, 2500 * time.Millisecond},
		{4, 12 * time.Second, 20 * time.Second},
		{30, 7*time.Minute + 30*time.Second, 12*time.Minute + 30*time.Second},
	}
	for _, tt := range tests {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := RetryDelay(tt.attempt, errors.New("x"), nil)
			if d < tt.min || d > tt.max {
				t.Fatalf("RetryDelay(%d) = %v, want within [%v, %v]", tt.attempt, d, tt.min, tt.max)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("RetryDelay(%d) gave only %d distinct delays in 50 tries: no jitter", tt.attempt, len(seen))
		}
	}
}

func TestFailureClassification(t *testing.T) {
	if f := failureOf(errors.New("boom")); !f.Retryable || f.Code != "handler_error" {
		t.Errorf("plain error = %+v, want retryable handler_error", f)
	}
	if f := failureOf(Permanent("bad_pdf", "not a PDF", nil)); f.Retryable || f.Code != "bad_pdf" {
		t.Errorf("Permanent = %+v, want not retryable bad_pdf", f)
	}
	wrapped := errors.Join(errors.New("context"), Retryable("upstream_busy", "429", nil))
	if f := failureOf(wrapped); !f.Retryable || f.Code != "upstream_busy" {
		t.Errorf("wrapped Retryable = %+v", f)
	}
}
