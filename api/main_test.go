package api_test

import (
	"os"
	"testing"

	"github.com/kilnhq/kiln/extract/pdftext"
)

// TestMain lets this test binary serve as the PDF extraction child that
// post.from_pdf starts (pdftext.ExtractIsolated re-executes the running
// binary).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == pdftext.ChildArg {
		os.Exit(pdftext.ChildMain(os.Args[2:], os.Stdout))
	}
	os.Exit(m.Run())
}
