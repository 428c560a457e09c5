package pdftext

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kilnhq/kiln/extract/textmetric"
)

// Quality targets that Report.Failures checks.
const (
	// TargetF1 is the token F1 against pdftotext each text PDF must reach.
	TargetF1 = 0.90
	// TargetDuration is the longest one file may take.
	TargetDuration = 10 * time.Second
	// MinReferenceTokens defines a text PDF: one whose pdftotext output has
	// at least this many tokens (textmetric.Tokens). Below it a file is a
	// form, a picture with a caption or a few labels, where one token more
	// or less swings F1 by several points; such files must still give text
	// or an error code, and their F1 is reported but not held to TargetF1.
	MinReferenceTokens = 50
)

// referenceTool is the yardstick: poppler's pdftotext in its default
// reading-order mode, which joins hyphenated words like Extract and, unlike
// -layout, does not pad columns with spaces. F1 counts tokens, so the
// order of the text does not matter, only its words.
const referenceTool = "pdftotext"

// corpusTimeout bounds each file's extraction and pdftotext run: above
// TargetDuration, so that a slow file is measured rather than cut short.
const corpusTimeout = 3 * TargetDuration

// Report is the outcome of EvaluateCorpus.
type Report struct {
	Dir string `json:"dir"`
	// Reference names the pdftotext found, or is empty when it is missing
	// and no F1 was measured.
	Reference string       `json:"reference"`
	Files     []FileResult `json:"files"`
}

// FileResult is the outcome for one file.
type FileResult struct {
	Name     string        `json:"name"`
	Pages    int           `json:"pages"`
	Outcome  string        `json:"outcome"` // "text", or the error code
	Error    string        `json:"error,omitempty"`
	Panicked bool          `json:"panicked,omitempty"`
	Duration time.Duration `json:"duration"`
	Tokens   int           `json:"tokens"`
	// RefTokens counts the tokens of the pdftotext output; TextPDF says it
	// reaches MinReferenceTokens. Score is set when Scored.
	RefTokens int              `json:"ref_tokens"`
	TextPDF   bool             `json:"text_pdf"`
	Scored    bool             `json:"scored"`
	Score     textmetric.Score `json:"score"`
}

// OutcomeText is the Outcome of a file that gave text.
const OutcomeText = "text"

// EvaluateCorpus extracts every PDF in dir and, when pdftotext is on PATH,
// scores the text against pdftotext's with textmetric.Compare.
func EvaluateCorpus(ctx context.Context, dir string) (Report, error) {
	names, err := pdfFiles(dir)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Dir: dir, Reference: referenceVersion(ctx)}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("evaluating %s: %w", dir, err)
		}
		rep.Files = append(rep.Files, evaluateFile(ctx, filepath.Join(dir, name), rep.Reference != ""))
	}
	return rep, nil
}

// pdfFiles lists the .pdf files of dir by name.
func pdfFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing the corpus %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.EqualFold(filepath.Ext(e.Name()), ".pdf") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("listing the corpus %s: no .pdf files", dir)
	}
	sort.Strings(names)
	return names, nil
}

// referenceVersion returns pdftotext's version line, or "" when it is not
// on PATH.
func referenceVersion(ctx context.Context) string {
	path, err := exec.LookPath(referenceTool)
	if err != nil {
		return ""
	}
	out, _ := exec.CommandContext(ctx, path, "-v").CombinedOutput()
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if first == "" {
		return referenceTool
	}
	return first
}

// evaluateFile extracts one file and scores it when score is set.
func evaluateFile(ctx context.Context, path string, score bool) FileResult {
	res := FileResult{Name: filepath.Base(path)}
	start := time.Now()
	doc, err := extractCatching(ctx, path, &res.Panicked)
	res.Duration = time.Since(start)
	res.Pages = doc.Pages
	res.Outcome = OutcomeText
	if err != nil {
		res.Outcome, res.Error = Code(err), err.Error()
	}
	res.Tokens = len(textmetric.Tokens(doc.Text))
	if !score {
		return res
	}
	ref, err := referenceText(ctx, path)
	if err != nil {
		res.Error = strings.TrimSpace(res.Error + "; reference: " + err.Error())
	}
	res.RefTokens = len(textmetric.Tokens(ref))
	res.TextPDF = res.RefTokens >= MinReferenceTokens
	res.Score, res.Scored = textmetric.Compare(doc.Text, ref), true
	return res
}

// extractCatching runs ExtractFile, recording a panic that reaches it.
func extractCatching(ctx context.Context, path string, panicked *bool) (doc Document, err error) {
	defer func() {
		if p := recover(); p != nil {
			*panicked = true
			doc, err = Document{}, fmt.Errorf("extracting %s: panic: %v", path, p)
		}
	}()
	return ExtractFile(ctx, path, Limits{Timeout: corpusTimeout}, nil)
}

