package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/extract/pdftext"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
)

// FromPDFInput is post.from_pdf's input: an uploaded PDF in the job's site.
type FromPDFInput struct {
	MediaID string  `json:"media_id"`
	Options Options `json:"options"`
}

func (in *Ingester) fromPDFKind() jobs.Kind {
	return jobs.Kind{
		Name:        KindFromPDF,
		Description: "Extract an uploaded PDF (page by page, in reading order, with headings from font sizes) and save it as a post of the job's site.",
		Schema: json.RawMessage(`{"type":"object","required":["media_id"],"additionalProperties":false,"properties":{
			"media_id":{"type":"string"},
			"options":{"type":"object","additionalProperties":false,"properties":{
				"status":{"enum":["draft","published"]},"tags":{"type":"array","items":{"type":"string"},"maxItems":50}}}}}`),
		Validate:    validateFromPDF,
		Price:       3,
		Timeout:     5 * time.Minute,
		MaxAttempts: 2,
		Handler:     in.runFromPDF,
	}
}

func validateFromPDF(raw json.RawMessage) (json.RawMessage, error) {
	var in FromPDFInput
	if err := jobs.StrictDecode(raw, &in); err != nil {
		return nil, err
	}
	var f problem.FieldErrors
	f.Check(in.MediaID == "", "media_id", "is required: upload the PDF to the site's media, or use POST /sites/{site}/posts/from-pdf")
	in.Options.check(&f)
	if err := f.Err(); err != nil {
		return nil, err
	}
	return json.Marshal(in)
}

// runFromPDF copies the PDF out of storage, extracts it in a child process
// (a bad file can crash or hang only that) and saves the post.
func (in *Ingester) runFromPDF(ctx context.Context, run *jobs.Run) (any, error) {
	var input FromPDFInput
	if err := run.Input(&input); err != nil {
		return nil, err
	}
	if run.Job.SiteID == nil {
		return nil, jobs.Permanent("site_required", "post.from_pdf needs the job's site_id", nil)
	}
	_ = run.Progress(ctx, 2, "reading the PDF")
	media, r, err := in.OpenPDFMedia(ctx, run.Job.TenantID, input.MediaID)
	if err != nil {
		return nil, err
	}
	doc, err := in.ExtractPDF(ctx, r, func(page, total int) {
		_ = run.Progress(ctx, 5+page*80/max(total, 1), fmt.Sprintf("extracted page %d of %d", page, total))
	})
	if err != nil {
		return nil, err
	}
	_ = run.Progress(ctx, 90, "saving the post")
	post, err := in.savePDF(ctx, run, input, media, doc)
	if err != nil {
		return nil, err
	}
	return map[string]any{"post_id": post.ID, "title": post.Title, "pages": doc.Pages, "media_id": media.ID,
		"site_id": post.SiteID, "failed_pages": doc.FailedPages}, nil
}

// OpenPDFMedia opens one of the tenant's media files, which must be a PDF.
// Its errors are job failures with codes.
func (in *Ingester) OpenPDFMedia(ctx context.Context, tenantID, mediaID string) (content.Media, io.ReadCloser, error) {
	media, r, err := in.content.OpenMedia(ctx, tenantID, mediaID)
	if err != nil {
		if pr, ok := problem.As(err); ok {
			return media, nil, jobs.Permanent(pr.Code, pr.Message, err)
		}
		return media, nil, fmt.Errorf("open media %s: %w", mediaID, err)
	}
	if media.ContentType != "application/pdf" {
		r.Close()
		return media, nil, jobs.Permanent("not_a_pdf", fmt.Sprintf("media %s is %s, not a PDF", mediaID, media.ContentType), nil)
	}
	return media, r, nil
}

