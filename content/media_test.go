package content_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"io"
	"strings"
	"testing"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/testkit"
)

// pngBytes encodes a w×h PNG.
func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	testkit.Must(t, "encode png", png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h))))
	return buf.Bytes()
}

func TestCreateMediaSniffsAndStores(t *testing.T) {
	f := newFixture(t, content.MediaConfig{})
	ctx := context.Background()
	raw := pngBytes(t, 3, 2)
	m, err := f.svc.CreateMedia(ctx, f.acme, f.acmeSite, bytes.NewReader(raw), content.MediaInput{Filename: `..\../secret/"évil".txt`,
		Title: ptr("Logo"), AltText: ptr("A logo"), Tags: &[]string{"brand", " brand "}})
	testkit.Must(t, "create", err)
	sum := sha256.Sum256(raw)
	if m.ContentType != "image/png" || m.SizeBytes != int64(len(raw)) || m.SHA256 != hex.EncodeToString(sum[:]) ||
		m.Width == nil || *m.Width != 3 || *m.Height != 2 || m.Filename != "évil.txt" || m.Title != "Logo" ||
		len(m.Tags) != 1 || m.Tags[0] != "brand" {
		t.Fatalf("media = %+v", m)
	}
	if got := f.files(); len(got) != 1 || got[0] != f.acme+"/"+f.acmeSite+"/"+m.ID {
		t.Fatalf("stored files = %v, want the key tenant/site/id", got)
	}
	got, rc, err := f.svc.OpenMedia(ctx, f.acme, m.ID)
	testkit.Must(t, "open", err)
	stored, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(stored, raw) || got.ID != m.ID {
		t.Fatal("OpenMedia did not return the uploaded bytes")
	}

	md, err := f.svc.CreateMedia(ctx, f.acme, f.acmeSite, strings.NewReader("# Notes\n\nSome *text*.\n"), content.MediaInput{Filename: "notes.md"})
	testkit.Must(t, "create markdown", err)
	txt, err := f.svc.CreateMedia(ctx, f.acme, f.acmeSite, strings.NewReader("plain words\n"), content.MediaInput{})
	testkit.Must(t, "create text", err)
	if md.ContentType != "text/markdown; charset=utf-8" || txt.ContentType != "text/plain; charset=utf-8" || txt.Filename != "file.txt" || md.Width != nil {
		t.Fatalf("text types: %q (%s), %q (%s)", md.ContentType, md.Filename, txt.ContentType, txt.Filename)
	}
	pdf, err := f.svc.CreateMedia(ctx, f.acme, f.acmeSite, strings.NewReader("%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n"), content.MediaInput{Filename: "a.pdf"})
	testkit.Must(t, "create pdf", err)
	if pdf.ContentType != "application/pdf" {
		t.Fatalf("pdf type = %q", pdf.ContentType)
	}
}

