package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/rag"
	"github.com/kilnhq/kiln/rag/indexing"
	"github.com/kilnhq/kiln/storage"
)

// Knowledge bases, their documents, reindexing and search (package rag).
// Every handler finds the knowledge base in the caller's tenant first, so
// another tenant's is a 404 before the body is even read. Work that writes
// chunks runs as rag.index_document and rag.reindex jobs; while the vector
// store is down (no pgvector, unreachable) the routes that need it answer
// 503 vector_store_unavailable and the catalog routes still work.

// kbDocumentsRoute takes a PDF upload as well as JSON, so its body may be
// as large as a media file (see isUpload).
const kbDocumentsRoute = "/api/v1/knowledge-bases/:id/documents"

// errRAGOff answers the RAG routes of a server built without a RAG service.
var errRAGOff = problem.New(problem.Unavailable, "rag_unavailable",
	"knowledge bases are not available on this server: it was started without a RAG service")

// needRAG stops a RAG route on a server that has no RAG service.
func (s *Server) needRAG(c *gin.Context) {
	if s.rag == nil {
		s.fail(c, errRAGOff)
		return
	}
	c.Next()
}

// vectorReady answers 503 vector_store_unavailable, saying how to fix it,
// when the vector store cannot serve, and returns false.
func (s *Server) vectorReady(c *gin.Context) bool {
	if err := s.rag.Store.Err(); err != nil {
		s.fail(c, err)
		return false
	}
	return true
}

