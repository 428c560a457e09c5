package pdftext

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// readCorpus returns a corpus file's bytes.
func readCorpus(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(corpusFile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestExtractFailures(t *testing.T) {
	simple := readCorpus(t, simpleFile)
	fourPages := readCorpus(t, fourPagesFile)
	garbage := bytes.Repeat([]byte("\x00\xffnot a pdf at all\x13\x37"), 500)
	cases := []struct {
		name string
		data []byte
		lim  Limits
		want string
	}{
		{"truncated", simple[:len(simple)/2], Limits{}, CodeInvalid},
		{"garbage", garbage, Limits{}, CodeInvalid},
		{"garbage after a PDF header", append([]byte("%PDF-1.4\n"), garbage...), Limits{}, CodeInvalid},
		{"empty", nil, Limits{}, CodeInvalid},
		{"encrypted", readCorpus(t, encryptedFile), Limits{}, CodeEncrypted},
		{"image only", readCorpus(t, imageOnlyFile), Limits{}, CodeNoText},
		{"blank page", testDoc{pages: []string{"0 0 m 100 100 l S"}}.build(), Limits{}, CodeNoText},
		{"too many pages", fourPages, Limits{MaxPages: 3}, CodeTooLarge},
		{"too many bytes", fourPages, Limits{MaxBytes: int64(len(fourPages) - 1)}, CodeTooLarge},
		{"timeout", readCorpus(t, bookFile), Limits{Timeout: time.Millisecond}, CodeTimeout},
		{"every page fails", testDoc{pages: []string{`BT /F1 12 Tf 72 700 Td (bad \+ escape) Tj ET`}}.build(), Limits{}, CodeInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, err := extractBytes(t, c.data, c.lim)
			if got := Code(err); got != c.want {
				t.Fatalf("Code = %q (err %v), want %q", got, err, c.want)
			}
			if doc.Text != "" || doc.Markdown != "" {
				t.Errorf("a failed extraction returned text %q", doc.Text)
			}
		})
	}
}

func TestExtractAtLimitsSucceeds(t *testing.T) {
	data := readCorpus(t, fourPagesFile)
	doc, err := extractBytes(t, data, Limits{MaxPages: 4, MaxBytes: int64(len(data))})
	if err != nil {
		t.Fatalf("Extract at exactly the limits: %v", err)
	}
	if doc.Pages != 4 {
		t.Errorf("Pages = %d, want 4", doc.Pages)
	}
}

func TestExtractCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := readCorpus(t, simpleFile)
	_, err := Extract(ctx, bytes.NewReader(data), int64(len(data)), Limits{}, nil)
	if !errors.Is(err, context.Canceled) || Code(err) != "" {
		t.Fatalf("err = %v (code %q), want context.Canceled without a code", err, Code(err))
	}
}

func TestExtractKeepsGoodPagesAfterABadOne(t *testing.T) {
	data := testDoc{pages: []string{
		`BT /F1 12 Tf 72 700 Td (bad \+ escape) Tj ET`,
		text("F1", 12, 72, 700, "The second page is fine."),
	}}.build()
	doc := mustExtract(t, data)
	if doc.Text != "The second page is fine." {
		t.Errorf("Text = %q", doc.Text)
	}
	if d := cmp.Diff([]int{1}, doc.FailedPages); d != "" {
		t.Errorf("FailedPages (-want +got):\n%s", d)
	}
}

func TestExtractProgress(t *testing.T) {
	var got [][2]int
	_, err := ExtractFile(context.Background(), corpusFile(t, fourPagesFile), Limits{}, func(page, total int) {
		got = append(got, [2]int{page, total})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]int{{1, 4}, {2, 4}, {3, 4}, {4, 4}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("progress calls (-want +got):\n%s", d)
	}
}

func TestExtractMetadata(t *testing.T) {
	cases := []struct {
		name          string
		data          []byte
		title, author string
	}{
		{"info dictionary", testDoc{info: map[string]string{"Title": " Annual Report ", "Author": "Ada"},
			pages: []string{text("F1", 11, 72, 700, "Body.")}}.build(), "Annual Report", "Ada"},
		{"placeholder title falls back to the first heading", testDoc{info: map[string]string{"Title": "untitled"},
			pages: []string{text("F2", 20, 72, 720, "Real Title") + lines(11, 72, 690, 13, "Body text that is long enough.", "More body text.")}}.build(), "Real Title", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := mustExtract(t, c.data)
			if doc.Title != c.title || doc.Author != c.author {
				t.Errorf("Title, Author = %q, %q; want %q, %q", doc.Title, doc.Author, c.title, c.author)
			}
		})
	}
}

