package textmetric

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTokens(t *testing.T) {
	got := Tokens("Hello, World! It's 2026 — café naïve")
	want := []string{"hello", "world", "it", "s", "2026", "café", "naïve"}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("Tokens (-want +got):\n%s", d)
	}
}

func TestCompare(t *testing.T) {
	cases := []struct {
		name      string
		got, want string
		p, r, f1  float64
	}{
		{"identical", "a b c", "a b c", 1, 1, 1},
		{"both empty", "", "", 1, 1, 1},
		{"nothing extracted", "", "a b", 0, 0, 0},
		{"extra boilerplate", "a b menu menu", "a b", 0.5, 1, 2.0 / 3},
		{"lost half", "a", "a b", 1, 0.5, 2.0 / 3},
		{"repeats count once each", "a a a", "a b", 1.0 / 3, 0.5, 0.4},
		{"case and punctuation ignored", "Hello, world.", "hello world", 1, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Compare(c.got, c.want)
			for _, v := range []struct {
				name      string
				got, want float64
			}{{"precision", s.Precision, c.p}, {"recall", s.Recall, c.r}, {"f1", s.F1, c.f1}} {
				if math.Abs(v.got-v.want) > 1e-9 {
					t.Errorf("%s = %v, want %v", v.name, v.got, v.want)
				}
			}
		})
	}
}
