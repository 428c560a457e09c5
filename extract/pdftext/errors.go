package pdftext

import (
	"errors"
	"fmt"
)

// Error codes that Extract and ExtractIsolated report. Jobs store them with a
// failed run so a user can be told why a PDF gave no text.
const (
	// CodeEncrypted: the PDF needs a password (or uses an encryption the
	// parser does not support).
	CodeEncrypted = "pdf_encrypted"
	// CodeInvalid: the file is not a PDF, or is malformed or truncated so
	// that the parser failed (parser panics are reported with this code).
	CodeInvalid = "pdf_invalid"
	// CodeNoText: the PDF was read but holds no extractable text, as with a
	// scan without a text layer.
	CodeNoText = "pdf_no_text"
	// CodeTooLarge: the file, its page count or the memory its parsing
	// needs is over the Limits.
	CodeTooLarge = "pdf_too_large"
	// CodeTimeout: extraction did not finish within Limits.Timeout or the
	// context's deadline.
	CodeTimeout = "pdf_timeout"
)

// Sentinel errors, one per code. Errors returned by this package wrap one
// of them, so errors.Is(err, ErrEncrypted) works and Code(err) names it.
var (
	ErrEncrypted = errors.New(CodeEncrypted + ": the PDF is encrypted")
	ErrInvalid   = errors.New(CodeInvalid + ": the file is not a readable PDF")
	ErrNoText    = errors.New(CodeNoText + ": the PDF has no extractable text")
	ErrTooLarge  = errors.New(CodeTooLarge + ": the PDF is over the extraction limits")
	ErrTimeout   = errors.New(CodeTimeout + ": PDF extraction took too long")
)

// codes lists the sentinels in the order Code tests them.
var codes = []struct {
	err  error
	code string
}{
	{ErrEncrypted, CodeEncrypted},
	{ErrInvalid, CodeInvalid},
	{ErrNoText, CodeNoText},
	{ErrTooLarge, CodeTooLarge},
	{ErrTimeout, CodeTimeout},
}

// Code returns the error code (one of the Code constants) that err carries,
// or "" when err is nil or did not come from this package's checks (for
// example a canceled context or an unreadable file path).
func Code(err error) string {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return ""
}

// errorForCode returns the sentinel for code, or nil for an unknown code.
func errorForCode(code string) error {
	for _, c := range codes {
		if c.code == code {
			return c.err
		}
	}
	return nil
}

// codeError wraps a sentinel with the detail of what went wrong while doing
// what, keeping errors.Is(err, sentinel) true.
func codeError(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