func TestCreateMediaRefusesWhatItMustNotStore(t *testing.T) {
	f := newFixture(t, content.MediaConfig{MaxBytes: 1000})
	ctx := context.Background()
	refused := map[string][]byte{
		"html":       []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"),
		"svg":        []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`),
		"elf":        append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 64)...),
		"exe":        append([]byte("MZ\x90\x00"), make([]byte, 128)...),
		"javascript": []byte("#!/usr/bin/env node\nconsole.log(1)\n"),
	}
	for name, raw := range refused {
		_, err := f.svc.CreateMedia(ctx, f.acme, f.acmeSite, bytes.NewReader(raw), content.MediaInput{Filename: "photo.png"})
		if !errors.Is(err, content.ErrUnsupportedMediaType) {
			t.Errorf("%s claiming photo.png: err = %v, want ErrUnsupportedMediaType", name, err)
		}
	}
	_, err := f.svc.CreateMedia(ctx, f.acme, f.acmeSite, strings.NewReader(""), content.MediaInput{})
	if fields(t, err)["file"] == "" {
		t.Errorf("empty file: err = %v", err)
	}
	_, err = f.svc.CreateMedia(ctx, f.acme, f.acmeSite, strings.NewReader(strings.Repeat("a", 1001)), content.MediaInput{})
	if !errors.Is(err, content.MediaTooLarge(0)) {
		t.Errorf("1001 bytes over a 1000-byte limit: err = %v, want media_too_large", err)
	}
	_, err = f.svc.CreateMedia(ctx, f.acme, f.acmeSite, strings.NewReader("x"), content.MediaInput{Metadata: ptr(json.RawMessage(`"no"`))})
	if fields(t, err)["metadata"] == "" {
		t.Errorf("metadata not an object: err = %v", err)
	}
	_, err = f.svc.CreateMedia(ctx, f.acme, f.globSite, strings.NewReader("x"), content.MediaInput{})
	if !isNotFound(err, "site_not_found") {
		t.Errorf("upload to another tenant's site: err = %v, want site_not_found", err)
	}
	if n, files := f.count("media"), f.files(); n != 0 || len(files) != 0 {
		t.Fatalf("after refused uploads: %d rows, files %v; want none", n, files)
	}
	exact, err := f.svc.CreateMedia(ctx, f.acme, f.acmeSite, strings.NewReader(strings.Repeat("a", 1000)), content.MediaInput{})
	testkit.Must(t, "upload of exactly the limit", err)
	if exact.SizeBytes != 1000 || f.svc.MediaMaxBytes() != 1000 {
		t.Fatalf("size %d, limit %d", exact.SizeBytes, f.svc.MediaMaxBytes())
	}
}

func TestCreateMediaRemovesBytesWhenTheRowFails(t *testing.T) {
	f := newFixture(t, content.MediaConfig{})
	// The request ends just as the body is used up: the bytes are stored,
	// the insert fails, and the stored bytes must go too.
	ctx, cancel := context.WithCancel(context.Background())
	body := &cancelAtEOF{r: strings.NewReader(strings.Repeat("text ", 20000)), cancel: cancel}
	_, err := f.svc.CreateMedia(ctx, f.acme, f.acmeSite, body, content.MediaInput{})
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "store media") || body.eofs == 0 {
		t.Fatalf("err = %v (body read to the end %d times), want the insert to fail on the canceled context", err, body.eofs)
	}
	if n, files := f.count("media"), f.files(); n != 0 || len(files) != 0 {
		t.Fatalf("after a failed insert: %d rows, files %v; want none", n, files)
	}
}

// cancelAtEOF cancels its context when r is used up.
type cancelAtEOF struct {
	r      io.Reader
	cancel context.CancelFunc
	eofs   int
}

func (c *cancelAtEOF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		c.eofs++
		c.cancel()
	}
	return n, err
}

func TestMediaUpdateDeleteAndScoping(t *testing.T) {
	f := newFixture(t, content.MediaConfig{})
	ctx := context.Background()
	m, err := f.svc.CreateMedia(ctx, f.acme, f.acmeSite, bytes.NewReader(pngBytes(t, 1, 1)), content.MediaInput{Filename: "a.png"})
	testkit.Must(t, "create", err)
	keep, err := f.svc.CreateMedia(ctx, f.acme, f.acmeSite, strings.NewReader("keep me"), content.MediaInput{})
	testkit.Must(t, "create another", err)

	up, err := f.svc.UpdateMedia(ctx, f.acme, f.acmeSite, m.ID, content.MediaInput{Caption: ptr("A dot"), Tags: &[]string{"x"},
		Metadata: ptr(json.RawMessage(`{"credit":"me"}`))})
	testkit.Must(t, "update", err)
	if up.Caption != "A dot" || up.Filename != "a.png" || up.Tags[0] != "x" || !up.UpdatedAt.After(m.UpdatedAt) {
		t.Fatalf("updated = %+v", up)
	}
	_, err = f.svc.UpdateMedia(ctx, f.acme, f.acmeSite, m.ID, content.MediaInput{AltText: ptr(strings.Repeat("a", 1001)), Tags: &[]string{""}})
	if got := fields(t, err); got["alt_text"] == "" || got["tags"] == "" {
		t.Errorf("fields = %v", got)
	}

	for name, call := range map[string]func() error{
		"get":  func() error { _, err := f.svc.GetMedia(ctx, f.globex, f.globSite, m.ID); return err },
		"open": func() error { _, _, err := f.svc.OpenMedia(ctx, f.globex, m.ID); return err },
		"update": func() error {
			_, err := f.svc.UpdateMedia(ctx, f.globex, f.globSite, m.ID, content.MediaInput{})
			return err
		},
		"delete": func() error { return f.svc.DeleteMedia(ctx, f.globex, f.globSite, m.ID) },
		"other site of the tenant": func() error {
			_, err := f.svc.GetMedia(ctx, f.acme, f.globSite, m.ID)
			return err
		},
	} {
		if err := call(); !isNotFound(err, "media_not_found") {
			t.Errorf("%s as another tenant: err = %v, want media_not_found", name, err)
		}
	}
	list, _, err := f.svc.ListMedia(ctx, f.globex, f.globSite, pg.Page{Limit: 10})
	testkit.Must(t, "list as another tenant", err)
	if len(list) != 0 || len(f.files()) != 2 {
		t.Fatalf("another tenant lists %d files; %d files stored", len(list), len(f.files()))
	}

	testkit.Must(t, "delete", f.svc.DeleteMedia(ctx, f.acme, f.acmeSite, m.ID))
	if files := f.files(); len(files) != 1 || !strings.HasSuffix(files[0], keep.ID) {
		t.Fatalf("files after delete = %v, want only %s", files, keep.ID)
	}
	if err := f.svc.DeleteMedia(ctx, f.acme, f.acmeSite, m.ID); !isNotFound(err, "media_not_found") {
		t.Errorf("second delete: err = %v", err)
	}
	// Deleting the site deletes the bytes of its files too.
	testkit.Must(t, "delete site", f.svc.DeleteSite(ctx, f.acme, f.acmeSite))
	if n, files := f.count("media"), f.files(); n != 0 || len(files) != 0 {
		t.Fatalf("after deleting the site: %d rows, files %v", n, files)
	}
}

func TestMediaWithoutAStore(t *testing.T) {
	db := testkit.NewDB(t)
	svc := content.New(db.Pool, testkit.Logger(t))
	_, err := svc.CreateMedia(context.Background(), "ten_x", "site_x", strings.NewReader("x"), content.MediaInput{})
	if !errors.Is(err, content.ErrMediaStorageUnavailable) || svc.MediaMaxBytes() != content.DefaultMediaMaxBytes {
		t.Fatalf("err = %v, limit %d", err, svc.MediaMaxBytes())
	}
}
