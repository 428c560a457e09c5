package webhooks

import (
	"net/http"
	"testing"
	"time"

	"github.com/kilnhq/kiln/jobs"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":       0,
		"7":      7 * time.Second,
		"0":      0,
		"-3":     0,
		"soon":   0,
		"999999": 24 * time.Hour, // capped
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
	}
	for in, want := range cases {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestNextStep(t *testing.T) {
	s := &Service{cfg: Config{Schedule: []time.Duration{time.Second, time.Minute}}}
	cases := []struct {
		name     string
		attempt  int
		o        outcome
		status   string
		minWait  time.Duration
		maxWait  time.Duration
		hasAfter bool
	}{
		{"success", 1, outcome{ok: true}, "succeeded", 0, 0, false},
		{"permanent", 1, outcome{permanent: true}, "failed", 0, 0, false},
		{"first retry", 1, outcome{}, "pending", 900 * time.Millisecond, 1100 * time.Millisecond, true},
		{"second retry", 2, outcome{}, "pending", 54 * time.Second, 66 * time.Second, true},
		{"schedule spent", 3, outcome{}, "failed", 0, 0, false},
		{"retry-after wins", 1, outcome{retryIn: 30 * time.Second}, "pending", 30 * time.Second, 30*time.Second + 50*time.Millisecond, true},
	}
	for _, c := range cases {
		before := time.Now()
		status, at := s.nextStep(c.attempt, c.o)
		if status != c.status || (at != nil) != c.hasAfter {
			t.Errorf("%s: status %s next %v, want %s (next set: %v)", c.name, status, at, c.status, c.hasAfter)
			continue
		}
		if at != nil {
			if wait := at.Sub(before); wait < c.minWait || wait > c.maxWait {
				t.Errorf("%s: waits %v, want %v to %v", c.name, wait, c.minWait, c.maxWait)
			}
		}
	}
}

func TestJobWants(t *testing.T) {
	cases := []struct {
		filter []string
		typ    string
		want   bool
	}{
		{nil, jobs.EventStarted, true},
		{nil, jobs.EventProgress, true},
		{[]string{"completed"}, jobs.EventStarted, false},
		{[]string{"completed"}, jobs.EventProgress, false},
		{[]string{"completed"}, jobs.EventSucceeded, true},
		{[]string{"start"}, jobs.EventFailed, true}, // final events always
		{[]string{"start"}, jobs.EventCanceled, true},
		{[]string{"progress"}, jobs.EventProgress, true},
		{nil, jobs.EventLog, false},
	}
	for _, c := range cases {
		if got := jobWants(c.filter, c.typ); got != c.want {
			t.Errorf("jobWants(%v, %s) = %v, want %v", c.filter, c.typ, got, c.want)
		}
	}
}
