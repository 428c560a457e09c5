// Package ragtest gives tests a real vector database: the PGlite server
// (Postgres with pgvector, compiled to WASM) that deploy/dev/pglite/start.sh
// starts once per machine, in memory on TestPort, and leaves running, or the database at
// KILN_TEST_VECTOR_DATABASE_URL when that is set (a Postgres with pgvector).
// Tests share the database and keep apart by tenant: each test takes tenant
// ids of its own (Tenant), whose chunks are deleted when it ends.
package ragtest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/testkit"
	"github.com/kilnhq/kiln/rag"
)

// TestPort is the port of the tests' PGlite server.
const TestPort = "5439"

// URL returns the vector database URL, starting PGlite if it is not
// running. It fails the test, with start.sh's output, when it cannot.
func URL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("KILN_TEST_VECTOR_DATABASE_URL"); u != "" {
		return u
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("ragtest: %v", err)
	}
	script := filepath.Join(root, "deploy", "dev", "pglite", "start.sh")
	cmd := exec.Command("bash", script)
	// Tests get a server of their own, in memory, on a port apart from the
	// development one (5433, whose data lives in one checkout's .kiln): a
	// test server outlives its checkout (CI's clean clone) harmlessly.
	cmd.Env = append(os.Environ(), "PGLITE_PORT="+TestPort, "PGLITE_DATA_DIR=memory://")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ragtest: %s failed: %v\n%s", script, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// repoRoot is the nearest directory above the working directory that
// holds go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Store opens a vector store on the test database (migrating it) and
// closes it when t ends.
func Store(t testing.TB, opts rag.StoreOptions) *rag.Store {
	t.Helper()
	s, err := rag.ConnectStore(context.Background(), URL(t), testkit.Logger(t), opts)
	if err != nil {
		t.Fatalf("ragtest: open vector store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Tenant returns a fresh tenant id whose chunks are deleted when t ends.
func Tenant(t testing.TB, s *rag.Store) string {
	t.Helper()
	id := ids.New("ten")
	t.Cleanup(func() {
		if _, err := s.DeleteTenant(context.Background(), id); err != nil {
			t.Errorf("ragtest: delete chunks of tenant %s: %v", id, err)
		}
	})
	return id
}
