package pdftext

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kilnhq/kiln/internal/testdata"
)

// TestMain lets the test binary act as the extraction child, as the kiln
// binary does: ExtractIsolated re-executes os.Executable, which in tests is
// this binary, with ChildArg first.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ChildArg {
		os.Exit(ChildMain(os.Args[2:], os.Stdout))
	}
	os.Exit(m.Run())
}

// corpusDir is the shared PDF corpus (found by internal/testdata); when it
// is missing, corpusErr says where it was looked for.
var corpusDir, corpusErr = testdata.Dir("pdf")

// corpusFile returns the path of a corpus file, failing the test clearly
// when the corpus is not there.
func corpusFile(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(corpusDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("corpus file %s is missing (%v): %v", name, err, corpusErr)
	}
	return p
}

// Corpus files the tests use.
const (
	simpleFile    = "002-trivial-libre-office-writer_002-trivial-libre-office-writer.pdf"
	fourPagesFile = "004-pdflatex-4-pages_pdflatex-4-pages.pdf"
	encryptedFile = "005-libreoffice-writer-password_libreoffice-writer-password.pdf"
	bookFile      = "009-pdflatex-geotopo_GeoTopo-komprimiert.pdf"
	imageOnlyFile = "019-grayscale-image_grayscale-image.pdf"
	columnsFile   = "026-latex-multicolumn_multicolumn.pdf"
)
