// Package ingest defines the job kinds that turn what users hand Kiln into
// posts: post.from_url fetches a web page through the egress client and
// extracts its main content (extract/webpage); post.from_pdf extracts an
// uploaded PDF (extract/pdftext) in a child process. Both save the post
// through content, keyed by the job, so a retried job makes one post.
package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/egress"
	"github.com/kilnhq/kiln/extract/pdftext"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
)

// Kind names.
const (
	KindFromURL = "post.from_url"
	KindFromPDF = "post.from_pdf"
)

// Config tunes fetching and extraction.
type Config struct {
	// Egress is the outbound client for page fetches: at most 10 MB, 5
	// redirects and 30 s unless set otherwise.
	Egress egress.Config
	// PDF limits pages, bytes and time of one extraction.
	PDF pdftext.Limits
	// MaxExtractions is how many PDF extractions (child processes) run at
	// once in this process; more wait. Zero means one per CPU.
	MaxExtractions int
}

// Ingester runs the kinds.
type Ingester struct {
	cfg     Config
	content *content.Service
	client  *egress.Client
	log     *slog.Logger
	// slots holds one token per running PDF extraction.
	slots chan struct{}
}

// New returns the ingester over the content service.
func New(c *content.Service, log *slog.Logger, cfg Config) *Ingester {
	if cfg.Egress.MaxBodyBytes <= 0 {
		cfg.Egress.MaxBodyBytes = 10 << 20
	}
	if cfg.Egress.MaxRedirects <= 0 {
		cfg.Egress.MaxRedirects = 5
	}
	if cfg.Egress.Timeout <= 0 {
		cfg.Egress.Timeout = 30 * time.Second
	}
	if cfg.MaxExtractions <= 0 {
		cfg.MaxExtractions = runtime.NumCPU()
	}
	return &Ingester{cfg: cfg, content: c, client: egress.New(cfg.Egress), log: log,
		slots: make(chan struct{}, cfg.MaxExtractions)}
}

// Egress returns the client pages are fetched with, for checking a URL
// before a job is submitted.
func (in *Ingester) Egress() *egress.Client { return in.client }

// Kinds returns the kinds to register.
func (in *Ingester) Kinds() []jobs.Kind {
	return []jobs.Kind{in.fromURLKind(), in.fromPDFKind()}
}

// Options are what a caller may choose about the post a kind makes.
type Options struct {
	// Status is draft (the default) or published.
	Status string `json:"status,omitempty"`
	// Tags are given to the post.
	Tags []string `json:"tags,omitempty"`
}

func (o Options) check(f *problem.FieldErrors) {
	f.Check(o.Status != "" && o.Status != content.PostDraft && o.Status != content.PostPublished,
		"options.status", "must be draft or published")
	f.Check(len(o.Tags) > 50, "options.tags", "must have at most 50 tags")
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// savePost applies the caller's options and writes the post: the job's own
// (made once, however often the job runs) or, for a recrawl, postID.
func (in *Ingester) savePost(ctx context.Context, run *jobs.Run, postID string, o Options, p content.PostInput) (content.Post, error) {
	if o.Status != "" {
		p.Status = &o.Status
	}
	if o.Tags != nil {
		p.Tags = &o.Tags
	}
	var post content.Post
	var err error
	if postID != "" {
		post, err = in.content.ReplacePostContent(ctx, run.Job.TenantID, postID, p)
	} else {
		post, err = in.content.SavePostFromJob(ctx, run.Job.TenantID, *run.Job.SiteID, run.Job.ID, p)
	}
	if err != nil {
		if pr, ok := problem.As(err); ok {
			return post, jobs.Permanent(pr.Code, pr.Message, err)
		}
		return post, fmt.Errorf("save post: %w", err)
	}
	return post, nil
}
