package api

import (
	"crypto/sha256"
	"fmt"
	"io"
	"mime/multipart"

	"github.com/gin-gonic/gin"

	"github.com/kilnhq/kiln/internal/problem"
)

// filePart is a parsed multipart upload's one file (field "file") and its
// form, shared by media uploads and knowledge-base document uploads.
type filePart struct {
	form *multipart.Form
	file *multipart.FileHeader
}

// removeAll deletes the form's temporary files.
func (p filePart) removeAll() { _ = p.form.RemoveAll() }

// sum is the SHA-256 of the uploaded file, for idempotency fingerprints.
func (p filePart) sum() ([]byte, error) {
	f, err := p.file.Open()
	if err != nil {
		return nil, fmt.Errorf("open uploaded file: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("hash uploaded file: %w", err)
	}
	return h.Sum(nil), nil
}

// readFilePart parses the multipart form and checks its one file, adding
// problems to f; what says what the file should be ("the file", "the PDF").
func (s *Server) readFilePart(c *gin.Context, f *problem.FieldErrors, what string) (filePart, error) {
	if err := c.Request.ParseMultipartForm(formMemory); err != nil {
		return filePart{}, s.formProblem(err)
	}
	p := filePart{form: c.Request.MultipartForm}
	files := p.form.File["file"]
	f.Check(len(files) == 0, "file", "is required: send "+what+" in the multipart field file")
	f.Check(len(files) > 1, "file", "must be sent once")
	for name := range p.form.File {
		f.Check(name != "file", name, "is not a known field; only file holds a file")
	}
	if len(files) > 0 {
		p.file = files[0]
	}
	return p, nil
}

// parsedUpload is what withForm needs of a parsed upload.
type parsedUpload interface {
	removeAll()
	fingerprint() ([]byte, error)
}

// withForm reads a multipart upload with read and runs handle on it, once
// per Idempotency-Key: the fingerprint is the file's hash and the fields,
// since the raw body's boundary changes on every retry.
func withForm[T parsedUpload](s *Server, c *gin.Context, read func(*gin.Context) (T, error), handle func(T)) {
	key, err := idempotencyKey(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	up, err := read(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	defer up.removeAll()
	run := func() { handle(up) }
	if key == "" {
		run()
		return
	}
	fp, err := up.fingerprint()
	if err != nil {
		s.fail(c, err)
		return
	}
	s.once(c, key, fp, run)
}