func TestExtractCorpusMetadata(t *testing.T) {
	doc, err := ExtractFile(context.Background(), corpusFile(t, bookFile), Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Author != "Martin Thoma" || doc.Pages != 117 || doc.Title == "" {
		t.Errorf("Title %q, Author %q, Pages %d; want a title, Martin Thoma, 117", doc.Title, doc.Author, doc.Pages)
	}
}

func TestExtractLayout(t *testing.T) {
	left := lines(10, 72, 650, 12, "Left column starts here and", "goes on with more text until", "it ends.")
	right := lines(10, 320, 650, 12, "Right column follows after", "the left one in reading order", "and ends too.")
	cases := []struct {
		name  string
		pages []string
		want  string
	}{
		{"two columns under a title",
			[]string{text("F2", 18, 200, 720, "Title Across") + left + right},
			"Title Across\n\nLeft column starts here and goes on with more text until it ends.\n\nRight column follows after the left one in reading order and ends too."},
		{"hyphenated word joined, hyphen before a capital kept",
			[]string{lines(11, 72, 700, 13, "an exam-", "ple of the Jean-", "Paul case")},
			"an example of the Jean-Paul case"},
		{"paragraph gap",
			[]string{lines(11, 72, 700, 13, "First paragraph line one", "and line two.") + lines(11, 72, 650, 13, "Second paragraph.")},
			"First paragraph line one and line two.\n\nSecond paragraph."},
		{"glyphs placed one by one stay one word",
			[]string{"BT /F1 12 Tf 72 700 Td (W) Tj 11.3 0 Td (o) Tj 6.7 0 Td (r) Tj 4 0 Td (d) Tj 6.7 0 Td ( ) Tj 3.3 0 Td (t) Tj 3.3 0 Td (w) Tj 8.7 0 Td (o) Tj ET"},
			"Word two"},
		{"word gap without a space character",
			[]string{"BT /F1 12 Tf 72 700 Td (one) Tj 24 0 Td (two) Tj ET"},
			"one two"},
		{"text outside the page is dropped",
			[]string{text("F1", 12, 72, 700, "Inside.") + text("F1", 12, 72, 900, "Outside.")},
			"Inside."},
		{"upright text on a turned page",
			[]string{"BT /F1 12 Tf 0 1 -1 0 300 100 Tm (Turned text reads fine) Tj ET"},
			"Turned text reads fine"},
		{"superscript stays on its line",
			[]string{"BT /F1 12 Tf 72 700 Td (Footnote) Tj /F1 7 Tf 5 Ts (1) Tj /F1 12 Tf 0 Ts ( here) Tj ET"},
			"Footnote1 here"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := mustExtract(t, testDoc{pages: c.pages}.build())
			if d := cmp.Diff(c.want, doc.Text); d != "" {
				t.Errorf("Text (-want +got):\n%s", d)
			}
		})
	}
}

func TestExtractFormXObject(t *testing.T) {
	form := streamObj("/Type /XObject /Subtype /Form /BBox [0 0 300 100] /Matrix [1 0 0 1 72 600] /Resources << /Font << /F1 3 0 R >> >>",
		text("F1", 12, 0, 50, "Drawn by a form."))
	data := testDoc{extra: []string{form}, xobjs: "/X1 6 0 R",
		pages: []string{text("F1", 12, 72, 700, "On the page.") + "q /X1 Do Q"}}.build()
	doc := mustExtract(t, data)
	if want := "On the page.\n\nDrawn by a form."; doc.Text != want {
		t.Errorf("Text = %q, want %q", doc.Text, want)
	}
}

