package pdftext

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ledongthuc/pdf"
)

// Default limits, used for the zero fields of Limits.
const (
	DefaultMaxPages  = 500
	DefaultMaxBytes  = 50 << 20 // 50 MiB
	DefaultTimeout   = 60 * time.Second
	DefaultMaxMemory = 1 << 30 // 1 GiB
)

// Limits bounds one extraction. A zero field takes its default.
type Limits struct {
	// MaxPages is the most pages a PDF may have (DefaultMaxPages).
	MaxPages int `json:"max_pages,omitempty"`
	// MaxBytes is the largest file accepted (DefaultMaxBytes).
	MaxBytes int64 `json:"max_bytes,omitempty"`
	// Timeout is how long extraction may take (DefaultTimeout).
	Timeout time.Duration `json:"timeout,omitempty"`
	// MaxMemory is how much memory the child process of ExtractIsolated may
	// use beyond its start-up footprint (DefaultMaxMemory). Extract cannot
	// bound memory and ignores it.
	MaxMemory int64 `json:"max_memory,omitempty"`
}

// withDefaults fills the zero fields of l with the defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxPages <= 0 {
		l.MaxPages = DefaultMaxPages
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxMemory <= 0 {
		l.MaxMemory = DefaultMaxMemory
	}
	return l
}

// Document is the text of a PDF.
type Document struct {
	// Title and Author come from the document information dictionary; when
	// it has no title, Title is the first top-level heading found.
	Title  string `json:"title"`
	Author string `json:"author"`
	// Pages is the number of pages.
	Pages int `json:"pages"`
	// Markdown has headings (#, ##, ###) found from font sizes, list items
	// and paragraphs separated by blank lines.
	Markdown string `json:"markdown"`
	// Text is the plain text, paragraphs separated by blank lines.
	Text string `json:"text"`
	// FailedPages lists the pages (from 1) whose content the parser failed
	// on; their text is missing or cut short.
	FailedPages []int `json:"failed_pages,omitempty"`
}

// Extract reads the PDF in r (size bytes long) and returns its text.
// progress, if not nil, is called after each page with the page number
// (from 1) and the page count; it is never called after Extract returns.
//
// Extraction runs in a goroutine under lim.Timeout and ctx. When either
// ends first Extract returns a pdf_timeout error (or the context's error
// when ctx was canceled), but a goroutine stuck inside the parser cannot be
// stopped and keeps its memory until it finishes; use ExtractIsolated for
// files from users.
func Extract(ctx context.Context, r io.ReaderAt, size int64, lim Limits, progress func(page, total int)) (Document, error) {
	lim = lim.withDefaults()
	if size > lim.MaxBytes {
		return Document{}, codeError(ErrTooLarge, "the file has %d bytes, the limit is %d", size, lim.MaxBytes)
	}
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	guard := &progressGuard{fn: progress}
	defer guard.stop()
	done := make(chan result, 1)
	go func() { done <- extractGuarded(ctx, r, size, lim, guard.call) }()
	select {
	case res := <-done:
		return res.doc, res.err
	case <-ctx.Done():
		return Document{}, contextError(ctx, lim)
	}
}

// ExtractFile opens the PDF at path and extracts it with Extract.
func ExtractFile(ctx context.Context, path string, lim Limits, progress func(page, total int)) (Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return Document{}, fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Document{}, fmt.Errorf("reading the size of %s: %w", path, err)
	}
	return Extract(ctx, f, st.Size(), lim, progress)
}

// result is what an extraction goroutine hands back.
type result struct {
	doc Document
	err error
}

// progressGuard forwards progress calls until stop is called.
type progressGuard struct {
	mu      sync.Mutex
	fn      func(page, total int)
	stopped bool
}

// call forwards one progress report unless the guard is stopped.
func (g *progressGuard) call(page, total int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fn != nil && !g.stopped {
		g.fn(page, total)
	}
}

// stop ends forwarding; it returns once no call is running.
func (g *progressGuard) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopped = true
}

// contextError reports why ctx ended: a deadline is a pdf_timeout.
func contextError(ctx context.Context, lim Limits) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return codeError(ErrTimeout, "extraction did not finish within %s or the caller's deadline", lim.Timeout)
	}
	return fmt.Errorf("extracting the PDF: %w", ctx.Err())
}

// extractGuarded runs extract, turning a panic that escapes it (a bug in
// the layout code, or the parser outside page content) into pdf_invalid.
func extractGuarded(ctx context.Context, r io.ReaderAt, size int64, lim Limits, progress func(int, int)) (res result) {
	defer func() {
		if p := recover(); p != nil {
			res = result{err: codeError(ErrInvalid, "extracting the PDF: panic: %v", p)}
		}
	}()
	doc, err := extract(ctx, r, size, lim, progress)
	return result{doc, err}
}

// extract does the work of Extract in the calling goroutine.
func extract(ctx context.Context, r io.ReaderAt, size int64, lim Limits, progress func(int, int)) (Document, error) {
	rd, err := openPDF(r, size)
	if err != nil {
		return Document{}, err
	}
	ps, err := pages(rd, lim.MaxPages)
	if err != nil {
		return Document{}, err
	}
	doc := Document{Pages: len(ps)}
	doc.Title, doc.Author = info(rd)
	lines, failures, err := readPages(ctx, ps, progress)
	if err != nil {
		return Document{}, contextError(ctx, lim)
	}
	var heading string
	doc.Text, doc.Markdown, heading = assemble(lines)
	if doc.Title == "" {
		doc.Title = heading
	}
	for _, f := range failures {
		doc.FailedPages = append(doc.FailedPages, f.page)
	}
	return doc, checkText(doc, failures)
}

// pageFailure records a page the parser failed on.
type pageFailure struct {
	page int
	err  error
}

// readPages lays out every page, reporting progress. A page whose content
// panics keeps the lines read before the panic. It fails only when ctx is
// done.
func readPages(ctx context.Context, ps []pdf.Page, progress func(int, int)) ([][]line, []pageFailure, error) {
	out := make([][]line, len(ps))
	var failures []pageFailure
	fonts := fontCache{}
	for i, p := range ps {
		gs, err := pageGlyphs(ctx, p, fonts)
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if err != nil {
			failures = append(failures, pageFailure{i + 1, err})
		}
		out[i] = pageLines(uprightChars(gs), i)
		progress(i+1, len(ps))
	}
	return out, failures, nil
}

// checkText fails a document without text: pdf_invalid when the parser
// failed on every page, pdf_no_text otherwise.
func checkText(doc Document, failures []pageFailure) error {
	if strings.TrimSpace(doc.Text) != "" {
		return nil
	}
	if len(failures) > 0 && len(failures) == doc.Pages {
		return codeError(ErrInvalid, "reading page %d: %v", failures[0].page, failures[0].err)
	}
	return codeError(ErrNoText, "none of its %d page(s) holds text the parser can read (a scan, or only images?)", doc.Pages)
}
