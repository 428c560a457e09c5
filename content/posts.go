package content

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/internal/slug"
)

// The statuses of a post.
const (
	PostDraft     = "draft"
	PostPublished = "published"
)

// The kinds of source a post's content comes from.
const (
	SourceURL    = "url"
	SourcePDF    = "pdf"
	SourceManual = "manual"
)

// Limits on post fields.
const (
	maxTitle   = 500
	maxExcerpt = 5000
	maxAuthor  = 200
	maxBody    = 8 << 20
	maxTags    = 50
	maxTag     = 100
	maxURL     = 2048
)

// Post is an article of a site. Its slug is unique in the site.
type Post struct {
	ID           string          `json:"id"`
	SiteID       string          `json:"site_id"`
	Title        string          `json:"title"`
	Slug         string          `json:"slug"`
	BodyMarkdown string          `json:"body_markdown"`
	BodyHTML     string          `json:"body_html"`
	Excerpt      string          `json:"excerpt"`
	Author       string          `json:"author"`
	PublishedAt  *time.Time      `json:"published_at"`
	Language     string          `json:"language"`
	LeadImage    string          `json:"lead_image"`
	CanonicalURL string          `json:"canonical_url"`
	Tags         []string        `json:"tags"`
	Status       string          `json:"status"`
	Source       PostSource      `json:"source"`
	Metadata     json.RawMessage `json:"metadata"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

// PostSource says where a post's content came from: a web page (url), a
// PDF (url or an uploaded media file) or a person (manual).
type PostSource struct {
	Type    string `json:"type"`
	URL     string `json:"url,omitempty"`
	MediaID string `json:"media_id,omitempty"`
}

// PostInput holds a post's writable fields; nil leaves a field unchanged
// on update and takes the default on create. BodyHTML is sanitised on
// every write.
type PostInput struct {
	Title        *string          `json:"title"`
	Slug         *string          `json:"slug"`
	BodyMarkdown *string          `json:"body_markdown"`
	BodyHTML     *string          `json:"body_html"`
	Excerpt      *string          `json:"excerpt"`
	Author       *string          `json:"author"`
	PublishedAt  *time.Time       `json:"published_at"`
	Language     *string          `json:"language"`
	LeadImage    *string          `json:"lead_image"`
	CanonicalURL *string          `json:"canonical_url"`
	Tags         *[]string        `json:"tags"`
	Status       *string          `json:"status"`
	Source       *PostSource      `json:"source"`
	Metadata     *json.RawMessage `json:"metadata"`
}

// PostFilter narrows a list of posts; zero fields match everything.
type PostFilter struct {
	Status     string
	SourceType string
	Language   string
	// CreatedAfter is inclusive, CreatedBefore exclusive.
	CreatedAfter  *time.Time
	CreatedBefore *time.Time
}

// ErrPostSlugTaken is returned when another post of the site has the slug.
var ErrPostSlugTaken = problem.New(problem.Conflict, "slug_taken", "another post of this site has this slug; choose another")

// errJobPostExists means the insert met the post of the same job.
var errJobPostExists = errors.New("a post of this job exists")

// Check reports every filter value that is not allowed.
func (f PostFilter) Check() error {
	var fe problem.FieldErrors
	fe.Check(f.Status != "" && f.Status != PostDraft && f.Status != PostPublished, "status", "must be draft or published")
	fe.Check(f.SourceType != "" && !validSourceType(f.SourceType), "source_type", "must be url, pdf or manual")
	fe.Check(f.Language != "" && !languagePattern.MatchString(f.Language), "language", "must be a BCP 47 tag such as en or pt-BR")
	return fe.Err()
}

func (in PostInput) check(create bool) error {
	var f problem.FieldErrors
	f.Check(create && in.Title == nil, "title", "is required")
	f.Check(in.Title != nil && (strings.TrimSpace(*in.Title) == "" || utf8.RuneCountInString(*in.Title) > maxTitle), "title", "must be 1 to 500 characters")
	f.Check(in.Slug != nil && !slug.Valid(*in.Slug), "slug", "must be lowercase letters, digits and inner hyphens, at most 63 characters")
	f.Check(in.BodyMarkdown != nil && len(*in.BodyMarkdown) > maxBody, "body_markdown", "must be at most 8 MiB")
	f.Check(in.BodyHTML != nil && len(*in.BodyHTML) > maxBody, "body_html", "must be at most 8 MiB")
	f.Check(in.Excerpt != nil && utf8.RuneCountInString(*in.Excerpt) > maxExcerpt, "excerpt", "must be at most 5000 characters")
	f.Check(in.Author != nil && utf8.RuneCountInString(*in.Author) > maxAuthor, "author", "must be at most 200 characters")
	f.Check(in.Language != nil && !languagePattern.MatchString(*in.Language), "language", "must be a BCP 47 tag such as en or pt-BR")
	f.Check(in.LeadImage != nil && *in.LeadImage != "" && !httpURL(*in.LeadImage) && !ids.HasPrefix(*in.LeadImage, "med"),
		"lead_image", "must be an absolute http or https URL or a media id (med_…)")
	f.Check(in.CanonicalURL != nil && *in.CanonicalURL != "" && !httpURL(*in.CanonicalURL), "canonical_url", "must be an absolute http or https URL")
	f.Check(in.Status != nil && *in.Status != PostDraft && *in.Status != PostPublished, "status", "must be draft or published")
	if in.Tags != nil {
		checkTags(&f, "tags", *in.Tags)
	}
	if in.Source != nil {
		in.Source.check(&f)
	}
	if in.Metadata != nil {
		checkMetadata(&f, "metadata", *in.Metadata)
	}
	return f.Err()
}

func (src PostSource) check(f *problem.FieldErrors) {
	f.Check(!validSourceType(src.Type), "source.type", "must be url, pdf or manual")
	f.Check(src.URL != "" && !httpURL(src.URL), "source.url", "must be an absolute http or https URL")
	f.Check(src.Type == SourceURL && src.URL == "", "source.url", "is required when source.type is url")
	f.Check(src.Type == SourcePDF && src.URL == "" && src.MediaID == "", "source.media_id", "is required when source.type is pdf and there is no source.url")
	f.Check(src.MediaID != "" && !ids.HasPrefix(src.MediaID, "med"), "source.media_id", "must be a media id (med_…)")
}

func validSourceType(t string) bool { return t == SourceURL || t == SourcePDF || t == SourceManual }

// httpURL reports whether raw is an absolute http or https URL.
func httpURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && len(raw) <= maxURL && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func checkTags(f *problem.FieldErrors, field string, tags []string) {
	f.Check(len(tags) > maxTags, field, "must hold at most 50 tags")
	for _, t := range tags {
		f.Check(strings.TrimSpace(t) == "" || utf8.RuneCountInString(t) > maxTag, field, "must hold tags of 1 to 100 characters")
	}
}

func checkMetadata(f *problem.FieldErrors, field string, raw json.RawMessage) {
	var obj map[string]any
	f.Check(json.Unmarshal(raw, &obj) != nil || obj == nil, field, "must be a JSON object")
}

// cleanTags trims tags and drops repeats, keeping the first order.
func cleanTags(tags *[]string) *[]string {
	if tags == nil {
		return nil
	}
	out := []string{}
	seen := map[string]bool{}
	for _, t := range *tags {
		t = strings.TrimSpace(t)
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return &out
}

// prepare trims the title and tags and sanitises body_html.
func (s *Service) prepare(in PostInput) PostInput {
	if in.Title != nil {
		t := strings.TrimSpace(*in.Title)
		in.Title = &t
	}
	if in.BodyHTML != nil {
		h := s.html.Sanitize(*in.BodyHTML)
		in.BodyHTML = &h
	}
	in.Tags = cleanTags(in.Tags)
	return in
}

const postCols = `id, site_id, title, slug, body_markdown, body_html, excerpt, author, published_at, language,
	lead_image, canonical_url, tags, status, source_type, source_url, coalesce(source_media_id, ''), metadata, created_at, updated_at`

func scanPost(row pgx.Row) (Post, error) {
	var p Post
	err := row.Scan(&p.ID, &p.SiteID, &p.Title, &p.Slug, &p.BodyMarkdown, &p.BodyHTML, &p.Excerpt, &p.Author, &p.PublishedAt,
		&p.Language, &p.LeadImage, &p.CanonicalURL, &p.Tags, &p.Status, &p.Source.Type, &p.Source.URL, &p.Source.MediaID,
		&p.Metadata, &p.CreatedAt, &p.UpdatedAt)
	if p.Tags == nil {
		p.Tags = []string{}
	}
	return p, err
}

// CreatePost creates a post in the tenant's site siteID. Without a slug,
// one is made from the title, with a number appended if the site has it.
func (s *Service) CreatePost(ctx context.Context, tenantID, siteID string, in PostInput) (Post, error) {
	return s.insertPost(ctx, tenantID, siteID, "", in)
}

// SavePostFromJob creates the post of job jobID in the tenant's site, or,
// when the job made one already (it ran again after a crash), replaces
// that post's content as ReplacePostContent does: a job makes one post.
func (s *Service) SavePostFromJob(ctx context.Context, tenantID, siteID, jobID string, in PostInput) (Post, error) {
	if jobID == "" {
		return Post{}, errors.New("save post of a job: no job id")
	}
	for range 2 {
		var postID string
		err := s.db.QueryRow(ctx, `SELECT id FROM posts WHERE tenant_id = $1 AND site_id = $2 AND source_job_id = $3`,
			tenantID, siteID, jobID).Scan(&postID)
		if err == nil {
			return s.ReplacePostContent(ctx, tenantID, postID, in)
		}
		if !isNoRows(err) {
			return Post{}, fmt.Errorf("find post of job %s: %w", jobID, err)
		}
		p, err := s.insertPost(ctx, tenantID, siteID, jobID, in)
		if !errors.Is(err, errJobPostExists) {
			return p, err
		}
	}
	return Post{}, fmt.Errorf("save post of job %s: the job's post belongs to another site or tenant", jobID)
}

// insertPost inserts a post made by jobID (or by hand, when empty). A
// generated slug that a concurrent insert took is generated again.
func (s *Service) insertPost(ctx context.Context, tenantID, siteID, jobID string, in PostInput) (Post, error) {
	if err := in.check(true); err != nil {
		return Post{}, err
	}
	if err := s.checkMediaRefs(ctx, tenantID, siteID, in); err != nil {
		return Post{}, err
	}
	in = s.prepare(in)
	src := PostSource{Type: SourceManual}
	if in.Source != nil {
		src = *in.Source
	}
	for attempt := 0; ; attempt++ {
		postSlug := in.Slug
		if in.Slug == nil {
			free, err := s.freePostSlug(ctx, tenantID, siteID, slug.Make(*in.Title, "post"))
			if err != nil {
				return Post{}, err
			}
			postSlug = &free
		}
		p, err := s.insertPostRow(ctx, tenantID, siteID, jobID, *postSlug, in, src)
		if errors.Is(err, ErrPostSlugTaken) && in.Slug == nil && attempt < 3 {
			continue
		}
		return p, err
	}
}

// insertPostRow inserts a prepared post into the tenant's site; no such
// site is site_not_found.
func (s *Service) insertPostRow(ctx context.Context, tenantID, siteID, jobID, postSlug string, in PostInput, src PostSource) (Post, error) {
	return s.postRow(ctx, "site", `INSERT INTO posts (id, tenant_id, site_id, title, slug, body_markdown, body_html,
		excerpt, author, published_at, language, lead_image, canonical_url, tags, status, metadata,
		source_type, source_url, source_media_id, source_job_id)
		SELECT $1, s.tenant_id, s.id, $4, $5, coalesce($6, ''), coalesce($7, ''), coalesce($8, ''), coalesce($9, ''),
			coalesce($10, CASE WHEN $15 = 'published' THEN now() END), coalesce($11, s.language), coalesce($12, ''),
			coalesce($13, ''), coalesce($14::text[], '{}'), coalesce($15, 'draft'), coalesce($16::jsonb, '{}'),
			$17, $18, nullif($19, ''), nullif($20, '')
		FROM sites s WHERE s.tenant_id = $2 AND s.id = $3
		RETURNING `+postCols,
		append([]any{ids.New("post"), tenantID, siteID, *in.Title, postSlug}, append(postFields(in), src.Type, src.URL, src.MediaID, jobID)...)...)
}

// postFields are parameters $6 to $16 of the insert and update statements.
func postFields(in PostInput) []any {
	return []any{in.BodyMarkdown, in.BodyHTML, in.Excerpt, in.Author, in.PublishedAt, in.Language, in.LeadImage,
		in.CanonicalURL, in.Tags, in.Status, in.Metadata}
}

// freePostSlug returns base, or base-2, base-3… if the site has it.
func (s *Service) freePostSlug(ctx context.Context, tenantID, siteID, base string) (string, error) {
	rows, err := s.db.Query(ctx, `SELECT slug FROM posts WHERE tenant_id = $1 AND site_id = $2 AND (slug = $3 OR slug LIKE $3 || '-%')`,
		tenantID, siteID, base)
	if err != nil {
		return "", fmt.Errorf("find a free post slug: %w", err)
	}
	taken, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("find a free post slug: %w", err)
	}
	used := make(map[string]bool, len(taken))
	for _, t := range taken {
		used[t] = true
	}
	candidate := base
	for n := 2; used[candidate]; n++ {
		candidate = fmt.Sprintf("%s-%d", base, n)
	}
	return candidate, nil
}

// checkMediaRefs checks that the media a post points at (source.media_id,
// a lead_image that is a media id) are files of the tenant's site.
func (s *Service) checkMediaRefs(ctx context.Context, tenantID, siteID string, in PostInput) error {
	refs := map[string]string{}
	if in.Source != nil && in.Source.MediaID != "" {
		refs["source.media_id"] = in.Source.MediaID
	}
	if in.LeadImage != nil && ids.HasPrefix(*in.LeadImage, "med") {
		refs["lead_image"] = *in.LeadImage
	}
	var f problem.FieldErrors
	for field, id := range refs {
		var ok bool
		if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM media WHERE tenant_id = $1 AND site_id = $2 AND id = $3)`,
			tenantID, siteID, id).Scan(&ok); err != nil {
			return fmt.Errorf("check media %s: %w", id, err)
		}
		f.Check(!ok, field, "is not a media file of this site")
	}
	return f.Err()
}

