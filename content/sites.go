package content

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/internal/slug"
)

// Site is a tenant's website or publication; posts, pages, media and jobs
// hang off it. It is addressed by id or by its slug, unique in the tenant.
type Site struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Slug        string          `json:"slug"`
	URL         string          `json:"url"`
	Description string          `json:"description"`
	Language    string          `json:"language"`
	Metadata    json.RawMessage `json:"metadata"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// SiteInput holds a site's writable fields; nil leaves a field unchanged on
// update and takes the default on create.
type SiteInput struct {
	Name        *string          `json:"name"`
	Slug        *string          `json:"slug"`
	URL         *string          `json:"url"`
	Description *string          `json:"description"`
	Language    *string          `json:"language"`
	Metadata    *json.RawMessage `json:"metadata"`
}

// ErrSiteSlugTaken is returned when another site of the tenant has the slug.
var ErrSiteSlugTaken = problem.New(problem.Conflict, "slug_taken", "another site in your tenant has this slug; choose another")

var (
	languagePattern = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
)

func (in SiteInput) check(create bool) error {
	var f problem.FieldErrors
	f.Check(create && in.Name == nil, "name", "is required")
	f.Check(in.Name != nil && (strings.TrimSpace(*in.Name) == "" || len(*in.Name) > 200), "name", "must be 1 to 200 characters")
	f.Check(create && in.Slug == nil, "slug", "is required")
	f.Check(in.Slug != nil && !slug.Valid(*in.Slug), "slug", "must be lowercase letters, digits and inner hyphens, at most 63 characters")
	if in.URL != nil && *in.URL != "" {
		u, err := url.Parse(*in.URL)
		f.Check(err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "", "url", "must be an absolute http or https URL")
	}
	f.Check(in.Description != nil && len(*in.Description) > 2000, "description", "must be at most 2000 characters")
	f.Check(in.Language != nil && !languagePattern.MatchString(*in.Language), "language", "must be a BCP 47 tag such as en or pt-BR")
	if in.Metadata != nil {
		var obj map[string]any
		f.Check(json.Unmarshal(*in.Metadata, &obj) != nil || obj == nil, "metadata", "must be a JSON object")
	}
	return f.Err()
}

const siteCols = `id, name, slug, url, description, language, metadata, created_at, updated_at`

func scanSite(row pgx.Row) (Site, error) {
	var s Site
	err := row.Scan(&s.ID, &s.Name, &s.Slug, &s.URL, &s.Description, &s.Language, &s.Metadata, &s.CreatedAt, &s.UpdatedAt)
	return s, err
}

// CreateSite creates a site in tenantID.
func (s *Service) CreateSite(ctx context.Context, tenantID string, in SiteInput) (Site, error) {
	if err := in.check(true); err != nil {
		return Site{}, err
	}
	return s.siteRow(ctx, `INSERT INTO sites (id, tenant_id, name, slug, url, description, language, metadata)
		VALUES ($1, $2, $3, $4, coalesce($5, ''), coalesce($6, ''), coalesce($7, 'en'), coalesce($8::jsonb, '{}'))
		RETURNING `+siteCols,
		ids.New("site"), tenantID, *in.Name, *in.Slug, in.URL, in.Description, in.Language, in.Metadata)
}

// ListSites lists the tenant's sites, newest first.
func (s *Service) ListSites(ctx context.Context, tenantID string, page pg.Page) ([]Site, string, error) {
	rows, err := s.db.Query(ctx, `SELECT `+siteCols+` FROM sites
		WHERE tenant_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`, tenantID, page.After, page.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list sites: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Site, error) { return scanSite(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list sites: %w", err)
	}
	list, next := pg.Trim(list, page, func(s Site) string { return s.ID })
	return list, next, nil
}

// GetSite returns the tenant's site with id or slug ref.
func (s *Service) GetSite(ctx context.Context, tenantID, ref string) (Site, error) {
	return s.siteRow(ctx, `SELECT `+siteCols+` FROM sites WHERE tenant_id = $1 AND `+refMatch, tenantID, ref)
}

// refMatch matches a site by id or by slug; slugs cannot hold "_", so no
// slug looks like an id.
const refMatch = `(CASE WHEN $2 LIKE 'site\_%' THEN id = $2 ELSE slug = $2 END)`

// UpdateSite changes the fields of in that are not nil.
func (s *Service) UpdateSite(ctx context.Context, tenantID, ref string, in SiteInput) (Site, error) {
	if err := in.check(false); err != nil {
		return Site{}, err
	}
	return s.siteRow(ctx, `UPDATE sites SET name = coalesce($3, name), slug = coalesce($4, slug), url = coalesce($5, url),
		description = coalesce($6, description), language = coalesce($7, language),
		metadata = coalesce($8::jsonb, metadata), updated_at = now()
		WHERE tenant_id = $1 AND `+refMatch+` RETURNING `+siteCols,
		tenantID, ref, in.Name, in.Slug, in.URL, in.Description, in.Language, in.Metadata)
}

// DeleteSite deletes the site and everything that hangs off it, including
// the bytes of its media files.
func (s *Service) DeleteSite(ctx context.Context, tenantID, ref string) error {
	var keys []string
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		// Locking the site first makes media uploads to it wait, so every
		// file whose row the delete cascades to is in keys.
		var id string
		err := tx.QueryRow(ctx, `SELECT id FROM sites WHERE tenant_id = $1 AND `+refMatch+` FOR UPDATE`, tenantID, ref).Scan(&id)
		if isNoRows(err) {
			return problem.NotFoundf("site")
		}
		if err != nil {
			return fmt.Errorf("delete site %s: %w", ref, err)
		}
		if keys, err = siteMediaKeys(ctx, tx, tenantID, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sites WHERE tenant_id = $1 AND id = $2`, tenantID, id); err != nil {
			return fmt.Errorf("delete site %s: %w", ref, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, key := range keys {
		s.discard(ctx, key)
	}
	return nil
}

func (s *Service) siteRow(ctx context.Context, sql string, args ...any) (Site, error) {
	site, err := scanSite(s.db.QueryRow(ctx, sql, args...))
	if isNoRows(err) {
		return Site{}, problem.NotFoundf("site")
	}
	if pg.IsUniqueViolation(err, "sites_tenant_slug_key") {
		return Site{}, ErrSiteSlugTaken
	}
	if err != nil {
		return Site{}, fmt.Errorf("site: %w", err)
	}
	return site, nil
}
