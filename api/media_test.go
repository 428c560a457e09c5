package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kilnhq/kiln/internal/testkit"
)

// formPart is one part of a multipart upload; a part with a Filename is a
// file, and ContentType is what the client claims it is.
type formPart struct {
	Name, Filename, ContentType string
	Data                        []byte
}

// sendForm posts parts as multipart/form-data to the media of site.
func (b *bundle) sendForm(token, site string, header map[string]string, parts ...formPart) response {
	b.t.Helper()
	return b.sendFormWith(token, "/api/v1/sites/"+site+"/media", header, parts...)
}

// sendFormTo posts a multipart form to path.
func (b *bundle) sendFormTo(token, path string, parts ...formPart) response {
	b.t.Helper()
	return b.sendFormWith(token, path, nil, parts...)
}

func (b *bundle) sendFormWith(token, path string, header map[string]string, parts ...formPart) response {
	b.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disposition := fmt.Sprintf(`form-data; name=%q`, p.Name)
		if p.Filename != "" {
			disposition += fmt.Sprintf(`; filename=%q`, p.Filename)
		}
		h.Set("Content-Disposition", disposition)
		if p.ContentType != "" {
			h.Set("Content-Type", p.ContentType)
		}
		pw, err := w.CreatePart(h)
		testkit.Must(b.t, "create part", err)
		_, err = pw.Write(p.Data)
		testkit.Must(b.t, "write part", err)
	}
	testkit.Must(b.t, "close form", w.Close())
	hr, err := http.NewRequestWithContext(context.Background(), "POST", b.srv.URL+path, &body)
	testkit.Must(b.t, "new request", err)
	hr.Header.Set("Content-Type", w.FormDataContentType())
	hr.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		hr.Header.Set(k, v)
	}
	return b.send(hr)
}

