package pdftext

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// ChildArg is the hidden first argument that makes a binary act as the
// extraction child of ExtractIsolated. ExtractIsolated re-executes its own
// binary (os.Executable) as
//
//	<binary> __pdftext -limits <JSON Limits> <path>
//
// and the binary's main must hand such a call to ChildMain before doing
// anything else, writing nothing to stdout itself:
//
//	if len(os.Args) > 1 && os.Args[1] == pdftext.ChildArg {
//		os.Exit(pdftext.ChildMain(os.Args[2:], os.Stdout))
//	}
const ChildArg = "__pdftext"

// childEnv is set in the child's environment. ExtractIsolated refuses to
// run where it is set: a binary that does not hand ChildArg to ChildMain
// would otherwise start its normal work in the child, which could start
// another child, and so on.
const childEnv = "KILN_PDFTEXT_CHILD"

// Timing of the child process.
const (
	// killGrace is how long after the deadline the parent waits for the
	// child's pipes to close once it has killed it.
	killGrace = 2 * time.Second
	// maxChildStderr is how much of the child's stderr is kept to explain
	// a crash.
	maxChildStderr = 16 << 10
)

// childMessage is one JSON value the child writes to stdout: progress
// reports, then a result or an error.
type childMessage struct {
	Progress *childProgress `json:"progress,omitempty"`
	Result   *Document      `json:"result,omitempty"`
	Error    *childError    `json:"error,omitempty"`
}

// childProgress reports a page done.
type childProgress struct {
	Page  int `json:"page"`
	Total int `json:"total"`
}

// childError reports a failed extraction.
type childError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ExtractIsolated extracts the PDF at path like ExtractFile, but in a child
// process: the running binary started again with ChildArg (see there for
// the wiring it needs). The child's memory is limited to lim.MaxMemory
// beyond its start-up footprint; when it runs out the result is a
// pdf_too_large error. When lim.Timeout or ctx's deadline passes first,
// the child is killed and the result is a pdf_timeout error, so a file
// that makes the parser hang costs no more than the timeout. progress, if
// not nil, is called in the calling goroutine as the child reports pages.
func ExtractIsolated(ctx context.Context, path string, lim Limits, progress func(page, total int)) (Document, error) {
	lim = lim.withDefaults()
	if os.Getenv(childEnv) != "" {
		return Document{}, fmt.Errorf("extracting %s in a child process: this process is itself a child (%s is set); its binary must hand %q to pdftext.ChildMain", path, childEnv, ChildArg)
	}
	if err := checkFileSize(path, lim); err != nil {
		return Document{}, err
	}
	exe, err := os.Executable()
	if err != nil {
		return Document{}, fmt.Errorf("finding the binary to run the PDF extraction child: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	doc, err := runChild(ctx, exe, path, lim, progress)
	if ctx.Err() != nil {
		return Document{}, contextError(ctx, lim)
	}
	return doc, err
}

// checkFileSize fails when the file at path is missing or over lim.MaxBytes.
func checkFileSize(path string, lim Limits) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("reading the size of %s: %w", path, err)
	}
	if st.Size() > lim.MaxBytes {
		return codeError(ErrTooLarge, "the file has %d bytes, the limit is %d", st.Size(), lim.MaxBytes)
	}
	return nil
}

// runChild starts the child, relays its progress and returns its answer.
// exec.CommandContext kills the child when ctx ends.
func runChild(ctx context.Context, exe, path string, lim Limits, progress func(int, int)) (Document, error) {
	limits, err := json.Marshal(lim)
	if err != nil {
		return Document{}, fmt.Errorf("encoding the limits for the PDF extraction child: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe, ChildArg, "-limits", string(limits), path)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.WaitDelay = killGrace
	stderr := &capped{max: maxChildStderr}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return Document{}, fmt.Errorf("connecting to the PDF extraction child: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return Document{}, fmt.Errorf("starting the PDF extraction child %s: %w", exe, err)
	}
	answer, readErr := readChild(stdout, progress)
	waitErr := cmd.Wait()
	if answer != nil {
		return answer.doc, answer.err
	}
	return Document{}, childFailure(path, readErr, waitErr, stderr.String())
}

// childAnswer is the child's final message.
type childAnswer struct {
	doc Document
	err error
}

// readChild decodes the child's messages until its result or error. It
// returns nil when the child stopped without either.
func readChild(stdout io.Reader, progress func(int, int)) (*childAnswer, error) {
	dec := json.NewDecoder(stdout)
	for {
		var m childMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		switch {
		case m.Result != nil:
			return &childAnswer{doc: *m.Result}, nil
		case m.Error != nil:
			return &childAnswer{err: m.Error.asError()}, nil
		case m.Progress != nil && progress != nil:
			progress(m.Progress.Page, m.Progress.Total)
		}
	}
}

// asError rebuilds a coded error from the child's report.
func (e *childError) asError() error {
	if s := errorForCode(e.Code); s != nil {
		return fmt.Errorf("%w (in the extraction child): %s", s, strings.TrimPrefix(e.Message, s.Error()+": "))
	}
	return fmt.Errorf("extracting in the child process: %s", e.Message)
}

// childFailure explains a child that exited without an answer: out of
// memory is pdf_too_large, any other crash pdf_invalid.
func childFailure(path string, readErr, waitErr error, stderr string) error {
	tail := strings.TrimSpace(stderr)
	if strings.Contains(stderr, "out of memory") || strings.Contains(stderr, "cannot allocate memory") {
		return codeError(ErrTooLarge, "extracting %s needed more memory than the limit: %s", path, firstLine(tail))
	}
	return codeError(ErrInvalid, "the extraction child for %s stopped without an answer (%v; reading: %v): %s", path, waitErr, readErr, firstLine(tail))
}

// firstLine returns the first line of s.
func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// capped is a writer that keeps the first max bytes written to it.
type capped struct {
	buf bytes.Buffer
	max int
}

// Write keeps what fits and reports everything as written.
func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// String returns what was kept.
func (c *capped) String() string { return c.buf.String() }

// ChildMain runs the extraction child: args are the arguments after
// ChildArg ("-limits", the JSON Limits, and the path). It limits its own
// memory, extracts the file and writes JSON messages to stdout: progress
// reports, then the result or the error. It returns the exit code: 0 when
// an answer was written, 2 for bad arguments.
func ChildMain(args []string, stdout io.Writer) int {
	fs := flag.NewFlagSet(ChildArg, flag.ContinueOnError)
	limits := fs.String("limits", "{}", "extraction limits as JSON")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintf(fs.Output(), "usage: %s -limits JSON PATH\n", ChildArg)
		return 2
	}
	var lim Limits
	if err := json.Unmarshal([]byte(*limits), &lim); err != nil {
		fmt.Fprintf(fs.Output(), "%s: reading -limits: %v\n", ChildArg, err)
		return 2
	}
	lim = lim.withDefaults()
	if err := limitMemory(lim.MaxMemory); err != nil {
		fmt.Fprintf(fs.Output(), "%s: limiting memory: %v\n", ChildArg, err)
	}
	enc := json.NewEncoder(stdout)
	report := func(page, total int) { _ = enc.Encode(childMessage{Progress: &childProgress{page, total}}) }
	doc, err := ExtractFile(context.Background(), fs.Arg(0), lim, report)
	if err != nil {
		_ = enc.Encode(childMessage{Error: &childError{Code: Code(err), Message: err.Error()}})
		return 0
	}
	if err := enc.Encode(childMessage{Result: &doc}); err != nil {
		fmt.Fprintf(fs.Output(), "%s: writing the result: %v\n", ChildArg, err)
		return 1
	}
	return 0
}
