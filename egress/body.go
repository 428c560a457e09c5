package egress

import (
	"fmt"
	"io"
	"net/http"
)

// cappedBody fails with ErrTooLarge once more than max bytes are read.
type cappedBody struct {
	rc   io.ReadCloser
	max  int64
	left int64 // bytes that may still be read; -1 once the cap is exceeded
}

// newCappedBody wraps rc so that reading more than max bytes fails.
func newCappedBody(rc io.ReadCloser, max int64) *cappedBody {
	return &cappedBody{rc: rc, max: max, left: max}
}

// Read reads from the wrapped body, returning ErrTooLarge (wrapped) instead
// of any byte past the cap.
func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.tooLarge()
	}
	// Read one byte more than allowed to tell "exactly max" from "more".
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		n = int(b.left)
		b.left = -1
		return n, b.tooLarge()
	}
	b.left -= int64(n)
	return n, err
}

// Close closes the wrapped body.
func (b *cappedBody) Close() error { return b.rc.Close() }

// tooLarge is the error for reading past the cap.
func (b *cappedBody) tooLarge() error {
	return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, b.max)
}

// ReadAll reads resp's whole body, at most max bytes, and closes it. A body
// longer than max (by its Content-Length or by what is read) gives an error
// wrapping ErrTooLarge. A max of zero or less means DefaultMaxBodyBytes.
func ReadAll(resp *http.Response, max int64) ([]byte, error) {
	defer resp.Body.Close()
	if max <= 0 {
		max = DefaultMaxBodyBytes
	}
	if resp.ContentLength > max {
		return nil, fmt.Errorf("read response body: %w: Content-Length %d, limit %d bytes", ErrTooLarge, resp.ContentLength, max)
	}
	data, err := io.ReadAll(newCappedBody(resp.Body, max))
	if err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	return data, nil
}
