package webpage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/PuerkitoBio/goquery"
	"github.com/kilnhq/kiln/extract/textmetric"
)

// Quality targets the extractor must meet on the reference corpus.
const (
	TargetMeanF1        = 0.90 // mean token F1 over all pages
	TargetMinF1         = 0.50 // no page below this F1
	TargetTitleAccuracy = 0.90 // share of pages whose title is right
)

// CorpusPageURL is the address corpus pages are extracted as coming from;
// the reference outputs resolve relative links against it.
const CorpusPageURL = "http://fakehost/test/"

// PageResult is how one corpus page fared.
type PageResult struct {
	Name      string           // the page's folder name
	Score     textmetric.Score // extracted text against the reference text
	Title     string           // title extracted
	WantTitle string           // title expected
	TitleOK   bool             // Title equals WantTitle, ignoring case and spacing
	Err       string           // extraction error, if any
}

// Report is the outcome of EvaluateCorpus.
type Report struct {
	Pages         []PageResult
	MeanPrecision float64
	MeanRecall    float64
	MeanF1        float64
	MinF1         float64
	MinF1Page     string
	TitleAccuracy float64 // share of pages with TitleOK
}

// expectedMetadata is the part of a case's expected-metadata.json we check.
type expectedMetadata struct {
	Title string `json:"title"`
}

// EvaluateCorpus extracts every page of a corpus directory (one folder per
// page holding source.html, expected.html and expected-metadata.json) and
// scores the extracted text against the expected content's text, and the
// title against the expected title.
func EvaluateCorpus(ctx context.Context, dir string) (Report, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Report{}, fmt.Errorf("reading corpus %s: %w", dir, err)
	}
	var r Report
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "source.html")); err != nil {
			continue
		}
		res, err := evaluatePage(ctx, filepath.Join(dir, e.Name()))
		if err != nil {
			return Report{}, err
		}
		r.Pages = append(r.Pages, res)
	}
	if len(r.Pages) == 0 {
		return Report{}, fmt.Errorf("reading corpus %s: no page folders with source.html", dir)
	}
	r.summarise()
	return r, nil
}

// evaluatePage extracts and scores one corpus page. Extraction failures
// are recorded in the result; unreadable reference files are errors.
func evaluatePage(ctx context.Context, dir string) (PageResult, error) {
	res := PageResult{Name: filepath.Base(dir)}
	src, err := os.ReadFile(filepath.Join(dir, "source.html"))
	if err != nil {
		return res, fmt.Errorf("reading page %s: %w", res.Name, err)
	}
	want, err := referenceText(filepath.Join(dir, "expected.html"))
	if err != nil {
		return res, err
	}
	meta, err := readExpectedMetadata(filepath.Join(dir, "expected-metadata.json"))
	if err != nil {
		return res, err
	}
	res.WantTitle = meta.Title
	got, err := extractFile(ctx, src)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return res, err
	case err != nil:
		res.Err = err.Error()
	}
	res.Title = got.Title
	res.TitleOK = sameTitle(got.Title, meta.Title)
	res.Score = textmetric.Compare(got.Text, want)
	return res, nil
}

// extractFile decodes and extracts a corpus page.
func extractFile(ctx context.Context, src []byte) (Article, error) {
	page, err := Decode(src, "")
	if err != nil {
		return Article{}, err
	}
	u, err := url.Parse(CorpusPageURL)
	if err != nil {
		return Article{}, fmt.Errorf("parsing corpus page URL: %w", err)
	}
	return Extract(ctx, page, u)
}

// referenceText is the plain text of an expected.html, rendered the way
// Extract renders Article.Text.
func referenceText(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading reference %s: %w", path, err)
	}
	defer f.Close()
	doc, err := goquery.NewDocumentFromReader(f)
	if err != nil {
		return "", fmt.Errorf("parsing reference %s: %w", path, err)
	}
	return tidyText(plainText(doc.Nodes[0])), nil
}

// readExpectedMetadata reads a case's expected-metadata.json.
func readExpectedMetadata(path string) (expectedMetadata, error) {
	var m expectedMetadata
	b, err := os.ReadFile(path)
	if err != nil {
		return m, fmt.Errorf("reading expected metadata %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("decoding expected metadata %s: %w", path, err)
	}
	return m, nil
}

// sameTitle compares titles ignoring case and whitespace differences.
func sameTitle(got, want string) bool {
	return strings.EqualFold(collapseSpace(got), collapseSpace(want))
}

// summarise computes the means, the minimum and the title accuracy.
func (r *Report) summarise() {
	r.MinF1 = 2
	titles := 0
	for _, p := range r.Pages {
		r.MeanPrecision += p.Score.Precision
		r.MeanRecall += p.Score.Recall
		r.MeanF1 += p.Score.F1
		if p.Score.F1 < r.MinF1 {
			r.MinF1, r.MinF1Page = p.Score.F1, p.Name
		}
		if p.TitleOK {
			titles++
		}
	}
	n := float64(len(r.Pages))
	r.MeanPrecision /= n
	r.MeanRecall /= n
	r.MeanF1 /= n
	r.TitleAccuracy = float64(titles) / n
}

// Targets lists the quality targets the report misses; empty when all
// are met.
func (r Report) Targets() []string {
	var failures []string
	if r.MeanF1 < TargetMeanF1 {
		failures = append(failures, fmt.Sprintf("mean F1 %.3f is below %.2f", r.MeanF1, TargetMeanF1))
	}
	for _, p := range r.Pages {
		if p.Score.F1 < TargetMinF1 {
			failures = append(failures, fmt.Sprintf("page %s has F1 %.3f, below %.2f", p.Name, p.Score.F1, TargetMinF1))
		}
	}
	if r.TitleAccuracy < TargetTitleAccuracy {
		failures = append(failures, fmt.Sprintf("title accuracy %.1f%% is below %.0f%%", 100*r.TitleAccuracy, 100*TargetTitleAccuracy))
	}
	return failures
}

// Print writes the per-page table, worst F1 first, and the summary line.
func (r Report) Print(w io.Writer) error {
	pages := append([]PageResult(nil), r.Pages...)
	sort.SliceStable(pages, func(i, j int) bool { return pages[i].Score.F1 < pages[j].Score.F1 })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PAGE\tPRECISION\tRECALL\tF1\tTITLE\tNOTE")
	for _, p := range pages {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%s\t%s\n", p.Name, p.Score.Precision, p.Score.Recall, p.Score.F1, titleMark(p), pageNote(p))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("printing quality report: %w", err)
	}
	_, err := fmt.Fprintln(w, r.Summary())
	if err != nil {
		return fmt.Errorf("printing quality report: %w", err)
	}
	return nil
}

// Summary is the one-line digest of the report.
func (r Report) Summary() string {
	return fmt.Sprintf("pages=%d mean precision=%.3f recall=%.3f F1=%.3f; min F1=%.3f (%s); titles right=%.1f%%",
		len(r.Pages), r.MeanPrecision, r.MeanRecall, r.MeanF1, r.MinF1, r.MinF1Page, 100*r.TitleAccuracy)
}

// titleMark is "ok" or "MISS" for the table.
func titleMark(p PageResult) string {
	if p.TitleOK {
		return "ok"
	}
	return "MISS"
}

// pageNote explains a miss: the error, or the two titles.
func pageNote(p PageResult) string {
	switch {
	case p.Err != "":
		return p.Err
	case !p.TitleOK:
		return fmt.Sprintf("got %q, want %q", p.Title, p.WantTitle)
	}
	return ""
}
