package webpage

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnhq/kiln/extract/textmetric"

	"github.com/kilnhq/kiln/internal/testdata"
)

// requireCorpus returns the reference corpus (found by internal/testdata)
// or fails the test saying where it was looked for.
func requireCorpus(tb testing.TB) string {
	tb.Helper()
	dir, err := testdata.Dir("html")
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

func TestQualityCorpus(t *testing.T) {
	r, err := EvaluateCorpus(context.Background(), requireCorpus(t))
	if err != nil {
		t.Fatalf("EvaluateCorpus: %v", err)
	}
	var b strings.Builder
	if err := r.Print(&b); err != nil {
		t.Fatalf("Print: %v", err)
	}
	t.Log("\n" + b.String())
	for _, f := range r.Targets() {
		t.Errorf("quality target missed: %s", f)
	}
}

func TestReportTargets(t *testing.T) {
	page := func(name string, f1 float64, titleOK bool) PageResult {
		return PageResult{Name: name, Score: textmetric.Score{Precision: f1, Recall: f1, F1: f1}, TitleOK: titleOK}
	}
	cases := []struct {
		name  string
		pages []PageResult
		want  []string // substrings of the failures, in order
	}{
		{"all met", []PageResult{page("a", 1, true), page("b", 0.9, true)}, nil},
		{"low mean", []PageResult{page("a", 0.8, true), page("b", 0.85, true)}, []string{"mean F1 0.825"}},
		{"one page too low", []PageResult{page("a", 1, true), page("b", 1, true), page("c", 1, true), page("d", 1, true),
			page("e", 1, true), page("f", 1, true), page("g", 1, true), page("h", 1, true), page("i", 1, true), page("j", 0.45, true)},
			[]string{"page j has F1 0.450"}},
		{"titles", []PageResult{page("a", 1, true), page("b", 1, false)}, []string{"title accuracy 50.0%"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Report{Pages: c.pages}
			r.summarise()
			got := r.Targets()
			if len(got) != len(c.want) {
				t.Fatalf("Targets = %q, want %d failures", got, len(c.want))
			}
			for i, w := range c.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("failure %d = %q, want it to mention %q", i, got[i], w)
				}
			}
		})
	}
}

func TestReportPrint(t *testing.T) {
	r := Report{Pages: []PageResult{
		{Name: "good", Score: textmetric.Score{Precision: 1, Recall: 1, F1: 1}, TitleOK: true},
		{Name: "bad", Score: textmetric.Score{Precision: 0.5, Recall: 0.25, F1: 1.0 / 3}, Title: "Got", WantTitle: "Want"},
	}}
	r.summarise()
	var b strings.Builder
	if err := r.Print(&b); err != nil {
		t.Fatalf("Print: %v", err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("Print wrote %d lines, want header, 2 pages and summary:\n%s", len(lines), out)
	}
	if !strings.HasPrefix(lines[1], "bad ") || !strings.Contains(lines[1], "MISS") || !strings.Contains(lines[1], `"Want"`) {
		t.Errorf("worst page should come first with its title miss: %q", lines[1])
	}
	if want := "pages=2 mean precision=0.750 recall=0.625 F1=0.667; min F1=0.333 (bad); titles right=50.0%"; lines[3] != want {
		t.Errorf("summary = %q, want %q", lines[3], want)
	}
}

func TestSameTitle(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"Kilns  and\nKeepers", "kilns and keepers", true},
		{" Kilns ", "Kilns", true},
		{"Kilns", "Kilns | Site", false},
		{"", "Kilns", false},
	}
	for _, c := range cases {
		if got := sameTitle(c.a, c.b); got != c.want {
			t.Errorf("sameTitle(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestEvaluateCorpusErrors(t *testing.T) {
	if _, err := EvaluateCorpus(context.Background(), filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("EvaluateCorpus on a missing directory should fail")
	}
	if _, err := EvaluateCorpus(context.Background(), t.TempDir()); err == nil {
		t.Error("EvaluateCorpus on a directory without pages should fail")
	}
}