func TestExtractFormFieldValues(t *testing.T) {
	empty := streamObj("/Type /XObject /Subtype /Form /BBox [0 0 100 12]", "/Tx BMC EMC")
	field := "<< /Type /Annot /Subtype /Widget /FT /Tx /Rect [150 696 300 710] /T (name) /V (Alice Example) /DA (/Helv 11 Tf 0 g) /AP << /N 6 0 R >> >>"
	button := "<< /Type /Annot /Subtype /Widget /FT /Btn /Rect [72 600 140 620] /V /Off >>"
	hidden := "<< /Type /Annot /Subtype /Widget /FT /Tx /F 2 /Rect [150 500 300 514] /V (Secret) >>"
	data := testDoc{extra: []string{empty, field, button, hidden}, annots: "7 0 R 8 0 R 9 0 R",
		pages: []string{text("F1", 11, 72, 700, "Name:")}}.build()
	doc := mustExtract(t, data)
	if want := "Name: Alice Example"; doc.Text != want {
		t.Errorf("Text = %q, want %q", doc.Text, want)
	}
}

func TestExtractDropsRunningHeadersAndPageNumbers(t *testing.T) {
	var pages []string
	for i, body := range []string{"Alpha body text.", "Beta body text.", "Gamma body text."} {
		pages = append(pages, text("F1", 9, 72, 760, "ACME Quarterly Report")+
			lines(11, 72, 700, 13, body, "More words on the page.", "And a last line here.")+
			text("F1", 9, 300, 40, string(rune('1'+i))))
	}
	doc := mustExtract(t, testDoc{pages: pages}.build())
	for _, gone := range []string{"ACME", "\n1", "\n2", "\n3"} {
		if strings.Contains(doc.Text, gone) {
			t.Errorf("Text keeps %q:\n%s", gone, doc.Text)
		}
	}
	if !strings.Contains(doc.Text, "Gamma body text.") {
		t.Errorf("Text lost the body:\n%s", doc.Text)
	}
}

func TestExtractMarkdownHeadings(t *testing.T) {
	page := text("F2", 20, 72, 740, "Guide Title") +
		text("F2", 14, 72, 700, "Getting Started") +
		lines(11, 72, 680, 13, "Install the tool and run it.", "It prints a report.") +
		text("F2", 11, 72, 630, "A bold lead line") +
		lines(11, 72, 615, 13, "Text after the bold line.") +
		lines(11, 72, 580, 13, "\x95 first item", "\x95 second item")
	doc := mustExtract(t, testDoc{pages: []string{page}}.build())
	want := strings.Join([]string{
		"# Guide Title",
		"## Getting Started",
		"Install the tool and run it. It prints a report.",
		"### A bold lead line",
		"Text after the bold line.",
		"- first item",
		"- second item",
	}, "\n\n")
	if d := cmp.Diff(want, doc.Markdown); d != "" {
		t.Errorf("Markdown (-want +got):\n%s", d)
	}
}

func TestExtractMultiColumnCorpusFile(t *testing.T) {
	doc, err := ExtractFile(context.Background(), corpusFile(t, columnsFile), Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The first page's left column ends a paragraph with "rutrum." and the
	// right column starts "pellentesque ante.": reading row by row across
	// the columns would interleave them.
	first := strings.Index(doc.Text, "Lorem ipsum dolor sit amet")
	last := strings.Index(doc.Text, "Duis eget orci sit amet orci dignissim rutrum.")
	right := strings.Index(doc.Text, "Vivamus viverra fermentum felis.")
	if first < 0 || last < 0 || right < 0 || !(first < last && last < right) {
		t.Errorf("columns out of order (positions %d, %d, %d):\n%.1500s", first, last, right, doc.Text)
	}
	if !strings.HasPrefix(doc.Markdown, "# Two-Column Document with Lorem Ipsum") {
		t.Errorf("Markdown does not start with the title heading:\n%.300s", doc.Markdown)
	}
	if !strings.Contains(doc.Text, "filled with Lorem Ipsum") {
		t.Errorf("the fi ligature of the built-in font encoding was lost:\n%.500s", doc.Text)
	}
}

func TestOpenForgivesHeaderAndTrailingJunk(t *testing.T) {
	page := []string{text("F1", 12, 72, 700, "Still readable.")}
	cases := []struct {
		name string
		data []byte
	}{
		{"blank after the version", testDoc{header: "%PDF-1.7 ", pages: page}.build()},
		{"version 2.0", testDoc{header: "%PDF-2.0", pages: page}.build()},
		{"junk after %%EOF", append(testDoc{pages: page}.build(), bytes.Repeat([]byte("junk "), 50)...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if doc := mustExtract(t, c.data); doc.Text != "Still readable." {
				t.Errorf("Text = %q", doc.Text)
			}
		})
	}
}