// send does hr and reads the whole answer.
func (b *bundle) send(hr *http.Request) response {
	b.t.Helper()
	res, err := b.srv.Client().Do(hr)
	testkit.Must(b.t, hr.Method+" "+hr.URL.Path, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	testkit.Must(b.t, "read body", err)
	return response{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// upload stores data as filename in site as t, with text fields, and
// fails unless the answer is 201.
func (b *bundle) upload(t tenant, site, filename string, data []byte, fields map[string]string) response {
	b.t.Helper()
	parts := []formPart{{Name: "file", Filename: filename, Data: data}}
	for k, v := range fields {
		parts = append(parts, formPart{Name: k, Data: []byte(v)})
	}
	res := b.sendForm(t.Token, site, nil, parts...)
	if res.Status != http.StatusCreated {
		b.t.Fatalf("upload %s: status %d, want 201\n%s", filename, res.Status, res.Body)
	}
	return res
}

// mediaState returns the number of media rows and the files stored.
func (b *bundle) mediaState() (rows int, files []string) {
	b.t.Helper()
	testkit.Must(b.t, "count media", b.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM media").Scan(&rows))
	err := filepath.WalkDir(b.mediaDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	testkit.Must(b.t, "walk media directory", err)
	return rows, files
}

func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	testkit.Must(t, "encode png", png.Encode(&buf, image.NewNRGBA(image.Rect(0, 0, w, h))))
	return buf.Bytes()
}

func TestMediaUploadViewAndDelete(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	siteID := b.site(acme, "blog")
	raw := testPNG(t, 4, 3)
	// The client says text/plain; the bytes say PNG, and they win.
	res := b.sendForm(acme.Token, "blog", nil,
		formPart{Name: "title", Data: []byte("Logo")},
		formPart{Name: "file", Filename: `../../etc/"logo".txt`, ContentType: "text/plain", Data: raw},
		formPart{Name: "alt_text", Data: []byte("The Acme logo")})
	if res.Status != http.StatusCreated {
		t.Fatalf("upload: %d %s", res.Status, res.Body)
	}
	m := res.JSON(t)
	id := m["id"].(string)
	sum := sha256.Sum256(raw)
	if !strings.HasPrefix(id, "med_") || res.Header.Get("Location") != "http://kiln.test/api/v1/sites/"+siteID+"/media/"+id ||
		m["content_type"] != "image/png" || m["size_bytes"] != float64(len(raw)) || m["sha256"] != hex.EncodeToString(sum[:]) ||
		m["width"] != float64(4) || m["height"] != float64(3) || m["filename"] != "logo.txt" || m["title"] != "Logo" || m["alt_text"] != "The Acme logo" {
		t.Fatalf("uploaded = %v (Location %q)", m, res.Header.Get("Location"))
	}
	path := "/api/v1/sites/blog/media/" + id
	if got := b.expect(http.StatusOK, req{Method: "GET", Path: path, Auth: acme.Token}).JSON(t); got["sha256"] != m["sha256"] {
		t.Fatalf("GET = %v", got)
	}

	view := b.expect(http.StatusOK, req{Method: "GET", Path: path + "/view", Auth: acme.Token})
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	for h, want := range map[string]string{
		"Content-Type": "image/png", "Content-Length": strconv.Itoa(len(raw)), "ETag": etag,
		"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff",
		"Content-Disposition": `inline; filename=logo.txt`, "Accept-Ranges": "bytes",
	} {
		if got := view.Header.Get(h); got != want {
			t.Errorf("view %s = %q, want %q", h, got, want)
		}
	}
	if !bytes.Equal(view.Body, raw) {
		t.Fatal("view did not stream the uploaded bytes")
	}
	part := b.expect(http.StatusPartialContent, req{Method: "GET", Path: path + "/view", Auth: acme.Token, Header: map[string]string{"Range": "bytes=1-3"}})
	if !bytes.Equal(part.Body, raw[1:4]) || part.Header.Get("Content-Range") != fmt.Sprintf("bytes 1-3/%d", len(raw)) {
		t.Fatalf("range: %q, Content-Range %q", part.Body, part.Header.Get("Content-Range"))
	}
	b.expect(http.StatusNotModified, req{Method: "GET", Path: path + "/view", Auth: acme.Token, Header: map[string]string{"If-None-Match": etag}})
	b.expect(http.StatusRequestedRangeNotSatisfiable, req{Method: "GET", Path: path + "/view", Auth: acme.Token, Header: map[string]string{"Range": "bytes=9999-"}})

	up := b.expect(http.StatusOK, req{Method: "PATCH", Path: path, Auth: acme.Token, Body: map[string]any{
		"title": "New", "caption": "A caption", "tags": []string{"brand"}, "metadata": map[string]any{"credit": "me"}}}).JSON(t)
	if up["title"] != "New" || up["caption"] != "A caption" || up["alt_text"] != "The Acme logo" || up["metadata"].(map[string]any)["credit"] != "me" {
		t.Fatalf("updated = %v", up)
	}
	bad := b.expect(http.StatusUnprocessableEntity, req{Method: "PATCH", Path: path, Auth: acme.Token, Body: map[string]any{"filename": "x.exe"}})
	if bad.Fields(t)["filename"] == nil {
		t.Errorf("PATCH filename: %s", bad.Body)
	}
	bad = b.expect(http.StatusUnprocessableEntity, req{Method: "PATCH", Path: path, Auth: acme.Token, Body: map[string]any{"tags": []string{""}, "metadata": "x"}})
	if bad.Fields(t)["tags"] == nil || bad.Fields(t)["metadata"] == nil {
		t.Errorf("PATCH bad tags and metadata: %s", bad.Body)
	}
	if list := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/media", Auth: acme.Token}).JSON(t); len(list["data"].([]any)) != 1 {
		t.Fatalf("list = %v", list)
	}

	b.expect(http.StatusNoContent, req{Method: "DELETE", Path: path, Auth: acme.Token})
	b.expect(http.StatusNotFound, req{Method: "GET", Path: path + "/view", Auth: acme.Token})
	b.expect(http.StatusNotFound, req{Method: "DELETE", Path: path, Auth: acme.Token})
	if rows, files := b.mediaState(); rows != 0 || len(files) != 0 {
		t.Fatalf("after delete: %d rows, files %v", rows, files)
	}
}

func TestMediaUploadLimitIsTheMediaLimit(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	b.site(acme, "blog")
	// Larger than the JSON body limit (64 KiB), within the media limit.
	text := bytes.Repeat([]byte("words "), 20000)
	m := b.upload(acme, "blog", "long.txt", text, nil).JSON(t)
	if m["size_bytes"] != float64(len(text)) || m["content_type"] != "text/plain; charset=utf-8" {
		t.Fatalf("uploaded = %v", m)
	}
	view := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/media/" + m["id"].(string) + "/view", Auth: acme.Token})
	if !bytes.Equal(view.Body, text) || view.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("view: %d bytes, type %q", len(view.Body), view.Header.Get("Content-Type"))
	}
	// JSON routes keep the small limit.
	b.expect(http.StatusRequestEntityTooLarge, req{Method: "POST", Path: "/api/v1/sites/blog/posts", Auth: acme.Token,
		Body: map[string]any{"title": "big", "body_markdown": string(text)}})
}

func TestMediaRefusals(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	b.site(acme, "blog")
	file := func(name, ctype string, data []byte) formPart {
		return formPart{Name: "file", Filename: name, ContentType: ctype, Data: data}
	}
	for name, p := range map[string]formPart{
		"html as png":       file("photo.png", "image/png", []byte("<!doctype html><html><body><script>alert(document.cookie)</script></body></html>")),
		"executable as png": file("photo.png", "image/png", append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 100)...)),
		"svg":               file("logo.svg", "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)),
	} {
		res := b.sendForm(acme.Token, "blog", nil, p)
		if res.Status != http.StatusUnsupportedMediaType || res.ErrorCode(t) != "unsupported_media_type" {
			t.Errorf("%s: %d %s, want 415 unsupported_media_type", name, res.Status, res.Body)
		}
	}
	// One byte over the media limit: the form is read, the store refuses.
	res := b.sendForm(acme.Token, "blog", nil, file("big.txt", "", bytes.Repeat([]byte("a"), testMediaMaxBytes+1)))
	if res.Status != http.StatusRequestEntityTooLarge || res.ErrorCode(t) != "media_too_large" {
		t.Errorf("limit+1 bytes: %d %s, want 413 media_too_large", res.Status, res.Body)
	}
	// A body past the limit and the form's room is refused from its length.
	res = b.sendForm(acme.Token, "blog", nil, file("huge.txt", "", bytes.Repeat([]byte("a"), testMediaMaxBytes+2<<20)))
	if res.Status != http.StatusRequestEntityTooLarge || res.ErrorCode(t) != "media_too_large" {
		t.Errorf("huge body: %d %s, want 413 media_too_large", res.Status, res.Body)
	}
	for name, c := range map[string]struct {
		parts []formPart
		field string
	}{
		"no file":       {[]formPart{{Name: "title", Data: []byte("t")}}, "file"},
		"file as text":  {[]formPart{{Name: "file", Data: []byte("t")}}, "file"},
		"two files":     {[]formPart{file("a.txt", "", []byte("a")), file("b.txt", "", []byte("b"))}, "file"},
		"unknown field": {[]formPart{file("a.txt", "", []byte("a")), {Name: "owner", Data: []byte("x")}}, "owner"},
		"empty file":    {[]formPart{file("a.txt", "", nil)}, "file"},
		"long alt_text": {[]formPart{file("a.txt", "", []byte("a")), {Name: "alt_text", Data: bytes.Repeat([]byte("a"), 1001)}}, "alt_text"},
	} {
		res := b.sendForm(acme.Token, "blog", nil, c.parts...)
		if res.Status != http.StatusUnprocessableEntity || res.Fields(t)[c.field] == nil {
			t.Errorf("%s: %d %s, want 422 naming %s", name, res.Status, res.Body, c.field)
		}
	}
	if res := b.expect(http.StatusBadRequest, req{Method: "POST", Path: "/api/v1/sites/blog/media", Auth: acme.Token,
		Body: map[string]string{"file": "x"}}); res.ErrorCode(t) != "malformed_form" {
		t.Errorf("JSON body: code %q, want malformed_form", res.ErrorCode(t))
	}
	if rows, files := b.mediaState(); rows != 0 || len(files) != 0 {
		t.Fatalf("after refused uploads: %d rows, files %v; want none", rows, files)
	}
}

func TestMediaTenantsRolesAndIdempotency(t *testing.T) {
	b := setup(t)
	acme := b.signup("Acme")
	globex := b.signup("Globex")
	b.site(acme, "blog")
	b.site(globex, "blog")
	id := b.upload(acme, "blog", "a.txt", []byte("Acme's words"), nil).JSON(t)["id"].(string)

	// Globex, through its own site of the same slug, cannot reach Acme's file.
	path := "/api/v1/sites/blog/media/" + id
	b.expect(http.StatusNotFound, req{Method: "GET", Path: path, Auth: globex.Token})
	b.expect(http.StatusNotFound, req{Method: "GET", Path: path + "/view", Auth: globex.Token})
	b.expect(http.StatusNotFound, req{Method: "PATCH", Path: path, Auth: globex.Token, Body: map[string]any{"title": "hijacked"}})
	b.expect(http.StatusNotFound, req{Method: "DELETE", Path: path, Auth: globex.Token})
	if list := b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/media", Auth: globex.Token}).JSON(t); len(list["data"].([]any)) != 0 {
		t.Fatalf("Globex lists Acme's media: %v", list)
	}
	if got := b.expect(http.StatusOK, req{Method: "GET", Path: path, Auth: acme.Token}).JSON(t); got["title"] != "" {
		t.Fatalf("Acme's file changed: %v", got)
	}

	viewer, _ := b.member(acme, "viewer")
	b.expect(http.StatusOK, req{Method: "GET", Path: path + "/view", Auth: viewer})
	b.expect(http.StatusOK, req{Method: "GET", Path: "/api/v1/sites/blog/media", Auth: viewer})
	if res := b.sendForm(viewer, "blog", nil, formPart{Name: "file", Filename: "v.txt", Data: []byte("v")}); res.Status != http.StatusForbidden {
		t.Errorf("viewer upload: %d, want 403", res.Status)
	}
	b.expect(http.StatusForbidden, req{Method: "PATCH", Path: path, Auth: viewer, Body: map[string]any{"title": "v"}})
	b.expect(http.StatusForbidden, req{Method: "DELETE", Path: path, Auth: viewer})

	// A retry with the same Idempotency-Key (and a new multipart boundary)
	// replays the first answer; the same key with another file is refused.
	key := map[string]string{"Idempotency-Key": "upload-once"}
	part := formPart{Name: "file", Filename: "once.txt", Data: []byte("once")}
	first := b.sendForm(acme.Token, "blog", key, part)
	again := b.sendForm(acme.Token, "blog", key, part)
	if first.Status != http.StatusCreated || again.Status != http.StatusCreated || first.JSON(t)["id"] != again.JSON(t)["id"] ||
		again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s then %d %s", first.Status, first.Body, again.Status, again.Body)
	}
	other := b.sendForm(acme.Token, "blog", key, formPart{Name: "file", Filename: "once.txt", Data: []byte("twice")})
	if other.Status != http.StatusUnprocessableEntity || other.ErrorCode(t) != "idempotency_key_reused" {
		t.Fatalf("same key, other file: %d %s", other.Status, other.Body)
	}
	if rows, files := b.mediaState(); rows != 2 || len(files) != 2 {
		t.Fatalf("%d rows, %d files; want Acme's first file and one upload", rows, len(files))
	}
}
