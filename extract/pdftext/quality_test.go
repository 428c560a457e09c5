package pdftext

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kilnhq/kiln/extract/textmetric"
)

// TestCorpusQuality extracts the shared corpus, logs the report and fails on
// every missed target. Without pdftotext it fails too, telling to run
// deploy/dev/tools.sh, as CI does.
func TestCorpusQuality(t *testing.T) {
	if corpusErr != nil {
		t.Fatal(corpusErr)
	}
	rep, err := EvaluateCorpus(context.Background(), corpusDir)
	if err != nil {
		t.Fatalf("EvaluateCorpus: %v", err)
	}
	var b strings.Builder
	if err := rep.Print(&b); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + b.String())
	if len(rep.Files) == 0 {
		t.Fatal("the report has no files")
	}
	for _, f := range rep.Failures() {
		t.Error(f)
	}
}

func TestReportFailures(t *testing.T) {
	good := FileResult{Name: "good.pdf", Outcome: OutcomeText, Duration: time.Second, Scored: true, TextPDF: true,
		RefTokens: 100, Score: textmetric.Score{Precision: 0.95, Recall: 0.95, F1: 0.95}}
	with := func(change func(*FileResult)) FileResult {
		f := good
		change(&f)
		return f
	}
	cases := []struct {
		name      string
		reference string
		file      FileResult
		want      string // a substring of the only failure, "" for none
	}{
		{"all met", "pdftotext 22", good, ""},
		{"pdftotext missing", "", with(func(f *FileResult) { f.Scored = false }), "deploy/dev/tools.sh"},
		{"low F1", "pdftotext 22", with(func(f *FileResult) { f.Score.F1 = 0.89 }), "F1 0.890"},
		{"low F1 on a small file is not a miss", "pdftotext 22", with(func(f *FileResult) { f.Score.F1 = 0.2; f.TextPDF = false }), ""},
		{"failed text PDF", "pdftotext 22", with(func(f *FileResult) { f.Outcome = CodeInvalid }), "extraction failed"},
		{"error code is fine on other files", "pdftotext 22", with(func(f *FileResult) { f.Outcome = CodeEncrypted; f.TextPDF = false }), ""},
		{"no code", "pdftotext 22", with(func(f *FileResult) { f.Outcome = ""; f.TextPDF = false }), "without an error code"},
		{"slow", "pdftotext 22", with(func(f *FileResult) { f.Duration = 11 * time.Second }), "took 11s"},
		{"panic", "pdftotext 22", with(func(f *FileResult) { f.Panicked = true }), "panicked"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Report{Reference: c.reference, Files: []FileResult{c.file}}.Failures()
			switch {
			case c.want == "" && len(got) != 0:
				t.Errorf("Failures = %q, want none", got)
			case c.want != "" && (len(got) != 1 || !strings.Contains(got[0], c.want)):
				t.Errorf("Failures = %q, want one containing %q", got, c.want)
			}
		})
	}
}

func TestReportSummary(t *testing.T) {
	rep := Report{Reference: "pdftotext", Files: []FileResult{
		{Pages: 2, Duration: time.Second, Scored: true, TextPDF: true, Tokens: 100, RefTokens: 100, Score: textmetric.Score{Precision: 1, Recall: 1, F1: 1}},
		{Pages: 3, Duration: 2 * time.Second, Scored: true, TextPDF: true, Tokens: 50, RefTokens: 100, Score: textmetric.Score{Precision: 1, Recall: 0.5, F1: 2.0 / 3}},
		{Pages: 1, Duration: time.Second, Scored: true, TextPDF: false, RefTokens: 3},
	}}
	s := rep.Summary()
	if s.Files != 3 || s.TextPDFs != 2 || s.Pages != 6 || s.Total != 4*time.Second || s.Slowest != 2*time.Second {
		t.Errorf("counts: %+v", s)
	}
	if !near(s.MeanF1, (1+2.0/3)/2) || !near(s.MinF1, 2.0/3) || !near(s.MicroF1, 2*150.0/(150+200)) {
		t.Errorf("F1 mean %v min %v micro %v", s.MeanF1, s.MinF1, s.MicroF1)
	}
}

// near reports whether a and b are equal to 1e-9.
func near(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}
