package ingest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
)

func TestValidateFromURL(t *testing.T) {
	cases := []struct {
		in     string
		fields []string
	}{
		{`{"url":"https://example.com/a"}`, nil},
		{`{"url":"https://example.com/a","options":{"status":"published","tags":["x"]}}`, nil},
		{`{}`, []string{"url"}},
		{`{"url":"ftp://example.com"}`, []string{"url"}},
		{`{"url":"/relative"}`, []string{"url"}},
		{`{"url":"https://example.com","options":{"status":"live"}}`, []string{"options.status"}},
		{`{"url":"https://example.com","extra":1}`, []string{"input"}},
	}
	for _, c := range cases {
		_, err := validateFromURL(json.RawMessage(c.in))
		if d := cmp.Diff(c.fields, fieldsOf(err)); d != "" {
			t.Errorf("validateFromURL(%s) fields (-want +got):\n%s", c.in, d)
		}
	}
}

func TestValidateFromPDF(t *testing.T) {
	if _, err := validateFromPDF(json.RawMessage(`{"media_id":"med_1"}`)); err != nil {
		t.Errorf("valid input refused: %v", err)
	}
	if d := cmp.Diff([]string{"media_id"}, fieldsOf(mustErr(validateFromPDF(json.RawMessage(`{}`))))); d != "" {
		t.Errorf("missing media_id (-want +got):\n%s", d)
	}
}

func mustErr(_ json.RawMessage, err error) error { return err }

func fieldsOf(err error) []string {
	p, ok := problem.As(err)
	if !ok {
		return nil
	}
	var out []string
	for f := range p.Fields {
		out = append(out, f)
	}
	return out
}

func TestStatusFailure(t *testing.T) {
	cases := map[int]bool{404: false, 403: false, 410: false, 408: true, 429: true, 500: true, 503: true}
	for status, retryable := range cases {
		var f *jobs.Failure
		if !errors.As(statusFailure(status), &f) || f.Retryable != retryable || f.Code != "fetch_failed" {
			t.Errorf("statusFailure(%d) = %+v, want fetch_failed retryable=%v", status, f, retryable)
		}
	}
}

func TestIsHTML(t *testing.T) {
	cases := []struct {
		ctype, body string
		want        bool
	}{
		{"text/html; charset=utf-8", "", true},
		{"application/xhtml+xml", "", true},
		{"application/json", "{}", false},
		{"application/pdf", "%PDF-1.4", false},
		{"", "<!DOCTYPE html><html><body>x</body></html>", true},
		{"", "%PDF-1.7 binary", false},
	}
	for _, c := range cases {
		if got := isHTML(c.ctype, []byte(c.body)); got != c.want {
			t.Errorf("isHTML(%q, %q) = %v", c.ctype, c.body, got)
		}
	}
}

func TestMarkdownHTML(t *testing.T) {
	md := "# Title\n\nFirst para\nwraps here.\n\n## Part <2>\n\n- one\n- two & three\n\nLast."
	want := "<h1>Title</h1>\n<p>First para wraps here.</p>\n<h2>Part &lt;2&gt;</h2>\n<ul>\n<li>one</li>\n<li>two &amp; three</li>\n</ul>\n<p>Last.</p>\n"
	if d := cmp.Diff(want, markdownHTML(md)); d != "" {
		t.Errorf("markdownHTML (-want +got):\n%s", d)
	}
}

func TestExcerptOf(t *testing.T) {
	if got := excerptOf("  First   paragraph\nline two.\n\nSecond."); got != "First paragraph line two." {
		t.Errorf("excerptOf = %q", got)
	}
	long := excerptOf(strings.Repeat("word ", 100))
	if r := []rune(long); len(r) != 300 || string(r[297:]) != "..." {
		t.Errorf("long excerpt = %d runes ending %q", len(r), string(r[len(r)-3:]))
	}
}
