// Package storage owns where media bytes live. Content decides what a file
// is and records it in Postgres; this package only keeps opaque blobs under
// keys that content generates (tenant/site/media id), never from a user's
// filename.
//
// Store is the contract. Local keeps blobs in a directory on disk; an
// S3-compatible object store can implement the same interface (Put as a
// PutObject of at most max bytes, Open as a ranged GetObject behind a
// ReadSeeker, Delete as DeleteObject), so content never changes when the
// bytes move.
package storage

import (
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
)

// Store keeps blobs under keys.
type Store interface {
	// Put stores the bytes of r under key, replacing any blob there, and
	// returns how many it stored. More than max bytes is ErrTooLarge, and
	// then (as on any error) nothing is left under key: a blob is visible
	// only once it is complete.
	Put(ctx context.Context, key string, r io.Reader, max int64) (int64, error)
	// Open returns the blob under key; ErrNotFound when there is none. The
	// caller closes it.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, error)
	// Delete removes the blob under key. Deleting a key that holds nothing
	// is not an error, so a cleanup can be retried.
	Delete(ctx context.Context, key string) error
}

// Errors callers branch on.
var (
	// ErrTooLarge means the blob had more bytes than Put's max.
	ErrTooLarge = errors.New("storage: blob is larger than the limit")
	// ErrNotFound means no blob is stored under the key.
	ErrNotFound = errors.New("storage: no blob under this key")
	// ErrInvalidKey means the key is not one ValidKey accepts.
	ErrInvalidKey = errors.New("storage: invalid key")
)

// segment is one part of a key: letters, digits, "_" and "-", and not
// starting with "-" or "." so no segment is "." or ".." or a hidden file.
var segment = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$`)

// ValidKey reports whether key is 1 to 8 "/"-separated segments of
// letters, digits, "_" and "-". Such a key cannot climb out of a store's
// root, name a hidden or temporary file, or be absolute.
func ValidKey(key string) bool {
	parts := strings.Split(key, "/")
	if len(parts) > 8 {
		return false
	}
	for _, p := range parts {
		if !segment.MatchString(p) {
			return false
		}
	}
	return true
}

// ctxReader stops a copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
