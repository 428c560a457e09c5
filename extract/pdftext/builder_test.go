package pdftext

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// testDoc describes a small PDF for tests: its pages' content streams,
// the document information entries, and extra objects (numbered from
// firstExtraObj) the pages' resources may refer to.
type testDoc struct {
	info   map[string]string
	pages  []string
	extra  []string // object bodies
	xobjs  string   // resources /XObject dictionary body, e.g. "/X1 9 0 R"
	annots string   // every page's /Annots array body, e.g. "6 0 R"
	box    string   // media box, default "0 0 612 792"
	header string   // file header, default "%PDF-1.4"
}

// firstExtraObj is the number of the first of testDoc.extra.
const firstExtraObj = 6

// build writes the PDF: catalog 1, pages 2, fonts 3 (F1 Helvetica) and 4
// (F2 Helvetica-Bold), info 5, extra objects, then each page and its
// content.
func (d testDoc) build() []byte {
	box := d.box
	if box == "" {
		box = "0 0 612 792"
	}
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"", // pages, filled below
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
		infoDict(d.info),
	}
	objs = append(objs, d.extra...)
	var kids []string
	for _, content := range d.pages {
		pageNum, contentNum := len(objs)+1, len(objs)+2
		kids = append(kids, fmt.Sprintf("%d 0 R", pageNum))
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [%s] /Contents %d 0 R /Resources << /Font << /F1 3 0 R /F2 4 0 R >> /XObject << %s >> >> /Annots [%s] >>", box, contentNum, d.xobjs, d.annots),
			streamObj("", content))
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(kids))
	return writePDF(d.header, objs)
}

// streamObj returns the body of a stream object with extra dictionary
// entries.
func streamObj(dict, data string) string {
	return fmt.Sprintf("<< /Length %d %s >>\nstream\n%s\nendstream", len(data), dict, data)
}

// infoDict writes a document information dictionary.
func infoDict(info map[string]string) string {
	var b strings.Builder
	b.WriteString("<<")
	for k, v := range info {
		fmt.Fprintf(&b, " /%s (%s)", k, escapePDF(v))
	}
	b.WriteString(" >>")
	return b.String()
}

// writePDF writes numbered objects (from 1) with a cross-reference table.
func writePDF(header string, objs []string) []byte {
	if header == "" {
		header = "%PDF-1.4"
	}
	var b bytes.Buffer
	b.WriteString(header + "\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// escapePDF escapes a literal string's delimiters.
func escapePDF(s string) string {
	return strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`).Replace(s)
}

// text returns content that shows s in font (F1 or F2) at size, with its
// baseline starting at (x, y).
func text(font string, size, x, y float64, s string) string {
	return fmt.Sprintf("BT /%s %g Tf %g %g Td (%s) Tj ET\n", font, size, x, y, escapePDF(s))
}

// lines returns content showing each string on its own line in Helvetica
// at size, from (x, y) down by leading.
func lines(size, x, y, leading float64, ss ...string) string {
	var b strings.Builder
	for i, s := range ss {
		b.WriteString(text("F1", size, x, y-float64(i)*leading, s))
	}
	return b.String()
}

// extractBytes runs Extract on a PDF in memory.
func extractBytes(t *testing.T, data []byte, lim Limits) (Document, error) {
	t.Helper()
	return Extract(context.Background(), bytes.NewReader(data), int64(len(data)), lim, nil)
}

// mustExtract runs Extract and fails the test on an error.
func mustExtract(t *testing.T, data []byte) Document {
	t.Helper()
	doc, err := extractBytes(t, data, Limits{})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	return doc
}
