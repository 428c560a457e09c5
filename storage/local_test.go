package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnhq/kiln/storage"
)

func newLocal(t *testing.T) (*storage.Local, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "media")
	l, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, dir
}

// files lists every regular file under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLocalPutOpenDelete(t *testing.T) {
	l, dir := newLocal(t)
	ctx := context.Background()
	key := "ten_1/site_1/med_1"
	n, err := l.Put(ctx, key, strings.NewReader("hello world"), 11)
	if err != nil || n != 11 {
		t.Fatalf("Put = %d, %v; want 11, nil", n, err)
	}
	if got := files(t, dir); len(got) != 1 || got[0] != filepath.FromSlash(key) {
		t.Fatalf("files after Put = %v", got)
	}
	f, err := l.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(6, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(f)
	f.Close()
	if string(rest) != "world" {
		t.Fatalf("read after seek = %q", rest)
	}

	// A second Put replaces the blob.
	if _, err := l.Put(ctx, key, strings.NewReader("bye"), 100); err != nil {
		t.Fatal(err)
	}
	f, _ = l.Open(ctx, key)
	all, _ := io.ReadAll(f)
	f.Close()
	if string(all) != "bye" {
		t.Fatalf("after replace = %q", all)
	}

	if err := l.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Open(ctx, key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Open after Delete = %v, want ErrNotFound", err)
	}
	if err := l.Delete(ctx, key); err != nil {
		t.Fatalf("second Delete = %v, want nil", err)
	}
	if _, err := l.Open(ctx, "ten_1/site_1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Open of a directory = %v, want ErrNotFound", err)
	}
}

func TestLocalKeysCannotEscape(t *testing.T) {
	l, dir := newLocal(t)
	ctx := context.Background()
	outside := t.TempDir()
	for _, key := range []string{"", "../x", "a/../../x", "/etc/passwd", "a//b", "a/b/", ".tmp-x", "a/.hidden", "a\\..\\b", "a/b c", "..", "x/-y", strings.Repeat("a/", 9) + "a"} {
		if storage.ValidKey(key) {
			t.Errorf("ValidKey(%q) = true", key)
		}
		if _, err := l.Put(ctx, key, strings.NewReader("x"), 10); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := l.Open(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Open(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := l.Delete(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	// A symlink planted inside the directory does not lead out of it.
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Put(ctx, "link/x", strings.NewReader("x"), 10); err == nil {
		t.Error("Put through a symlink to outside succeeded")
	}
	if got := files(t, outside); len(got) != 0 {
		t.Errorf("files written outside the store: %v", got)
	}
	for _, key := range []string{"ten_01abc/site_01abc/med_01abc", "a", "A-b_c/d"} {
		if !storage.ValidKey(key) {
			t.Errorf("ValidKey(%q) = false", key)
		}
	}
}

// failingReader yields some bytes, then an error.
type failingReader struct{ sent bool }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.sent {
		return 0, errors.New("connection reset")
	}
	r.sent = true
	return copy(p, bytes.Repeat([]byte("x"), 100)), nil
}

func TestLocalLeavesNothingOnFailure(t *testing.T) {
	l, dir := newLocal(t)
	ctx := context.Background()

	if _, err := l.Put(ctx, "t/s/partial", &failingReader{}, 1000); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("Put of a failing reader = %v", err)
	}
	n, err := l.Put(ctx, "t/s/big", strings.NewReader(strings.Repeat("x", 11)), 10)
	if !errors.Is(err, storage.ErrTooLarge) || n != 0 {
		t.Fatalf("Put over the limit = %d, %v; want ErrTooLarge", n, err)
	}
	if _, err := l.Put(ctx, "t/s/exact", strings.NewReader(strings.Repeat("x", 10)), 10); err != nil {
		t.Fatalf("Put of exactly the limit = %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.Put(canceled, "t/s/canceled", strings.NewReader("x"), 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a canceled context = %v", err)
	}
	if got := files(t, dir); len(got) != 1 || got[0] != filepath.FromSlash("t/s/exact") {
		t.Fatalf("files left = %v, want only t/s/exact", got)
	}
}

func TestNewLocalNeedsADirectory(t *testing.T) {
	if _, err := storage.NewLocal(""); err == nil {
		t.Error("NewLocal(\"\") succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := storage.NewLocal(file); err == nil {
		t.Error("NewLocal over a regular file succeeded")
	}
}
