package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/rag"
	"github.com/kilnhq/kiln/rag/indexing"
)

// Agents (a name, a system prompt, a model and knowledge bases) and the
// Cognitor-style routes over their documents: /agents/{id}/knowledge-base
// lists, adds posts to and removes documents from the agent's knowledge
// bases, and /agents/knowledge-base/{doc_id}/compute-rag-index indexes a
// document again.

// agentOf returns the caller's agent named by :id, or answers 404.
func (s *Server) agentOf(c *gin.Context) (rag.Agent, bool) {
	a, err := s.rag.Catalog.GetAgent(c.Request.Context(), caller(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return rag.Agent{}, false
	}
	return a, true
}

func (s *Server) listAgents(c *gin.Context) {
	listed(s, func(c *gin.Context, page pg.Page) ([]rag.Agent, string, error) {
		return s.rag.Catalog.ListAgents(c.Request.Context(), caller(c).TenantID, page)
	})(c)
}

func (s *Server) createAgent(c *gin.Context) {
	var in rag.AgentInput
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	a, err := s.rag.Catalog.CreateAgent(c.Request.Context(), caller(c).TenantID, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", s.cfg.PublicURL+"/api/v1/agents/"+a.ID)
	c.JSON(http.StatusCreated, a)
}

func (s *Server) getAgent(c *gin.Context) {
	a, ok := s.agentOf(c)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, a)
}

func (s *Server) updateAgent(c *gin.Context) {
	a, ok := s.agentOf(c)
	if !ok {
		return
	}
	var in rag.AgentInput
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	a, err := s.rag.Catalog.UpdateAgent(c.Request.Context(), caller(c).TenantID, a.ID, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, a)
}

// deleteAgent deletes the agent; its knowledge bases and documents stay.
func (s *Server) deleteAgent(c *gin.Context) {
	if err := s.rag.Catalog.DeleteAgent(c.Request.Context(), caller(c).TenantID, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// listAgentDocuments lists the documents of all the agent's knowledge
// bases, newest first.
func (s *Server) listAgentDocuments(c *gin.Context) {
	a, ok := s.agentOf(c)
	if !ok {
		return
	}
	listed(s, func(c *gin.Context, page pg.Page) ([]rag.Document, string, error) {
		return s.rag.Catalog.AgentDocuments(c.Request.Context(), caller(c).TenantID, a.ID, page)
	})(c)
}

// agentDocumentFromPost adds a post to the agent's default knowledge base
// (its first, or a new one linked to it when it has none) and submits the
// index job. A post the knowledge base already holds is not added twice:
// its document takes the post's current text and is indexed again.
func (s *Server) agentDocumentFromPost(c *gin.Context) {
	a, ok := s.agentOf(c)
	if !ok || !s.vectorReady(c) {
		return
	}
	ctx := c.Request.Context()
	tenant := caller(c).TenantID
	post, err := s.content.FindPost(ctx, tenant, c.Param("post_id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	kb, err := s.rag.Catalog.AgentDefaultKnowledgeBase(ctx, tenant, a.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	doc, err := s.rag.Catalog.FindDocumentBySource(ctx, tenant, kb.ID, rag.SourcePost, post.ID)
	if errors.Is(err, rag.ErrDocumentNotFound) {
		s.createAndIndex(c, kb, rag.DocumentInput{Title: post.Title, SourceType: rag.SourcePost, SourceRef: post.ID}, jobOptions{}, nil)
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	// Empty content makes the index job read the post again; if the job
	// is refused, the document keeps the text it had.
	if err := s.rag.Catalog.SetDocumentContent(ctx, tenant, doc.ID, "", ""); err != nil {
		s.fail(c, err)
		return
	}
	s.indexAgain(c, doc, func() {
		if err := s.rag.Catalog.SetDocumentContent(context.WithoutCancel(ctx), tenant, doc.ID, "", doc.Content); err != nil {
			logger(c, s.log).ErrorContext(ctx, "restore a document's text", "document_id", doc.ID, "err", err)
		}
	})
}

// indexAgain submits a rag.index_document job for an existing document and
// answers 202 with both; refused runs (when not nil) if the submit fails.
func (s *Server) indexAgain(c *gin.Context, doc rag.Document, refused func()) {
	j, err := s.jobs.Submit(c.Request.Context(), s.ragJob(c, indexing.KindIndexDocument, indexing.DocumentInput{DocumentID: doc.ID}, jobOptions{}))
	if err != nil {
		if refused != nil {
			refused()
		}
		s.fail(c, err)
		return
	}
	c.Header("Location", j.URLs.Self)
	c.JSON(http.StatusAccepted, documentAccepted{Document: doc, Job: &j})
}

// deleteAgentDocument deletes a document of one of the agent's knowledge
// bases, with its chunks.
func (s *Server) deleteAgentDocument(c *gin.Context) {
	a, ok := s.agentOf(c)
	if !ok {
		return
	}
	doc, err := s.rag.Catalog.AgentDocument(c.Request.Context(), caller(c).TenantID, a.ID, c.Param("doc_id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.removeDocument(c, doc)
}

// computeRAGIndex indexes one document again (any of the tenant's).
func (s *Server) computeRAGIndex(c *gin.Context) {
	doc, err := s.rag.Catalog.GetDocument(c.Request.Context(), caller(c).TenantID, c.Param("doc_id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if !s.vectorReady(c) {
		return
	}
	s.indexAgain(c, doc, nil)
}

// searchAgent searches all of the agent's knowledge bases together.
func (s *Server) searchAgent(c *gin.Context) {
	a, ok := s.agentOf(c)
	if !ok {
		return
	}
	req, err := searchBody(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	resp, err := s.rag.SearchAgent(c.Request.Context(), caller(c).TenantID, a.ID, req)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeSearch(c, resp)
}
