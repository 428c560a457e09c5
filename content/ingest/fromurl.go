package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/egress"
	"github.com/kilnhq/kiln/extract/webpage"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
)

// FromURLInput is post.from_url's input. PostID, set by the recrawl route,
// refreshes that post instead of making a new one.
type FromURLInput struct {
	URL     string  `json:"url"`
	Options Options `json:"options"`
	PostID  string  `json:"post_id,omitempty"`
}

func (in *Ingester) fromURLKind() jobs.Kind {
	return jobs.Kind{
		Name:        KindFromURL,
		Description: "Fetch a web page and save its main content (readability-style extraction, sanitised HTML and Markdown, metadata) as a post of the job's site.",
		Schema: json.RawMessage(`{"type":"object","required":["url"],"additionalProperties":false,"properties":{
			"url":{"type":"string","format":"uri","maxLength":2048},
			"options":{"type":"object","additionalProperties":false,"properties":{
				"status":{"enum":["draft","published"]},"tags":{"type":"array","items":{"type":"string"},"maxItems":50}}},
			"post_id":{"type":"string","description":"set by POST /sites/{site}/posts/{id}/recrawl"}}}`),
		Validate:    validateFromURL,
		Price:       2,
		Timeout:     2 * time.Minute,
		MaxAttempts: 3,
		Handler:     in.runFromURL,
	}
}

func validateFromURL(raw json.RawMessage) (json.RawMessage, error) {
	var in FromURLInput
	if err := jobs.StrictDecode(raw, &in); err != nil {
		return nil, err
	}
	var f problem.FieldErrors
	u, err := url.Parse(in.URL)
	f.Check(in.URL == "", "url", "is required")
	f.Check(in.URL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(in.URL) > 2048),
		"url", "must be an absolute http or https URL of at most 2048 characters")
	in.Options.check(&f)
	if err := f.Err(); err != nil {
		return nil, err
	}
	return json.Marshal(in)
}

// runFromURL fetches, extracts and saves, reporting progress on the way.
func (in *Ingester) runFromURL(ctx context.Context, run *jobs.Run) (any, error) {
	var input FromURLInput
	if err := run.Input(&input); err != nil {
		return nil, err
	}
	if run.Job.SiteID == nil {
		return nil, jobs.Permanent("site_required", "post.from_url needs the job's site_id", nil)
	}
	_ = run.Progress(ctx, 5, "fetching "+input.URL)
	art, final, err := in.FetchArticle(ctx, input.URL)
	if err != nil {
		return nil, err
	}
	_ = run.Progress(ctx, 60, "extracted the main content")
	_ = run.Progress(ctx, 80, "saving the post")
	post, err := in.save(ctx, run, input, art, final.String())
	if err != nil {
		return nil, err
	}
	return map[string]any{"post_id": post.ID, "title": post.Title, "url": final.String(), "site_id": post.SiteID}, nil
}

// FetchArticle fetches a web page through the egress client and extracts
// its main content and metadata. It returns the page's final URL (after
// redirects). Its errors are job failures with codes (fetch_failed,
// egress_blocked, no_content, ...), for any kind that reads web pages.
func (in *Ingester) FetchArticle(ctx context.Context, rawURL string) (webpage.Article, *url.URL, error) {
	page, final, err := in.fetch(ctx, rawURL)
	if err != nil {
		return webpage.Article{}, nil, err
	}
	art, err := webpage.Extract(ctx, page, final)
	if errors.Is(err, webpage.ErrNoContent) {
		return art, final, jobs.Permanent("no_content", "the page has no main content to extract", err)
	}
	if err != nil {
		return art, final, jobs.Permanent("extract_failed", "the page could not be extracted", err)
	}
	return art, final, nil
}

