// Package indexing defines the RAG job kinds: rag.index_document gets a
// document's text (given as text or Markdown, or extracted from a URL, a
// PDF or a post with the extractors the post kinds use), then chunks,
// embeds and stores it through rag.Service; rag.reindex does that for every
// document of a knowledge base. Both report progress and bill the
// embedding tokens they used within their reservation.
package indexing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/content/ingest"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/rag"
	"github.com/kilnhq/kiln/storage"
)

// Kind names.
const (
	KindIndexDocument = "rag.index_document"
	KindReindex       = "rag.reindex"
)

// TokensPerCredit is how many embedding tokens one credit buys; a job is
// charged at least one credit and never more than it reserved.
const TokensPerCredit = 100_000

// Indexer runs the kinds.
type Indexer struct {
	rag     *rag.Service
	content *content.Service
	ingest  *ingest.Ingester
	store   storage.Store
	log     *slog.Logger
}

// New returns the indexer. store keeps PDFs uploaded straight into a
// knowledge base.
func New(r *rag.Service, c *content.Service, in *ingest.Ingester, store storage.Store, log *slog.Logger) *Indexer {
	return &Indexer{rag: r, content: c, ingest: in, store: store, log: log}
}

// Kinds returns the kinds to register.
func (x *Indexer) Kinds() []jobs.Kind {
	return []jobs.Kind{
		{
			Name:        KindIndexDocument,
			Description: "Get a knowledge-base document's text (extracting a URL, PDF or post), chunk it, embed it and store it for search.",
			Schema:      json.RawMessage(`{"type":"object","required":["document_id"],"additionalProperties":false,"properties":{"document_id":{"type":"string"}}}`),
			Validate:    validateDocument,
			Price:       2, Timeout: 10 * time.Minute, MaxAttempts: 3,
			Handler: x.runIndexDocument,
		},
		{
			Name:        KindReindex,
			Description: "Re-chunk and re-embed every document of a knowledge base with its current settings.",
			Schema:      json.RawMessage(`{"type":"object","required":["knowledge_base_id"],"additionalProperties":false,"properties":{"knowledge_base_id":{"type":"string"}}}`),
			Validate:    validateReindex,
			Price:       5, Timeout: time.Hour, MaxAttempts: 2,
			Handler: x.runReindex,
		},
	}
}

// DocumentInput is rag.index_document's input.
type DocumentInput struct {
	DocumentID string `json:"document_id"`
}

// ReindexInput is rag.reindex's input.
type ReindexInput struct {
	KnowledgeBaseID string `json:"knowledge_base_id"`
}

func validateDocument(raw json.RawMessage) (json.RawMessage, error) {
	var in DocumentInput
	if err := jobs.StrictDecode(raw, &in); err != nil {
		return nil, err
	}
	var f problem.FieldErrors
	f.Check(in.DocumentID == "", "document_id", "is required")
	if err := f.Err(); err != nil {
		return nil, err
	}
	return json.Marshal(in)
}

func validateReindex(raw json.RawMessage) (json.RawMessage, error) {
	var in ReindexInput
	if err := jobs.StrictDecode(raw, &in); err != nil {
		return nil, err
	}
	var f problem.FieldErrors
	f.Check(in.KnowledgeBaseID == "", "knowledge_base_id", "is required")
	if err := f.Err(); err != nil {
		return nil, err
	}
	return json.Marshal(in)
}

// runIndexDocument gets the document's text when it has none yet, then
// indexes it.
func (x *Indexer) runIndexDocument(ctx context.Context, run *jobs.Run) (any, error) {
	var in DocumentInput
	if err := run.Input(&in); err != nil {
		return nil, err
	}
	tenant := run.Job.TenantID
	doc, err := x.rag.Catalog.GetDocument(ctx, tenant, in.DocumentID)
	if err != nil {
		return nil, failure(err)
	}
	if doc.Content == "" {
		if err := x.fill(ctx, run, doc); err != nil {
			if mark := x.rag.Catalog.MarkFailed(context.WithoutCancel(ctx), tenant, doc.ID, codeOf(err), err.Error()); mark != nil {
				x.log.ErrorContext(ctx, "record document failure", "document_id", doc.ID, "err", mark)
			}
			return nil, err
		}
	}
	res, err := x.rag.IndexDocument(ctx, tenant, doc.ID, progress(ctx, run, 30, 100))
	run.SetUsage(credits(res, run.Job.Credits.Reserved))
	if err != nil {
		return nil, failure(err)
	}
	return map[string]any{"document_id": doc.ID, "knowledge_base_id": doc.KnowledgeBaseID, "result": res}, nil
}

// runReindex indexes every document of a knowledge base again.
func (x *Indexer) runReindex(ctx context.Context, run *jobs.Run) (any, error) {
	var in ReindexInput
	if err := run.Input(&in); err != nil {
		return nil, err
	}
	if err := x.fillMissing(ctx, run, in.KnowledgeBaseID); err != nil {
		return nil, failure(err)
	}
	res, err := x.rag.ReindexKnowledgeBase(ctx, run.Job.TenantID, in.KnowledgeBaseID, progress(ctx, run, 0, 100))
	run.SetUsage(credits(res, run.Job.Credits.Reserved))
	if err != nil {
		return nil, failure(err)
	}
	return map[string]any{"knowledge_base_id": in.KnowledgeBaseID, "result": res}, nil
}

