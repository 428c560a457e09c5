package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kilnhq/kiln/extract/pdftext"
	"github.com/kilnhq/kiln/extract/webpage"
	"github.com/kilnhq/kiln/internal/testdata"
)

// runQuality prints the extraction quality report on the shared corpora
// (web pages against their expected content, PDFs against pdftotext) and
// fails when a target is missed.
func runQuality(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("quality", flag.ContinueOnError)
	dir := fs.String("corpus", "", "folder holding the html/ and pdf/ corpora (default: found as the tests find it, see KILN_TESTDATA)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		html, err := testdata.Dir("html")
		if err != nil {
			return err
		}
		*dir = filepath.Dir(html)
	}
	var missed []string
	html, err := webpage.EvaluateCorpus(ctx, filepath.Join(*dir, "html"))
	if err != nil {
		return fmt.Errorf("html corpus: %w", err)
	}
	fmt.Println("== Web pages: extracted text against expected.html (token precision / recall / F1), titles ==")
	if err := html.Print(os.Stdout); err != nil {
		return err
	}
	missed = append(missed, html.Targets()...)
	pdfs, err := pdftext.EvaluateCorpus(ctx, filepath.Join(*dir, "pdf"))
	if err != nil {
		return fmt.Errorf("pdf corpus: %w", err)
	}
	fmt.Println("\n== PDFs: outcome, time, and token F1 against pdftotext ==")
	if err := pdfs.Print(os.Stdout); err != nil {
		return err
	}
	missed = append(missed, pdfs.Failures()...)
	if len(missed) > 0 {
		return errors.New("quality targets missed:\n  " + strings.Join(missed, "\n  "))
	}
	fmt.Println("\nall quality targets met")
	return nil
}
