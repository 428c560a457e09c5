package rag

import "context"

// MarkFailed records that a document could not be indexed before its text
// was even had (its URL could not be fetched, its PDF was encrypted), so
// its status tells the caller why.
func (c *Catalog) MarkFailed(ctx context.Context, tenantID, docID, code, message string) error {
	return c.markFailed(ctx, tenantID, docID, DocError{Code: code, Message: message})
}