// fillMissing extracts the text of the knowledge base's documents that
// have none yet (a URL, PDF or post whose extraction failed before), so a
// reindex retries them. A document that fails again is marked failed and
// the others go on.
func (x *Indexer) fillMissing(ctx context.Context, run *jobs.Run, kbID string) error {
	tenant := run.Job.TenantID
	ids, err := x.rag.Catalog.DocumentIDs(ctx, tenant, kbID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		doc, err := x.rag.Catalog.GetDocument(ctx, tenant, id)
		if err != nil || doc.Content != "" {
			continue // gone meanwhile, or has its text
		}
		if err := x.fill(ctx, run, doc); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if mark := x.rag.Catalog.MarkFailed(context.WithoutCancel(ctx), tenant, doc.ID, codeOf(err), err.Error()); mark != nil {
				x.log.ErrorContext(ctx, "record document failure", "document_id", doc.ID, "err", mark)
			}
		}
	}
	return nil
}

// fill extracts the document's text from its source and stores it.
func (x *Indexer) fill(ctx context.Context, run *jobs.Run, doc rag.Document) error {
	tenant := run.Job.TenantID
	var title, text string
	var err error
	switch doc.SourceType {
	case rag.SourceURL:
		_ = run.Progress(ctx, 5, "fetching "+doc.SourceRef)
		art, _, ferr := x.ingest.FetchArticle(ctx, doc.SourceRef)
		title, text, err = art.Title, art.Markdown, ferr
	case rag.SourcePost:
		post, perr := x.content.FindPost(ctx, tenant, doc.SourceRef)
		title, text, err = post.Title, post.BodyMarkdown, perr
	case rag.SourcePDF:
		title, text, err = x.pdfText(ctx, run, doc)
	default:
		return jobs.Permanent("document_empty", "the document has no text to index", nil)
	}
	if err != nil {
		return failure(err)
	}
	_ = run.Progress(ctx, 25, "text extracted")
	return failure(x.rag.Catalog.SetDocumentContent(ctx, tenant, doc.ID, title, text))
}

// pdfText extracts a PDF document: one uploaded into the knowledge base
// (kept in storage under the document's key) or a media file (med_…).
func (x *Indexer) pdfText(ctx context.Context, run *jobs.Run, doc rag.Document) (string, string, error) {
	var r io.ReadCloser
	var err error
	if len(doc.SourceRef) > 4 && doc.SourceRef[:4] == "med_" {
		_, r, err = x.ingest.OpenPDFMedia(ctx, run.Job.TenantID, doc.SourceRef)
	} else {
		r, err = x.store.Open(ctx, UploadKey(run.Job.TenantID, doc.ID))
	}
	if err != nil {
		return "", "", jobs.Permanent("pdf_missing", "the document's PDF cannot be read", err)
	}
	pdf, err := x.ingest.ExtractPDF(ctx, r, func(page, total int) {
		_ = run.Progress(ctx, 5+page*20/max(total, 1), fmt.Sprintf("extracted page %d of %d", page, total))
	})
	return pdf.Title, pdf.Markdown, err
}

// UploadKey is where a PDF uploaded into a knowledge base is stored.
func UploadKey(tenantID, docID string) string { return tenantID + "/rag/" + docID }

// progress maps the service's 0-100 into the job's from-to range.
func progress(ctx context.Context, run *jobs.Run, from, to int) rag.Progress {
	return func(p int, msg string) { _ = run.Progress(ctx, from+p*(to-from)/100, msg) }
}

// credits is what a run costs: one credit per TokensPerCredit embedding
// tokens, at least one, at most what it reserved.
func credits(res rag.IndexResult, reserved int64) int64 {
	n := 1 + int64(res.Usage.Tokens)/TokensPerCredit
	return min(n, reserved)
}

// failure turns a domain problem into a job failure with its code: the
// caller's mistakes and missing things are permanent; a provider's rate
// limits and outages are retried.
func failure(err error) error {
	if err == nil {
		return nil
	}
	var f *jobs.Failure
	if errors.As(err, &f) {
		return err
	}
	if p, ok := problem.As(err); ok {
		retry := (p.Kind == problem.Unavailable || p.Kind == problem.RateLimited) && !permanent[p.Code]
		return &jobs.Failure{Code: p.Code, Message: p.Message, Retryable: retry, Err: err}
	}
	return err
}

// permanent are unavailability codes that waiting does not cure: the
// operator must change a setting first.
var permanent = map[string]bool{"provider_auth_failed": true, "provider_not_configured": true}

// codeOf is the code a failed document shows.
func codeOf(err error) string {
	var f *jobs.Failure
	if errors.As(err, &f) {
		return f.Code
	}
	return "index_failed"
}
