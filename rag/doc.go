// Package rag is Kiln's retrieval: knowledge bases, their documents and
// agents; chunking; and a vector store on pgvector with semantic, keyword
// and hybrid search.
//
// # Two databases
//
// The catalog (Catalog: knowledge_bases, kb_documents, agents,
// agent_knowledge_bases; migrations 00220-00229 from Migrations) lives in
// the main database with the tenants, jobs and credits it refers to. The
// vector store (Store: the rag_chunks table, migrated by OpenStore with its
// own goose table rag_goose_db_version) lives at VECTOR_DATABASE_URL,
// which may be the main database or another server. Chunks are derived
// data: documents keep their text in the catalog, so a knowledge base can
// always be rebuilt by reindexing. When the vector database is unreachable
// or lacks pgvector, every Store method returns ErrVectorUnavailable (503
// vector_store_unavailable) and the rest of Kiln, the catalog included,
// runs on.
//
// # The vector store
//
// Knowledge bases choose their embedding model, so vectors differ in size.
// The embedding column is a vector without fixed dimensions, and each size
// gets a partial HNSW index (vector_cosine_ops; halfvec above 2,000
// dimensions) on embedding::vector(N) WHERE dims = N, built once the table
// holds IndexThreshold chunks of that size; queries use the same
// expression. hnsw.ef_search is set per query (SET LOCAL, through
// set_config), and on pgvector 0.8+ hnsw.iterative_scan = relaxed_order so
// filtered queries still fill their limit. Keyword search uses a generated
// tsvector column (the knowledge base's language) with a GIN index; hybrid
// search fuses both rankings by reciprocal rank fusion with k = 60. Writes
// are multi-row INSERTs (PGlite has no COPY) in one transaction per
// document, which replaces the document's chunks atomically. Every query
// filters on the tenant and the knowledge bases.
//
// The store runs unchanged on Postgres with pgvector 0.7+ and on PGlite
// (deploy/dev/pglite), which needs pgx's exec or cache_describe query mode
// and one connection per pool; start.sh's URL says both.
//
// # Using it
//
// Service ties the two together for the API and the jobs: IndexDocument
// (the rag.index_document job), ReindexKnowledgeBase (rag.reindex),
// SearchKnowledgeBase and SearchAgent, and deletes that reach both
// databases. Eval and Bench measure retrieval quality and speed.
package rag