// ListPosts lists the posts of the tenant's site that match f, newest first.
func (s *Service) ListPosts(ctx context.Context, tenantID, siteID string, f PostFilter, page pg.Page) ([]Post, string, error) {
	if err := f.Check(); err != nil {
		return nil, "", err
	}
	rows, err := s.db.Query(ctx, `SELECT `+postCols+` FROM posts
		WHERE tenant_id = $1 AND site_id = $2 AND ($3 = '' OR id < $3)
		  AND ($4 = '' OR status = $4) AND ($5 = '' OR source_type = $5) AND ($6 = '' OR language = $6)
		  AND ($7::timestamptz IS NULL OR created_at >= $7) AND ($8::timestamptz IS NULL OR created_at < $8)
		ORDER BY id DESC LIMIT $9`,
		tenantID, siteID, page.After, f.Status, f.SourceType, f.Language, f.CreatedAfter, f.CreatedBefore, page.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list posts: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Post, error) { return scanPost(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list posts: %w", err)
	}
	list, next := pg.Trim(list, page, func(p Post) string { return p.ID })
	return list, next, nil
}

// GetPost returns post postID of the tenant's site.
func (s *Service) GetPost(ctx context.Context, tenantID, siteID, postID string) (Post, error) {
	if !ids.HasPrefix(postID, "post") {
		return Post{}, problem.NotFoundf("post")
	}
	return s.postRow(ctx, "post", `SELECT `+postCols+` FROM posts WHERE tenant_id = $1 AND site_id = $2 AND id = $3`,
		tenantID, siteID, postID)
}

// FindPost returns one of the tenant's posts in whichever site it is.
func (s *Service) FindPost(ctx context.Context, tenantID, postID string) (Post, error) {
	if !ids.HasPrefix(postID, "post") {
		return Post{}, problem.NotFoundf("post")
	}
	return s.postRow(ctx, "post", `SELECT `+postCols+` FROM posts WHERE tenant_id = $1 AND id = $2`, tenantID, postID)
}

// UpdatePost changes the fields of in that are not nil.
func (s *Service) UpdatePost(ctx context.Context, tenantID, siteID, postID string, in PostInput) (Post, error) {
	if !ids.HasPrefix(postID, "post") {
		return Post{}, problem.NotFoundf("post")
	}
	if err := in.check(false); err != nil {
		return Post{}, err
	}
	return s.updatePost(ctx, tenantID, siteID, postID, in)
}

// ReplacePostContent replaces the content of the tenant's post postID, as
// a recrawl does, keeping its id, site and created_at. title is required;
// body_markdown, body_html, excerpt, author, lead_image, canonical_url and
// tags become empty when nil; slug, status, language, published_at,
// source and metadata stay as they are when nil.
func (s *Service) ReplacePostContent(ctx context.Context, tenantID, postID string, in PostInput) (Post, error) {
	if !ids.HasPrefix(postID, "post") {
		return Post{}, problem.NotFoundf("post")
	}
	if err := in.check(true); err != nil {
		return Post{}, err
	}
	var siteID string
	err := s.db.QueryRow(ctx, `SELECT site_id FROM posts WHERE tenant_id = $1 AND id = $2`, tenantID, postID).Scan(&siteID)
	if isNoRows(err) {
		return Post{}, problem.NotFoundf("post")
	}
	if err != nil {
		return Post{}, fmt.Errorf("replace post %s: %w", postID, err)
	}
	for _, field := range []**string{&in.BodyMarkdown, &in.BodyHTML, &in.Excerpt, &in.Author, &in.LeadImage, &in.CanonicalURL} {
		if *field == nil {
			*field = new(string)
		}
	}
	if in.Tags == nil {
		in.Tags = &[]string{}
	}
	return s.updatePost(ctx, tenantID, siteID, postID, in)
}

// updatePost writes the fields of a checked in that are not nil.
func (s *Service) updatePost(ctx context.Context, tenantID, siteID, postID string, in PostInput) (Post, error) {
	if err := s.checkMediaRefs(ctx, tenantID, siteID, in); err != nil {
		return Post{}, err
	}
	in = s.prepare(in)
	var src PostSource
	if in.Source != nil {
		src = *in.Source
	}
	return s.postRow(ctx, "post", `UPDATE posts SET title = coalesce($4, title), slug = coalesce($5, slug),
		body_markdown = coalesce($6, body_markdown), body_html = coalesce($7, body_html), excerpt = coalesce($8, excerpt),
		author = coalesce($9, author),
		published_at = coalesce($10, published_at, CASE WHEN coalesce($15, status) = 'published' THEN now() END),
		language = coalesce($11, language), lead_image = coalesce($12, lead_image), canonical_url = coalesce($13, canonical_url),
		tags = coalesce($14::text[], tags), status = coalesce($15, status), metadata = coalesce($16::jsonb, metadata),
		source_type = CASE WHEN $17 THEN $18 ELSE source_type END,
		source_url = CASE WHEN $17 THEN $19 ELSE source_url END,
		source_media_id = CASE WHEN $17 THEN nullif($20, '') ELSE source_media_id END,
		updated_at = now()
		WHERE tenant_id = $1 AND site_id = $2 AND id = $3 RETURNING `+postCols,
		append([]any{tenantID, siteID, postID, in.Title, in.Slug}, append(postFields(in), in.Source != nil, src.Type, src.URL, src.MediaID)...)...)
}

// DeletePost deletes post postID of the tenant's site.
func (s *Service) DeletePost(ctx context.Context, tenantID, siteID, postID string) error {
	if !ids.HasPrefix(postID, "post") {
		return problem.NotFoundf("post")
	}
	tag, err := s.db.Exec(ctx, `DELETE FROM posts WHERE tenant_id = $1 AND site_id = $2 AND id = $3`, tenantID, siteID, postID)
	if err != nil {
		return fmt.Errorf("delete post %s: %w", postID, err)
	}
	if tag.RowsAffected() == 0 {
		return problem.NotFoundf("post")
	}
	return nil
}

// postRow runs a statement that returns one post; no row is a 404 for
// missing (a "site" for inserts, a "post" otherwise).
func (s *Service) postRow(ctx context.Context, missing, sql string, args ...any) (Post, error) {
	p, err := scanPost(s.db.QueryRow(ctx, sql, args...))
	switch {
	case err == nil:
		return p, nil
	case isNoRows(err):
		return Post{}, problem.NotFoundf(missing)
	case pg.IsUniqueViolation(err, "posts_site_slug_key"):
		return Post{}, ErrPostSlugTaken
	case pg.IsUniqueViolation(err, "posts_source_job_key"):
		return Post{}, errJobPostExists
	case isForeignKeyViolation(err, "posts_source_media_fkey"):
		// The media file was deleted after checkMediaRefs saw it.
		return Post{}, &problem.Problem{Kind: problem.Invalid, Code: "validation_failed", Message: "some fields are invalid; see details.fields",
			Fields: map[string]string{"source.media_id": "is not a media file of this site"}}
	}
	return Post{}, fmt.Errorf("post: %w", err)
}

// isForeignKeyViolation reports whether err violates the named foreign key.
func isForeignKeyViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503" && pgErr.ConstraintName == constraint
}
