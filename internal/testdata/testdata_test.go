package testdata

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDirFromEnv(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "html"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvVar, root)
	got, err := Dir("html")
	if err != nil || got != filepath.Join(root, "html") {
		t.Errorf("Dir(html) = %q, %v; want %s", got, err, filepath.Join(root, "html"))
	}
	_, err = Dir("no-such-corpus")
	if err == nil || !strings.Contains(err.Error(), EnvVar) {
		t.Errorf("missing corpus error %v, want one naming %s", err, EnvVar)
	}
}

func TestAbove(t *testing.T) {
	got := above("/a/b")
	want := []string{"/a/b/shared/testdata", "/a/shared/testdata", "/shared/testdata"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("above(/a/b) = %v, want %v", got, want)
	}
}