// fetch gets the page through the egress client and decodes it to UTF-8,
// returning it with its final URL (after redirects), against which its
// links resolve.
func (in *Ingester) fetch(ctx context.Context, rawURL string) (string, *url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", nil, jobs.Permanent("invalid_url", "the URL cannot be requested", err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1")
	res, err := in.client.Do(req)
	if err != nil {
		return "", nil, fetchFailure(err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		res.Body.Close()
		return "", nil, statusFailure(res.StatusCode)
	}
	ctype := res.Header.Get("Content-Type")
	body, err := in.client.ReadBody(res)
	if err != nil {
		return "", nil, fetchFailure(err)
	}
	if !isHTML(ctype, body) {
		return "", nil, jobs.Permanent("unsupported_content_type",
			fmt.Sprintf("the URL serves %q, not an HTML page; for a PDF use POST /sites/{site}/posts/from-pdf", mediaType(ctype, body)), nil)
	}
	page, err := webpage.Decode(body, ctype)
	if err != nil {
		return "", nil, jobs.Permanent("undecodable_page", "the page's character set cannot be decoded", err)
	}
	return page, res.Request.URL, nil
}

// fetchFailure maps an egress error to the job's error code: refusals
// and oversize pages are permanent, network trouble is retried.
func fetchFailure(err error) error {
	switch code := egress.Code(err); code {
	case egress.CodeBlocked:
		return jobs.Permanent(code, "the URL points at an address Kiln may not reach", err)
	case egress.CodeInvalidURL:
		return jobs.Permanent(code, "the URL is not one Kiln will fetch", err)
	case egress.CodeTooLarge:
		return jobs.Permanent(code, "the page is larger than the 10 MB limit", err)
	case egress.CodeTooManyRedirects:
		return jobs.Permanent(code, "the URL redirects more than 5 times (or in a loop)", err)
	case egress.CodeTimeout:
		return jobs.Retryable("fetch_timeout", "the site did not answer in time", err)
	case egress.CodeUnresolvable:
		return jobs.Retryable(code, "the site's host name does not resolve", err)
	}
	return jobs.Retryable("fetch_failed", "the page could not be fetched", err)
}

// statusFailure maps a non-2xx answer: 4xx (but 408 and 429) is the URL's
// fault and permanent; the rest may pass.
func statusFailure(status int) error {
	msg := fmt.Sprintf("the site answered %d %s", status, http.StatusText(status))
	if status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests {
		return jobs.Permanent("fetch_failed", msg, nil)
	}
	return jobs.Retryable("fetch_failed", msg, nil)
}

// isHTML reports whether the answer is an HTML page: by its declared type,
// or, when none is declared, by its bytes.
func isHTML(ctype string, body []byte) bool {
	t := mediaType(ctype, body)
	return t == "text/html" || t == "application/xhtml+xml"
}

func mediaType(ctype string, body []byte) string {
	if ctype == "" {
		ctype = http.DetectContentType(body)
	}
	t, _, err := mime.ParseMediaType(ctype)
	if err != nil {
		return strings.ToLower(ctype)
	}
	return t
}

// save writes the post: a new one keyed by the job, or the recrawled one.
func (in *Ingester) save(ctx context.Context, run *jobs.Run, input FromURLInput, a webpage.Article, final string) (content.Post, error) {
	p := content.PostInput{
		Title: &a.Title, BodyMarkdown: &a.Markdown, BodyHTML: &a.HTML, Excerpt: &a.Excerpt,
		Author: strPtr(a.Byline), PublishedAt: a.Published, Language: strPtr(a.Language),
		LeadImage: strPtr(a.LeadImage), CanonicalURL: strPtr(a.Canonical),
		Source: &content.PostSource{Type: content.SourceURL, URL: input.URL},
	}
	if p.Title == nil || *p.Title == "" {
		title := final
		p.Title = &title
	}
	meta, _ := json.Marshal(map[string]any{"site_name": a.SiteName, "fetched_url": final, "fetched_at": time.Now().UTC()})
	raw := json.RawMessage(meta)
	p.Metadata = &raw
	return in.savePost(ctx, run, input.PostID, input.Options, p)
}