// referenceText returns pdftotext's text of the file. pdftotext fails on
// files it cannot read (an encrypted one); the reference is then empty.
func referenceText(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, corpusTimeout)
	defer cancel()
	var out, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, referenceTool, "-q", "-enc", "UTF-8", path, "-")
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("running %s on %s: %w %s", referenceTool, path, err, strings.TrimSpace(stderr.String()))
	}
	return out.String(), nil
}

// Failures lists every target the report misses, empty when all are met:
// every file gives text or a known error code, none panics, none takes
// over TargetDuration, and every text PDF gives text with an F1 of at
// least TargetF1 against pdftotext (which must be installed).
func (r Report) Failures() []string {
	var out []string
	if r.Reference == "" {
		out = append(out, "pdftotext is not on PATH, so F1 was not measured: run deploy/dev/tools.sh (it installs poppler-utils)")
	}
	for _, f := range r.Files {
		out = append(out, f.failures()...)
	}
	return out
}

// failures lists the targets one file misses.
func (f FileResult) failures() []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, f.Name+": "+fmt.Sprintf(format, args...)) }
	if f.Panicked {
		add("panicked: %s", f.Error)
	}
	if f.Outcome == "" {
		add("failed without an error code: %s", f.Error)
	}
	if f.Duration > TargetDuration {
		add("took %s, over %s", f.Duration.Round(time.Millisecond), TargetDuration)
	}
	if f.Scored && f.TextPDF {
		switch {
		case f.Outcome != OutcomeText:
			add("pdftotext finds %d tokens but extraction failed: %s", f.RefTokens, f.Error)
		case f.Score.F1 < TargetF1:
			add("F1 %.3f against pdftotext, under %.2f", f.Score.F1, TargetF1)
		}
	}
	return out
}

// Summary holds the figures of a report.
type Summary struct {
	Files, TextPDFs, Pages int
	// MeanF1 and MinF1 are over the text PDFs; MicroF1 weighs each by its
	// tokens (the F1 of all their tokens together).
	MeanF1, MinF1, MicroF1 float64
	Total                  time.Duration
	Slowest                time.Duration
}

// Summary computes the report's figures.
func (r Report) Summary() Summary {
	s := Summary{Files: len(r.Files), MinF1: 1}
	var matched, got, want float64
	for _, f := range r.Files {
		s.Pages += f.Pages
		s.Total += f.Duration
		s.Slowest = max(s.Slowest, f.Duration)
		if !f.Scored || !f.TextPDF {
			continue
		}
		s.TextPDFs++
		s.MeanF1 += f.Score.F1
		s.MinF1 = min(s.MinF1, f.Score.F1)
		matched += f.Score.Recall * float64(f.RefTokens)
		got += float64(f.Tokens)
		want += float64(f.RefTokens)
	}
	if s.TextPDFs > 0 {
		s.MeanF1 /= float64(s.TextPDFs)
		s.MicroF1 = 2 * matched / (got + want)
	} else {
		s.MinF1 = 0
	}
	return s
}

// Print writes the report as a table with a summary and the missed
// targets.
func (r Report) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "file\tpages\toutcome\ttokens\tref\tF1\tP\tR\ttime\n")
	for _, f := range r.Files {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", f.Name, f.Pages, f.Outcome, f.Tokens,
			refColumn(f), scoreColumn(f, f.Score.F1), scoreColumn(f, f.Score.Precision),
			scoreColumn(f, f.Score.Recall), f.Duration.Round(100*time.Microsecond))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("printing the quality report: %w", err)
	}
	return r.printSummary(w)
}

// printSummary writes the summary lines and the missed targets.
func (r Report) printSummary(w io.Writer) error {
	s := r.Summary()
	ref := r.Reference
	if ref == "" {
		ref = "pdftotext missing"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d files, %d pages in %s (slowest %s, %.0f pages/s); reference: %s\n",
		s.Files, s.Pages, s.Total.Round(time.Millisecond), s.Slowest.Round(time.Millisecond),
		float64(s.Pages)/max(s.Total.Seconds(), 1e-9), ref)
	fmt.Fprintf(&b, "text PDFs (pdftotext gives >= %d tokens): %d; F1 mean %.3f, min %.3f, over all their tokens %.3f (target >= %.2f each)\n",
		MinReferenceTokens, s.TextPDFs, s.MeanF1, s.MinF1, s.MicroF1, TargetF1)
	fails := r.Failures()
	if len(fails) == 0 {
		b.WriteString("all targets met\n")
	}
	for _, f := range fails {
		b.WriteString("MISSED: " + f + "\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("printing the quality summary: %w", err)
	}
	return nil
}

// refColumn shows the reference token count, marking text PDFs with *.
func refColumn(f FileResult) string {
	if !f.Scored {
		return "-"
	}
	if f.TextPDF {
		return fmt.Sprintf("%d*", f.RefTokens)
	}
	return fmt.Sprint(f.RefTokens)
}

// scoreColumn formats one score, or "-" when none was measured or neither
// side has a token to compare.
func scoreColumn(f FileResult, v float64) string {
	if !f.Scored || f.Tokens == 0 && f.RefTokens == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}