// ExtractPDF extracts the PDF read from r (which it closes) in a child
// process (a bad file can crash or hang only that), within the configured
// limits, waiting for one of MaxExtractions slots. Its errors are job
// failures with the pdf_* codes.
func (in *Ingester) ExtractPDF(ctx context.Context, r io.ReadCloser, progress func(page, total int)) (pdftext.Document, error) {
	path, err := spool(r)
	if err != nil {
		return pdftext.Document{}, err
	}
	defer os.Remove(path)
	select { // one extraction per CPU at once: each is a CPU-bound child process
	case in.slots <- struct{}{}:
		defer func() { <-in.slots }()
	case <-ctx.Done():
		return pdftext.Document{}, ctx.Err()
	}
	doc, err := pdftext.ExtractIsolated(ctx, path, in.cfg.PDF, progress)
	if err != nil {
		return doc, pdfFailure(ctx, err)
	}
	return doc, nil
}

// spool copies r to a temporary file for the extraction child, and closes r.
func spool(r io.ReadCloser) (string, error) {
	defer r.Close()
	f, err := os.CreateTemp("", "kiln-pdf-*.pdf")
	if err != nil {
		return "", fmt.Errorf("temporary file for a PDF: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(f, r); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("copy PDF to %s: %w", f.Name(), err)
	}
	return f.Name(), nil
}

// pdfFailure maps an extraction error to the job's error: a bad file is
// permanent; a canceled or timed-out job keeps its own cause.
func pdfFailure(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	code := pdftext.Code(err)
	if code == "" {
		return fmt.Errorf("extract PDF: %w", err)
	}
	return jobs.Permanent(code, err.Error(), err)
}

func (in *Ingester) savePDF(ctx context.Context, run *jobs.Run, input FromPDFInput, m content.Media, doc pdftext.Document) (content.Post, error) {
	title := doc.Title
	if title == "" {
		title = strings.TrimSuffix(m.Filename, ".pdf")
	}
	body := markdownHTML(doc.Markdown)
	p := content.PostInput{Title: &title, BodyMarkdown: &doc.Markdown, BodyHTML: &body, Author: strPtr(doc.Author),
		Excerpt: strPtr(excerptOf(doc.Text)), Source: &content.PostSource{Type: content.SourcePDF, MediaID: m.ID}}
	meta, _ := json.Marshal(map[string]any{"pages": doc.Pages, "failed_pages": doc.FailedPages, "filename": m.Filename})
	raw := json.RawMessage(meta)
	p.Metadata = &raw
	return in.savePost(ctx, run, "", input.Options, p)
}

// excerptOf is the first paragraph, cut to about 300 characters.
func excerptOf(text string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(text), "\n\n")
	first = strings.Join(strings.Fields(first), " ")
	if r := []rune(first); len(r) > 300 {
		return string(r[:297]) + "..."
	}
	return first
}

// markdownHTML renders the Markdown pdftext writes (ATX headings, "- "
// list items, paragraphs separated by blank lines) as HTML.
func markdownHTML(md string) string {
	var b strings.Builder
	inList := false
	for _, block := range strings.Split(md, "\n\n") {
		block = strings.TrimSpace(block)
		if block == "" {
			continue
		}
		items, isList := listItems(block)
		if inList && !isList {
			b.WriteString("</ul>\n")
		}
		switch {
		case isList:
			if !inList {
				b.WriteString("<ul>\n")
			}
			for _, it := range items {
				b.WriteString("<li>" + html.EscapeString(it) + "</li>\n")
			}
		case strings.HasPrefix(block, "#"):
			level := min(len(block)-len(strings.TrimLeft(block, "#")), 6)
			fmt.Fprintf(&b, "<h%d>%s</h%d>\n", level, html.EscapeString(strings.TrimSpace(block[level:])), level)
		default:
			b.WriteString("<p>" + html.EscapeString(strings.Join(strings.Fields(block), " ")) + "</p>\n")
		}
		inList = isList
	}
	if inList {
		b.WriteString("</ul>\n")
	}
	return b.String()
}

// listItems splits a block whose every line is a "- " item.
func listItems(block string) ([]string, bool) {
	var out []string
	for _, line := range strings.Split(block, "\n") {
		item, ok := strings.CutPrefix(strings.TrimSpace(line), "- ")
		if !ok {
			return nil, false
		}
		out = append(out, item)
	}
	return out, true
}
