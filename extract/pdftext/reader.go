package pdftext

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/ledongthuc/pdf"
)

// openPDF opens a PDF with the parser, classifying failures as encrypted or
// invalid. It forgives two things readers commonly accept and the parser
// does not: a header line with trailing blanks or a version other than 1.x,
// and bytes after the last %%EOF.
func openPDF(r io.ReaderAt, size int64) (rd *pdf.Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			rd, err = nil, codeError(ErrInvalid, "opening the PDF: parser panic: %v", p)
		}
	}()
	head := make([]byte, 16)
	if n, _ := r.ReadAt(head, 0); n < 9 || !bytes.HasPrefix(head, []byte("%PDF-")) {
		return nil, codeError(ErrInvalid, "opening the PDF: the file does not start with %%PDF-")
	}
	rd, err = pdf.NewReader(patchHeader(r, head), trimAfterEOF(r, size))
	if err != nil {
		return nil, classifyOpenError(err)
	}
	return rd, nil
}

// classifyOpenError maps an error from pdf.NewReader to a coded error.
func classifyOpenError(err error) error {
	// The parser reports a needed password with ErrInvalidPassword and
	// encryption it cannot decrypt as "unsupported PDF: encryption ...".
	if errors.Is(err, pdf.ErrInvalidPassword) || strings.Contains(err.Error(), "encryption") {
		return codeError(ErrEncrypted, "opening the PDF: %v", err)
	}
	return codeError(ErrInvalid, "opening the PDF: %v", err)
}

// headerReader presents a file with its first bytes replaced.
type headerReader struct {
	io.ReaderAt
	head []byte
}

// ReadAt reads from the file, overlaying the replaced header bytes.
func (h headerReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := h.ReaderAt.ReadAt(p, off)
	for i := 0; i < n && off+int64(i) < int64(len(h.head)); i++ {
		p[i] = h.head[off+int64(i)]
	}
	return n, err
}

// patchHeader rewrites a header the parser would refuse, "%PDF-1.7 " or
// "%PDF-2.0", as "%PDF-1.7\n" (same length, so offsets stay right).
func patchHeader(r io.ReaderAt, head []byte) io.ReaderAt {
	digit := func(b byte) bool { return b >= '0' && b <= '9' }
	if !digit(head[5]) || head[6] != '.' || !digit(head[7]) {
		return r
	}
	fixed := append([]byte(nil), head[:9]...)
	if head[5] != '1' || head[7] > '7' {
		copy(fixed[5:8], "1.7")
	}
	if fixed[8] == ' ' || fixed[8] == '\t' {
		fixed[8] = '\n'
	}
	if bytes.Equal(fixed, head[:9]) {
		return r
	}
	return headerReader{r, fixed}
}

// trimAfterEOF returns the size of the file up to its last %%EOF marker
// when junk follows it, and size otherwise.
func trimAfterEOF(r io.ReaderAt, size int64) int64 {
	const tail = 4096
	start := max(size-tail, 0)
	buf := make([]byte, size-start)
	n, _ := r.ReadAt(buf, start)
	buf = buf[:n]
	i := bytes.LastIndex(buf, []byte("%%EOF"))
	if i < 0 || len(bytes.TrimSpace(buf[i+5:])) == 0 {
		return size
	}
	return start + int64(i) + 5
}

// maxTreeDepth bounds the nesting of the page tree, which a hostile file
// can make cyclic.
const maxTreeDepth = 64

// pages returns the page dictionaries in order. It fails with ErrTooLarge
// when the tree declares or holds more than maxPages pages, and with
// ErrInvalid when it has none.
func pages(r *pdf.Reader, maxPages int) (out []pdf.Page, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, codeError(ErrInvalid, "reading the page tree: parser panic: %v", p)
		}
	}()
	root := r.Trailer().Key("Root").Key("Pages")
	if n := root.Key("Count").Int64(); n > int64(maxPages) {
		return nil, codeError(ErrTooLarge, "the PDF has %d pages, the limit is %d", n, maxPages)
	}
	budget := 4*maxPages + 64 // tree nodes visited: ends cycles
	if err := walkPages(root, 0, maxPages, &budget, &out); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, codeError(ErrInvalid, "reading the page tree: no pages found")
	}
	return out, nil
}

// walkPages appends the leaves under node to out, depth first.
func walkPages(node pdf.Value, depth, maxPages int, budget *int, out *[]pdf.Page) error {
	*budget--
	if *budget < 0 || depth > maxTreeDepth {
		return codeError(ErrInvalid, "reading the page tree: it is too deep or cyclic")
	}
	kids := node.Key("Kids")
	if node.Key("Type").Name() != "Pages" && kids.Kind() != pdf.Array {
		if len(*out) >= maxPages {
			return codeError(ErrTooLarge, "the PDF has more than %d pages", maxPages)
		}
		*out = append(*out, pdf.Page{V: node})
		return nil
	}
	for i := 0; i < kids.Len(); i++ {
		if kid := kids.Index(i); kid.Kind() == pdf.Dict {
			if err := walkPages(kid, depth+1, maxPages, budget, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// info returns the Title and Author of the document information
// dictionary, trimmed; empty when missing or unreadable.
func info(r *pdf.Reader) (title, author string) {
	defer func() {
		if recover() != nil {
			title, author = "", ""
		}
	}()
	d := r.Trailer().Key("Info")
	return cleanMeta(d.Key("Title").Text()), cleanMeta(d.Key("Author").Text())
}

// cleanMeta trims a metadata string and drops placeholder values that
// producers write when there is no real title or author.
func cleanMeta(s string) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < ' ' {
			return ' '
		}
		return r
	}, s))
	switch strings.ToLower(s) {
	case "untitled", "anonymous", "unknown", "title", "author", "(anonymous)":
		return ""
	}
	return s
}
