package transform

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

// The kinds of revision: what made the change.
const (
	RevisionTransform = "transform" // a post.transform job
	RevisionRestore   = "restore"   // the restore of another revision
)

// Revision is one change to a post's body. BodyMarkdown (and the body
// HTML) are what the change replaced: restoring the revision brings them
// back. Title is the post's title at the time, for display.
type Revision struct {
	ID           string  `json:"id"`
	PostID       string  `json:"post_id"`
	SiteID       string  `json:"site_id"`
	Kind         string  `json:"kind"`
	JobID        *string `json:"job_id"`
	RestoredFrom *string `json:"restored_from"`
	// Note says what the change was ("preset summarize", the instruction,
	// or "restore of rev_…").
	Note         string `json:"note"`
	Title        string `json:"title"`
	BodyMarkdown string `json:"body_markdown"`
	// Characters and NewCharacters are the body's length before and after
	// the change.
	Characters    int       `json:"characters"`
	NewCharacters int       `json:"new_characters"`
	CreatedBy     string    `json:"created_by"`
	CreatedAt     time.Time `json:"created_at"`

	tenantID         string
	bodyHTML         string
	newMarkdown      string
	newHTML          string
	promptTokens     int
	completionTokens int
	applied          bool
}

// Revisions stores posts' revisions and restores them.
type Revisions struct {
	db      *pgxpool.Pool
	content *content.Service
}

// NewRevisions returns the store over db and the content service.
func NewRevisions(db *pgxpool.Pool, c *content.Service) *Revisions {
	return &Revisions{db: db, content: c}
}

// ErrRevisionNotFound: no such revision of the post.
var ErrRevisionNotFound = problem.NotFoundf("revision")

const revisionCols = `id, tenant_id, site_id, post_id, kind, job_id, restored_from, note, title, body_markdown, body_html,
	new_body_markdown, new_body_html, prompt_tokens, completion_tokens, created_by, applied_at IS NOT NULL, created_at`

func scanRevision(row pgx.Row) (Revision, error) {
	var r Revision
	err := row.Scan(&r.ID, &r.tenantID, &r.SiteID, &r.PostID, &r.Kind, &r.JobID, &r.RestoredFrom, &r.Note, &r.Title,
		&r.BodyMarkdown, &r.bodyHTML, &r.newMarkdown, &r.newHTML, &r.promptTokens, &r.completionTokens, &r.CreatedBy,
		&r.applied, &r.CreatedAt)
	r.Characters, r.NewCharacters = utf8.RuneCountInString(r.BodyMarkdown), utf8.RuneCountInString(r.newMarkdown)
	return r, err
}

// change is a revision to record: the post as it is, and what replaces
// its body.
type change struct {
	post                     content.Post
	kind, note, by           string
	jobID, restoredFrom      string
	newMarkdown, newHTML     string
	promptTokens, compTokens int
}

// record inserts the revision of c, once per job: a job's second call
// returns the revision its first call made.
func (r *Revisions) record(ctx context.Context, tenantID string, c change) (Revision, error) {
	id := ids.New("rev")
	_, err := r.db.Exec(ctx, `INSERT INTO post_revisions (id, tenant_id, site_id, post_id, kind, job_id, restored_from, note,
		title, body_markdown, body_html, new_body_markdown, new_body_html, prompt_tokens, completion_tokens, created_by)
		VALUES ($1, $2, $3, $4, $5, nullif($6, ''), nullif($7, ''), $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT (job_id) DO NOTHING`,
		id, tenantID, c.post.SiteID, c.post.ID, c.kind, c.jobID, c.restoredFrom, c.note, c.post.Title, c.post.BodyMarkdown,
		c.post.BodyHTML, c.newMarkdown, c.newHTML, c.promptTokens, c.compTokens, c.by)
	if err != nil {
		return Revision{}, fmt.Errorf("record a revision of post %s: %w", c.post.ID, err)
	}
	if c.jobID != "" {
		rev, ok, err := r.ofJob(ctx, tenantID, c.jobID)
		if err == nil && !ok {
			err = fmt.Errorf("the revision of job %s belongs to another tenant", c.jobID)
		}
		return rev, err
	}
	return r.get(ctx, `tenant_id = $1 AND id = $2`, tenantID, id)
}

// ofJob returns the revision job jobID made, if any.
func (r *Revisions) ofJob(ctx context.Context, tenantID, jobID string) (Revision, bool, error) {
	rev, err := r.get(ctx, `tenant_id = $1 AND job_id = $2`, tenantID, jobID)
	if errors.Is(err, ErrRevisionNotFound) {
		return Revision{}, false, nil
	}
	return rev, err == nil, err
}

