package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
)

// tmpPrefix starts the name of a blob being written; ValidKey refuses it,
// so no key ever names an unfinished blob.
const tmpPrefix = ".tmp-"

// Local is a Store over a directory on the local disk. Every file access
// goes through an os.Root, so neither a key nor a symlink inside the
// directory can reach a file outside it.
type Local struct {
	root *os.Root
}

// NewLocal returns a Store over dir, creating it (mode 0700) if needed.
func NewLocal(dir string) (*Local, error) {
	if dir == "" {
		return nil, errors.New("media directory: no path given")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("media directory %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("media directory %s: %w", dir, err)
	}
	return &Local{root: root}, nil
}

// Close releases the directory handle.
func (l *Local) Close() error { return l.root.Close() }

// Put writes r to a temporary file beside key and renames it into place
// once complete, so readers see the whole blob or none.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, max int64) (int64, error) {
	if !ValidKey(key) {
		return 0, fmt.Errorf("put %q: %w", key, ErrInvalidKey)
	}
	dir := path.Dir(key)
	if err := l.root.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("put %s: create directory: %w", key, err)
	}
	tmp := path.Join(dir, tmpPrefix+randomHex())
	n, err := l.write(ctx, tmp, r, max)
	if err == nil {
		err = l.root.Rename(tmp, key)
	}
	if err != nil {
		_ = l.root.Remove(tmp)
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	return n, nil
}

// write copies at most max bytes of r to a new file name, synced to disk;
// one byte more is ErrTooLarge.
func (l *Local) write(ctx context.Context, name string, r io.Reader, max int64) (int64, error) {
	f, err := l.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, io.LimitReader(ctxReader{ctx: ctx, r: r}, max+1))
	if err == nil && n > max {
		err = ErrTooLarge
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// Open opens the blob under key for reading.
func (l *Local) Open(_ context.Context, key string) (io.ReadSeekCloser, error) {
	if !ValidKey(key) {
		return nil, fmt.Errorf("open %q: %w", key, ErrInvalidKey)
	}
	f, err := l.root.Open(key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	if info, err := f.Stat(); err != nil || info.IsDir() {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", key, ErrNotFound)
	}
	return f, nil
}

// Delete removes the blob under key; a missing blob is not an error.
func (l *Local) Delete(_ context.Context, key string) error {
	if !ValidKey(key) {
		return fmt.Errorf("delete %q: %w", key, ErrInvalidKey)
	}
	if err := l.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

func randomHex() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