// kbOf returns the caller's knowledge base named by :id, or answers 404.
func (s *Server) kbOf(c *gin.Context) (rag.KnowledgeBase, bool) {
	kb, err := s.rag.Catalog.GetKnowledgeBase(c.Request.Context(), caller(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return rag.KnowledgeBase{}, false
	}
	return kb, true
}

// docOf returns the document :doc_id of kb, or answers 404 (also for a
// document of another knowledge base).
func (s *Server) docOf(c *gin.Context, kb rag.KnowledgeBase) (rag.Document, bool) {
	doc, err := s.rag.Catalog.GetDocument(c.Request.Context(), caller(c).TenantID, c.Param("doc_id"))
	if err == nil && doc.KnowledgeBaseID != kb.ID {
		err = rag.ErrDocumentNotFound
	}
	if err != nil {
		s.fail(c, err)
		return rag.Document{}, false
	}
	return doc, true
}

func (s *Server) kbURL(id string) string { return s.cfg.PublicURL + "/api/v1/knowledge-bases/" + id }

func (s *Server) listKnowledgeBases(c *gin.Context) {
	listed(s, func(c *gin.Context, page pg.Page) ([]rag.KnowledgeBase, string, error) {
		return s.rag.Catalog.ListKnowledgeBases(c.Request.Context(), caller(c).TenantID, page)
	})(c)
}

func (s *Server) createKnowledgeBase(c *gin.Context) {
	var in rag.KnowledgeBaseInput
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.checkBaseURL(c, "embedding_base_url", in.BaseURL); err != nil {
		s.fail(c, err)
		return
	}
	kb, err := s.rag.Catalog.CreateKnowledgeBase(c.Request.Context(), caller(c).TenantID, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", s.kbURL(kb.ID))
	c.JSON(http.StatusCreated, kb)
}

func (s *Server) getKnowledgeBase(c *gin.Context) {
	kb, ok := s.kbOf(c)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, kb)
}

// kbUpdate is PATCH /knowledge-bases/{id}'s answer: the knowledge base and,
// when the change made its chunks stale, the rag.reindex job re-embedding
// them (null otherwise).
type kbUpdate struct {
	KnowledgeBase rag.KnowledgeBase `json:"knowledge_base"`
	ReindexJob    *jobs.Job         `json:"reindex_job"`
}

// updateKnowledgeBase changes a knowledge base. A change of how documents
// are indexed (embedding model or size, chunk settings, language) submits
// a rag.reindex job; if that job cannot be submitted (no credits, the
// vector store down) the change is undone, so settings and chunks never
// disagree for want of a job.
func (s *Server) updateKnowledgeBase(c *gin.Context) {
	old, ok := s.kbOf(c)
	if !ok {
		return
	}
	var in rag.KnowledgeBaseInput
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.checkBaseURL(c, "embedding_base_url", in.BaseURL); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	tenant := caller(c).TenantID
	kb, reindex, err := s.rag.Catalog.UpdateKnowledgeBase(ctx, tenant, old.ID, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := kbUpdate{KnowledgeBase: kb}
	if reindex && kb.DocumentCount > 0 {
		err := s.rag.Store.Err()
		if err == nil {
			var j jobs.Job
			j, err = s.jobs.Submit(ctx, s.ragJob(c, indexing.KindReindex, indexing.ReindexInput{KnowledgeBaseID: kb.ID}, jobOptions{}))
			out.ReindexJob = &j
		}
		if err != nil {
			if _, _, undo := s.rag.Catalog.UpdateKnowledgeBase(context.WithoutCancel(ctx), tenant, old.ID, kbInputOf(old)); undo != nil {
				logger(c, s.log).ErrorContext(ctx, "undo knowledge base change", "knowledge_base_id", old.ID, "err", undo)
			}
			s.fail(c, err)
			return
		}
	}
	c.JSON(http.StatusOK, out)
}

// kbInputOf is the input that sets every writable field back to kb's.
func kbInputOf(kb rag.KnowledgeBase) rag.KnowledgeBaseInput {
	return rag.KnowledgeBaseInput{Name: &kb.Name, Description: &kb.Description, Provider: &kb.Provider, Model: &kb.Model,
		Dimensions: &kb.Dimensions, MaxTokens: &kb.MaxTokens, Overlap: &kb.Overlap, Separators: &kb.Separators,
		Language: &kb.Language, Metadata: &kb.Metadata, BaseURL: &kb.BaseURL}
}

// deleteKnowledgeBase deletes a knowledge base, its documents, their
// chunks and the PDFs uploaded into it.
func (s *Server) deleteKnowledgeBase(c *gin.Context) {
	kb, ok := s.kbOf(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	tenant := caller(c).TenantID
	docs, err := s.rag.Catalog.DocumentIDs(ctx, tenant, kb.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.rag.DeleteKnowledgeBase(ctx, tenant, kb.ID); err != nil {
		s.fail(c, err)
		return
	}
	for _, id := range docs {
		s.deleteUpload(c, tenant, id)
	}
	c.Status(http.StatusNoContent)
}

// deleteUpload removes the PDF uploaded for a document, if there is one.
func (s *Server) deleteUpload(c *gin.Context, tenantID, docID string) {
	if s.files == nil {
		return
	}
	ctx := context.WithoutCancel(c.Request.Context())
	if err := s.files.Delete(ctx, indexing.UploadKey(tenantID, docID)); err != nil {
		logger(c, s.log).WarnContext(ctx, "delete uploaded PDF", "document_id", docID, "err", err)
	}
}

// documentRequest is POST /knowledge-bases/{id}/documents's JSON body.
type documentRequest struct {
	Title      string          `json:"title"`
	SourceType string          `json:"source_type"`
	Content    string          `json:"content"`
	URL        string          `json:"url"`
	PostID     string          `json:"post_id"`
	MediaID    string          `json:"media_id"`
	Metadata   json.RawMessage `json:"metadata"`
	Priority   jobs.Priority   `json:"priority"`
	Webhook    string          `json:"webhook"`
	Events     []string        `json:"webhook_events"`
}

// check names every field that does not fit the source type.
func (r documentRequest) check() error {
	var f problem.FieldErrors
	want := map[string]string{rag.SourceText: "content", rag.SourceMarkdown: "content", rag.SourceURL: "url",
		rag.SourcePost: "post_id", rag.SourcePDF: "media_id"}
	field, known := want[r.SourceType]
	f.Check(!known, "source_type", "must be text, markdown, url, post or pdf (a PDF file is sent as multipart/form-data)")
	given := map[string]bool{"content": r.Content != "", "url": r.URL != "", "post_id": r.PostID != "", "media_id": r.MediaID != ""}
	for name, has := range given {
		switch {
		case known && name == field && !has:
			f.Add(name, "is required for a "+r.SourceType+" document")
		case known && name != field && has:
			f.Add(name, "does not go with source_type "+r.SourceType+"; send "+field)
		}
	}
	return f.Err()
}

// documentAccepted is the answer of the routes that add a document: the
// document, pending, and the job indexing it.
type documentAccepted struct {
	Document rag.Document `json:"document"`
	Job      *jobs.Job    `json:"job"`
}

// addDocument takes JSON (text, Markdown, a URL, a post, a PDF in the
// media) or a multipart PDF upload, creates the document and submits its
// rag.index_document job. Idempotency-Key is handled here for both forms.
func (s *Server) addDocument(c *gin.Context) {
	kb, ok := s.kbOf(c)
	if !ok || !s.vectorReady(c) {
		return
	}
	if strings.HasPrefix(c.ContentType(), "multipart/") {
		s.withDocUpload(c, func(up *docUpload) { s.addUploadedPDF(c, kb, up) })
		return
	}
	key, err := idempotencyKey(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		s.fail(c, jsonProblem(err))
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	run := func() { s.addJSONDocument(c, kb) }
	if key == "" {
		run()
		return
	}
	s.once(c, key, body, run)
}

func (s *Server) addJSONDocument(c *gin.Context, kb rag.KnowledgeBase) {
	var body documentRequest
	if err := bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	if err := body.check(); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	tenant := caller(c).TenantID
	in := rag.DocumentInput{Title: body.Title, SourceType: body.SourceType, Metadata: body.Metadata}
	switch body.SourceType {
	case rag.SourceText, rag.SourceMarkdown:
		in.Content = body.Content
	case rag.SourceURL:
		if err := s.checkFetchURL(c, body.URL); err != nil {
			s.fail(c, err)
			return
		}
		in.SourceRef = body.URL
	case rag.SourcePost:
		post, err := s.content.FindPost(ctx, tenant, body.PostID)
		if p, ok := problem.As(err); ok && p.Kind == problem.NotFound {
			err = fieldProblem("post_id", "names no post of your tenant")
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		in.SourceRef = post.ID
		if in.Title == "" {
			in.Title = post.Title
		}
	case rag.SourcePDF:
		if err := s.checkPDFMedia(ctx, tenant, body.MediaID); err != nil {
			s.fail(c, err)
			return
		}
		in.SourceRef = body.MediaID
	}
	s.createAndIndex(c, kb, in, jobOptions{Priority: body.Priority, Webhook: body.Webhook, Events: body.Events}, nil)
}

// checkPDFMedia checks that mediaID is a PDF in the tenant's media.
func (s *Server) checkPDFMedia(ctx context.Context, tenantID, mediaID string) error {
	m, r, err := s.content.OpenMedia(ctx, tenantID, mediaID)
	if p, ok := problem.As(err); ok && p.Kind == problem.NotFound {
		return fieldProblem("media_id", "names no media file of your tenant")
	}
	if err != nil {
		return err
	}
	_ = r.Close()
	if m.ContentType != "application/pdf" {
		return fieldProblem("media_id", "is "+m.ContentType+", not a PDF")
	}
	return nil
}

// createAndIndex creates the document, runs stored (which puts the
// document's file in place, for an upload), and submits its index job,
// answering 202 with both. If any step after the document was created
// fails, the document and its file are removed again, so nothing is left
// half-made.
func (s *Server) createAndIndex(c *gin.Context, kb rag.KnowledgeBase, in rag.DocumentInput, o jobOptions, stored func(doc rag.Document) error) {
	ctx := c.Request.Context()
	tenant := caller(c).TenantID
	doc, err := s.rag.Catalog.CreateDocument(ctx, tenant, kb.ID, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	j, err := func() (jobs.Job, error) {
		if stored != nil {
			if err := stored(doc); err != nil {
				return jobs.Job{}, err
			}
		}
		return s.jobs.Submit(ctx, s.ragJob(c, indexing.KindIndexDocument, indexing.DocumentInput{DocumentID: doc.ID}, o))
	}()
	if err != nil {
		if stored != nil {
			s.deleteUpload(c, tenant, doc.ID)
		}
		if del := s.rag.Catalog.DeleteDocument(context.WithoutCancel(ctx), tenant, doc.ID); del != nil {
			logger(c, s.log).ErrorContext(ctx, "remove a document whose job was refused", "document_id", doc.ID, "err", del)
		}
		s.fail(c, err)
		return
	}
	c.Header("Location", j.URLs.Self)
	c.JSON(http.StatusAccepted, documentAccepted{Document: doc, Job: &j})
}

// ragJob is the submit request of a RAG route's job.
func (s *Server) ragJob(c *gin.Context, kind string, input any, o jobOptions) jobs.SubmitRequest {
	raw, _ := json.Marshal(input)
	p := caller(c)
	req := jobs.SubmitRequest{TenantID: p.TenantID, CreatedBy: p.ID, Kind: kind, Input: raw,
		Priority: o.Priority, Webhook: o.Webhook, WebhookEvents: o.Events}
	if tp := c.GetHeader("traceparent"); jobs.TraceID(tp) != "" {
		req.TraceParent = tp
	}
	return req
}

// docUpload is a parsed document upload: the PDF and its text fields.
type docUpload struct {
	filePart
	title    string
	metadata json.RawMessage
}

// withDocUpload reads a document upload and runs handle on it (see
// withForm).
func (s *Server) withDocUpload(c *gin.Context, handle func(up *docUpload)) {
	withForm(s, c, s.readDocUpload, handle)
}

// readDocUpload parses the form (file, and optional title and metadata, a
// JSON object), reporting every bad field at once.
func (s *Server) readDocUpload(c *gin.Context) (*docUpload, error) {
	var f problem.FieldErrors
	part, err := s.readFilePart(c, &f, "the PDF")
	if err != nil {
		return nil, err
	}
	up := &docUpload{filePart: part}
	for name, values := range up.form.Value {
		f.Check(len(values) > 1, name, "must be sent once")
		switch name {
		case "title":
			up.title = values[0]
		case "metadata":
			up.metadata = json.RawMessage(values[0])
			var obj map[string]any
			f.Check(json.Unmarshal(up.metadata, &obj) != nil || obj == nil, name, "must be a JSON object")
		case "file":
			f.Add(name, "must be a file part (with a filename), not a text field")
		default:
			f.Add(name, "is not a known field")
		}
	}
	if err := f.Err(); err != nil {
		up.removeAll()
		return nil, err
	}
	return up, nil
}

func (up *docUpload) fingerprint() ([]byte, error) {
	sum, err := up.sum()
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		SHA256          []byte
		Filename, Title string
		Metadata        json.RawMessage
	}{sum, up.file.Filename, up.title, up.metadata})
}

// addUploadedPDF checks that the upload is a PDF, creates the document,
// stores the file under indexing.UploadKey and submits the index job.
func (s *Server) addUploadedPDF(c *gin.Context, kb rag.KnowledgeBase, up *docUpload) {
	if s.files == nil {
		s.fail(c, content.ErrMediaStorageUnavailable)
		return
	}
	if max := s.content.MediaMaxBytes(); up.file.Size > max {
		s.fail(c, content.MediaTooLarge(max))
		return
	}
	f, err := up.file.Open()
	if err != nil {
		s.fail(c, fmt.Errorf("open uploaded file: %w", err))
		return
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	if t := http.DetectContentType(head[:n]); t != "application/pdf" {
		s.fail(c, &problem.Problem{Kind: problem.Unsupported, Code: "not_a_pdf",
			Message: "the uploaded file is " + t + ", not a PDF", Details: map[string]any{"detected_type": t}})
		return
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		s.fail(c, fmt.Errorf("rewind uploaded file: %w", err))
		return
	}
	name := up.file.Filename
	if name == "" {
		name = "upload.pdf"
	}
	in := rag.DocumentInput{Title: up.title, SourceType: rag.SourcePDF, SourceRef: name, Metadata: up.metadata}
	s.createAndIndex(c, kb, in, jobOptions{}, func(doc rag.Document) error {
		_, err := s.files.Put(c.Request.Context(), indexing.UploadKey(caller(c).TenantID, doc.ID), f, s.content.MediaMaxBytes())
		if errors.Is(err, storage.ErrTooLarge) {
			return content.MediaTooLarge(s.content.MediaMaxBytes())
		}
		return err
	})
}

// docStatuses are the values ?status= takes.
var docStatuses = map[string]bool{rag.StatusPending: true, rag.StatusIndexing: true, rag.StatusReady: true, rag.StatusFailed: true}

func (s *Server) listDocuments(c *gin.Context) {
	kb, ok := s.kbOf(c)
	if !ok {
		return
	}
	status := c.Query("status")
	if status != "" && !docStatuses[status] {
		s.fail(c, fieldProblem("status", "must be pending, indexing, ready or failed"))
		return
	}
	listed(s, func(c *gin.Context, page pg.Page) ([]rag.Document, string, error) {
		return s.rag.Catalog.ListDocuments(c.Request.Context(), caller(c).TenantID, kb.ID, status, page)
	})(c)
}

func (s *Server) getDocument(c *gin.Context) {
	kb, ok := s.kbOf(c)
	if !ok {
		return
	}
	doc, ok := s.docOf(c, kb)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, doc)
}

// documentPatch is PATCH /knowledge-bases/{id}/documents/{doc_id}'s body.
type documentPatch struct {
	Metadata json.RawMessage `json:"metadata"`
}

// updateDocument replaces a document's metadata, in the catalog and on its
// chunks, so search filters see it at once.
func (s *Server) updateDocument(c *gin.Context) {
	kb, ok := s.kbOf(c)
	if !ok {
		return
	}
	doc, ok := s.docOf(c, kb)
	if !ok {
		return
	}
	var body documentPatch
	if err := bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	if body.Metadata == nil || string(body.Metadata) == "null" {
		s.fail(c, fieldProblem("metadata", "is required: the document's new metadata, a JSON object"))
		return
	}
	if !s.vectorReady(c) {
		return
	}
	doc, err := s.rag.UpdateDocumentMetadata(c.Request.Context(), caller(c).TenantID, doc.ID, body.Metadata)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, doc)
}

// deleteDocument deletes a document, its chunks and its uploaded PDF.
func (s *Server) deleteDocument(c *gin.Context) {
	kb, ok := s.kbOf(c)
	if !ok {
		return
	}
	doc, ok := s.docOf(c, kb)
	if !ok {
		return
	}
	s.removeDocument(c, doc)
}

func (s *Server) removeDocument(c *gin.Context, doc rag.Document) {
	tenant := caller(c).TenantID
	if err := s.rag.DeleteDocument(c.Request.Context(), tenant, doc.ID); err != nil {
		s.fail(c, err)
		return
	}
	if doc.SourceType == rag.SourcePDF {
		s.deleteUpload(c, tenant, doc.ID)
	}
	c.Status(http.StatusNoContent)
}

// reindexKnowledgeBase submits a rag.reindex job for the knowledge base.
func (s *Server) reindexKnowledgeBase(c *gin.Context) {
	kb, ok := s.kbOf(c)
	if !ok || !s.vectorReady(c) {
		return
	}
	s.accept(c, s.ragJob(c, indexing.KindReindex, indexing.ReindexInput{KnowledgeBaseID: kb.ID}, jobOptions{}))
}

// searchBody reads a search request.
func searchBody(c *gin.Context) (rag.SearchRequest, error) {
	var req rag.SearchRequest
	if err := bindJSON(c, &req); err != nil {
		return req, err
	}
	if _, ok := rag.ParseMode(string(req.Mode)); !ok {
		return req, fieldProblem("mode", "must be semantic, keyword or hybrid")
	}
	return req, nil
}

// searchAnswer is a search's answer: the results, best first, and what
// embedding the query cost.
type searchAnswer struct {
	Results []rag.Result `json:"results"`
	Usage   usageBody    `json:"usage"`
}

// usageBody is ai.Usage with the API's field names.
type usageBody struct {
	Tokens   int `json:"tokens"`
	Requests int `json:"requests"`
}

// writeSearch answers a search, with an empty list rather than null.
func writeSearch(c *gin.Context, resp rag.SearchResponse) {
	out := searchAnswer{Results: resp.Results, Usage: usageBody{Tokens: resp.Usage.Tokens, Requests: resp.Usage.Requests}}
	if out.Results == nil {
		out.Results = []rag.Result{}
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) searchKnowledgeBase(c *gin.Context) {
	kb, ok := s.kbOf(c)
	if !ok {
		return
	}
	req, err := searchBody(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	resp, err := s.rag.SearchKnowledgeBase(c.Request.Context(), caller(c).TenantID, kb.ID, req)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeSearch(c, resp)
}