// get returns the revision matching where.
func (r *Revisions) get(ctx context.Context, where string, args ...any) (Revision, error) {
	rev, err := scanRevision(r.db.QueryRow(ctx, `SELECT `+revisionCols+` FROM post_revisions WHERE `+where, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return Revision{}, ErrRevisionNotFound
	}
	if err != nil {
		return Revision{}, fmt.Errorf("read revision: %w", err)
	}
	return rev, nil
}

// apply writes the revision's new body into its post, then marks it
// applied. Applying twice writes the same body twice. A post edited since
// the revision was made (its body is neither the one the revision started
// from nor its new one) is left as it is: the change fails post_edited
// instead of overwriting the edit.
func (r *Revisions) apply(ctx context.Context, rev Revision) (content.Post, error) {
	current, err := r.content.GetPost(ctx, rev.tenantID, rev.SiteID, rev.PostID)
	if err != nil {
		return content.Post{}, err
	}
	if current.BodyMarkdown != rev.BodyMarkdown && current.BodyMarkdown != rev.newMarkdown {
		return content.Post{}, problem.New(problem.Conflict, CodePostEdited,
			"the post was edited while it was being changed; its edit is kept: run the change again on the new body")
	}
	post, err := r.content.UpdatePost(ctx, rev.tenantID, rev.SiteID, rev.PostID,
		content.PostInput{BodyMarkdown: &rev.newMarkdown, BodyHTML: &rev.newHTML})
	if err != nil {
		return content.Post{}, err
	}
	if _, err := r.db.Exec(ctx, `UPDATE post_revisions SET applied_at = coalesce(applied_at, now()) WHERE tenant_id = $1 AND id = $2`,
		rev.tenantID, rev.ID); err != nil {
		return content.Post{}, fmt.Errorf("mark revision %s applied: %w", rev.ID, err)
	}
	return post, nil
}

// List lists the revisions of the tenant's post postID of site siteID,
// newest first. Another tenant's post is post_not_found.
func (r *Revisions) List(ctx context.Context, tenantID, siteID, postID string, page pg.Page) ([]Revision, string, error) {
	if _, err := r.content.GetPost(ctx, tenantID, siteID, postID); err != nil {
		return nil, "", err
	}
	rows, err := r.db.Query(ctx, `SELECT `+revisionCols+` FROM post_revisions
		WHERE tenant_id = $1 AND site_id = $2 AND post_id = $3 AND applied_at IS NOT NULL AND ($4 = '' OR id < $4)
		ORDER BY id DESC LIMIT $5`, tenantID, siteID, postID, page.After, page.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list revisions of post %s: %w", postID, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Revision, error) { return scanRevision(row) })
	if err != nil {
		return nil, "", fmt.Errorf("list revisions of post %s: %w", postID, err)
	}
	list, next := pg.Trim(list, page, func(rev Revision) string { return rev.ID })
	return list, next, nil
}

// Restored is what a restore did: the post as it now is, and the revision
// that records the restore (restoring it undoes the restore).
type Restored struct {
	Post     content.Post `json:"post"`
	Revision Revision     `json:"revision"`
}

// Restore puts back the body that revision revID of the tenant's post
// replaced, recording the body it replaces as a new revision (kind
// restore). by is who asked.
func (r *Revisions) Restore(ctx context.Context, tenantID, siteID, postID, revID, by string) (Restored, error) {
	post, err := r.content.GetPost(ctx, tenantID, siteID, postID)
	if err != nil {
		return Restored{}, err
	}
	if !ids.HasPrefix(revID, "rev") {
		return Restored{}, ErrRevisionNotFound
	}
	target, err := r.get(ctx, `tenant_id = $1 AND site_id = $2 AND post_id = $3 AND id = $4 AND applied_at IS NOT NULL`,
		tenantID, siteID, postID, revID)
	if err != nil {
		return Restored{}, err
	}
	rev, err := r.record(ctx, tenantID, change{post: post, kind: RevisionRestore, note: "restore of " + target.ID, by: by,
		restoredFrom: target.ID, newMarkdown: target.BodyMarkdown, newHTML: target.bodyHTML})
	if err != nil {
		return Restored{}, err
	}
	restored, err := r.apply(ctx, rev)
	if err != nil {
		// Nothing was restored: the unapplied revision goes (best effort; it
		// is never listed either way).
		_, _ = r.db.Exec(context.WithoutCancel(ctx), `DELETE FROM post_revisions WHERE tenant_id = $1 AND id = $2 AND applied_at IS NULL`,
			tenantID, rev.ID)
		return Restored{}, err
	}
	rev.applied = true
	return Restored{Post: restored, Revision: rev}, nil
}
