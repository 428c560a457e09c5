// Package testdata finds the shared corpora of real documents (web pages
// and PDFs with their expected content) that extraction tests, the quality
// report and the RAG eval measure against. They live outside the
// repository, in shared/testdata beside the project's checkout.
package testdata

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// EnvVar names the variable that points at the corpora explicitly.
const EnvVar = "KILN_TESTDATA"

// Dir returns the folder sub (say "html" or "pdf") of the corpora. It
// looks, in order, at $KILN_TESTDATA; at shared/testdata in each folder
// above the current one (a checkout at /work/main finds /work/shared); and,
// for a clone of a local checkout (as CI makes), the same above the clone's
// origin.
func Dir(sub string) (string, error) {
	var tried []string
	for _, root := range candidates() {
		dir := filepath.Join(root, sub)
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir, nil
		}
		tried = append(tried, dir)
	}
	return "", fmt.Errorf("the %s corpus is not there: set %s to the shared testdata folder (tried %s)",
		sub, EnvVar, strings.Join(tried, ", "))
}

// candidates lists the possible testdata folders, most explicit first.
func candidates() []string {
	var out []string
	if v := os.Getenv(EnvVar); v != "" {
		out = append(out, v)
	}
	if wd, err := os.Getwd(); err == nil {
		out = append(out, above(wd)...)
	}
	if origin, err := localOrigin(); err == nil {
		out = append(out, above(origin)...)
	}
	return out
}

// above returns shared/testdata in dir and each folder above it.
func above(dir string) []string {
	var out []string
	for {
		out = append(out, filepath.Join(dir, "shared", "testdata"))
		parent := filepath.Dir(dir)
		if parent == dir {
			return out
		}
		dir = parent
	}
}

// localOrigin is the path of the git remote origin when it is a folder on
// this machine.
func localOrigin() (string, error) {
	raw, err := exec.Command("git", "remote", "get-url", "origin").Output()
	if err != nil {
		return "", fmt.Errorf("read git origin: %w", err)
	}
	origin := strings.TrimPrefix(strings.TrimSpace(string(raw)), "file://")
	if !filepath.IsAbs(origin) {
		return "", errors.New("origin is not a local path")
	}
	return origin, nil
}
