// Package pdftext turns a PDF into clean plain text and Markdown for Kiln's
// post.from_pdf job and for knowledge-base documents.
//
// Extraction reads each page's content stream with github.com/ledongthuc/pdf
// (which parses the file, its objects, streams and font encodings) and places
// every glyph on the page itself, so that it knows each glyph's position,
// size and width. From those it rebuilds the reading order (rows, and
// columns where the page has them), spaces words, repairs hyphenation at
// line ends, joins lines into paragraphs, finds headings from font size and
// drops running headers, footers and page numbers.
//
// The parser panics on malformed input and can loop or allocate without
// bound on hostile files. Extract recovers every panic (per page, so one bad
// page does not lose the rest) and runs under a deadline, but a goroutine
// stuck inside the parser cannot be stopped. ExtractIsolated therefore runs
// the same extraction in a child process with a memory limit and kills it
// when the deadline passes; workers that take PDFs from users should use it.
//
// Failures carry one of the Code constants (pdf_encrypted, pdf_invalid,
// pdf_no_text, pdf_too_large, pdf_timeout); Code(err) names it.
//
// EvaluateCorpus measures extraction against pdftotext (poppler-utils) over
// a folder of PDFs, for Kiln's quality command and tests.
package pdftext
