package ids

import (
	"testing"
	"time"
)

func TestNewIsPrefixedUniqueAndTimeOrdered(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for range 20 {
		id := New("job")
		if !HasPrefix(id, "job") {
			t.Fatalf("HasPrefix(%q, job) = false", id)
		}
		if HasPrefix(id, "site") {
			t.Fatalf("HasPrefix(%q, site) = true", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		if id <= prev {
			t.Fatalf("id %q made later sorts before %q", id, prev)
		}
		prev = id
		time.Sleep(2 * time.Millisecond) // ids are ordered to the millisecond
	}
	if HasPrefix("job_short", "job") {
		t.Fatal("HasPrefix accepted an id of the wrong length")
	}
}

func TestIdsMadeInOneMillisecondKeepTheirOrder(t *testing.T) {
	prev := New("post")
	for range 10000 { // far more than one millisecond holds
		id := New("post")
		if id <= prev {
			t.Fatalf("id %q made after %q sorts before it", id, prev)
		}
		prev = id
	}
}
