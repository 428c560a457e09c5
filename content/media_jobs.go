package content

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
)

// This file holds what jobs that make media need: files keyed by (job,
// index), so a job that runs again after a crash makes no duplicates, and
// the versions of an image edited with AI.

// CreateMediaFromJob stores data as file index of job jobID in the tenant's
// site, once: when the job made that file already (it ran again), it
// returns the existing row and stores nothing. Types and limits are those
// of CreateMedia. A concurrent second run that loses the race removes its
// bytes and returns the winner's row.
func (s *Service) CreateMediaFromJob(ctx context.Context, tenantID, siteID, jobID string, index int, data []byte, meta MediaInput) (Media, error) {
	if s.store == nil {
		return Media{}, ErrMediaStorageUnavailable
	}
	if jobID == "" || index < 0 {
		return Media{}, fmt.Errorf("create media of a job: job %q, index %d", jobID, index)
	}
	if m, ok, err := s.jobMedia(ctx, tenantID, jobID, index); err != nil || ok {
		return m, err
	}
	if err := meta.check(); err != nil {
		return Media{}, err
	}
	if err := s.siteExists(ctx, tenantID, siteID); err != nil {
		return Media{}, err
	}
	head := data[:min(len(data), headSize)]
	contentType, err := sniff(head, meta.Filename)
	if err != nil {
		return Media{}, err
	}
	m := Media{ID: ids.New("med"), SiteID: siteID, ContentType: contentType, Filename: cleanFilename(meta.Filename, contentType)}
	m.key = tenantID + "/" + siteID + "/" + m.ID
	m.Width, m.Height = dimensions(head, contentType)
	if err := s.putMedia(ctx, &m, bytes.NewReader(data)); err != nil {
		return Media{}, err
	}
	saved, err := s.insertJobMedia(ctx, tenantID, jobID, index, m, meta)
	if err != nil {
		s.discard(ctx, m.key)
	}
	if errors.Is(err, errJobMediaExists) {
		return saved, nil
	}
	return saved, err
}

// insertJobMedia writes the row of a job's file; when another run wrote it
// first, it returns that row (the caller then removes its bytes).
func (s *Service) insertJobMedia(ctx context.Context, tenantID, jobID string, index int, m Media, meta MediaInput) (Media, error) {
	saved, err := scanMedia(s.db.QueryRow(ctx, `INSERT INTO media (id, tenant_id, site_id, storage_key, filename, content_type,
		size_bytes, sha256, width, height, title, alt_text, caption, tags, metadata, job_id, job_index)
		SELECT $1, s.tenant_id, s.id, $4, $5, $6, $7, $8, $9, $10, coalesce($11, ''), coalesce($12, ''), coalesce($13, ''),
			coalesce($14::text[], '{}'), coalesce($15::jsonb, '{}'), $16, $17
		FROM sites s WHERE s.tenant_id = $2 AND s.id = $3
		ON CONFLICT (job_id, job_index) WHERE job_id IS NOT NULL DO NOTHING
		RETURNING `+mediaCols,
		m.ID, tenantID, m.SiteID, m.key, m.Filename, m.ContentType, m.SizeBytes, m.SHA256, m.Width, m.Height,
		meta.Title, meta.AltText, meta.Caption, cleanTags(meta.Tags), meta.Metadata, jobID, index))
	if err == nil {
		return saved, nil
	}
	if !isNoRows(err) {
		return Media{}, fmt.Errorf("save media %d of job %s: %w", index, jobID, err)
	}
	// A concurrent run saved it, or the site is gone.
	prev, ok, err := s.jobMedia(ctx, tenantID, jobID, index)
	if err != nil {
		return Media{}, err
	}
	if !ok {
		return Media{}, problem.NotFoundf("site")
	}
	return prev, errJobMediaExists
}

// errJobMediaExists tells CreateMediaFromJob to remove the bytes it stored
// and return the row another run saved; it never leaves this file.
var errJobMediaExists = errors.New("the job's media file exists")

// jobMedia returns file index of job jobID, if the job made it.
func (s *Service) jobMedia(ctx context.Context, tenantID, jobID string, index int) (Media, bool, error) {
	m, err := scanMedia(s.db.QueryRow(ctx, `SELECT `+mediaCols+` FROM media WHERE tenant_id = $1 AND job_id = $2 AND job_index = $3`,
		tenantID, jobID, index))
	if isNoRows(err) {
		return Media{}, false, nil
	}
	if err != nil {
		return Media{}, false, fmt.Errorf("find media %d of job %s: %w", index, jobID, err)
	}
	return m, true, nil
}

// MediaOfJob returns the media files job jobID made in the tenant's
// sites, by their index among the job's outputs.
func (s *Service) MediaOfJob(ctx context.Context, tenantID, jobID string) (map[int]Media, error) {
	rows, err := s.db.Query(ctx, `SELECT job_index, `+mediaCols+` FROM media WHERE tenant_id = $1 AND job_id = $2 ORDER BY job_index`,
		tenantID, jobID)
	if err != nil {
		return nil, fmt.Errorf("list media of job %s: %w", jobID, err)
	}
	defer rows.Close()
	out := map[int]Media{}
	for rows.Next() {
		var i int
		var m Media
		err := rows.Scan(&i, &m.ID, &m.SiteID, &m.key, &m.Filename, &m.ContentType, &m.SizeBytes, &m.SHA256, &m.Width, &m.Height,
			&m.Title, &m.AltText, &m.Caption, &m.Tags, &m.Metadata, &m.CreatedAt, &m.UpdatedAt)
		if err != nil {
			return nil, fmt.Errorf("list media of job %s: %w", jobID, err)
		}
		if m.Tags == nil {
			m.Tags = []string{}
		}
		out[i] = m
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list media of job %s: %w", jobID, err)
	}
	return out, nil
}

// MediaVersion is one version of an image edited with AI. Version 1 is
// the original (the root); each edit adds the next number, with its own
// media file, wherever in the chain the edited version was.
type MediaVersion struct {
	Version     int    `json:"version"`
	MediaID     string `json:"media_id"`
	RootMediaID string `json:"root_media_id"`
	// SourceMediaID is the version that was edited; nil for version 1 (and
	// when that version has been deleted since).
	SourceMediaID *string `json:"source_media_id"`
	// Instruction is what the edit was asked to do; empty for version 1.
	Instruction string `json:"instruction"`
	// JobID is the job that made the version; nil for version 1.
	JobID     *string   `json:"job_id"`
	CreatedAt time.Time `json:"created_at"`
	Media     Media     `json:"media"`
}

// AddMediaVersion records the media file versionID, made by job jobID from
// the tenant's image sourceID as instruction said, as the next version of
// sourceID's chain. It is idempotent per job: a second call for jobID
// returns the version the first made.
func (s *Service) AddMediaVersion(ctx context.Context, tenantID, sourceID, versionID, jobID, instruction string) (MediaVersion, error) {
	if jobID == "" {
		return MediaVersion{}, errors.New("add media version: no job id")
	}
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM media_versions WHERE tenant_id = $1 AND job_id = $2)`,
			tenantID, jobID).Scan(&done); err != nil || done {
			return err
		}
		root, err := lockRoot(ctx, tx, tenantID, sourceID)
		if err != nil {
			return err
		}
		var ours bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM media WHERE tenant_id = $1 AND id = $2)`,
			tenantID, versionID).Scan(&ours); err != nil {
			return err
		}
		if !ours {
			return problem.NotFoundf("media")
		}
		_, err = tx.Exec(ctx, `INSERT INTO media_versions (tenant_id, root_media_id, version, media_id, source_media_id, instruction, job_id)
			SELECT $1, $2, coalesce(max(version), 1) + 1, $3, $4, $5, $6 FROM media_versions WHERE root_media_id = $2`,
			tenantID, root, versionID, sourceID, instruction, jobID)
		return err
	})
	if err != nil {
		return MediaVersion{}, fmt.Errorf("add a version of media %s: %w", sourceID, err)
	}
	return s.versionOfJob(ctx, tenantID, jobID)
}

// lockRoot returns the root of the chain media sourceID belongs to (itself
// when it is no edit), locking the root's row so versions are numbered one
// at a time.
func lockRoot(ctx context.Context, tx pgx.Tx, tenantID, sourceID string) (string, error) {
	root := sourceID
	err := tx.QueryRow(ctx, `SELECT root_media_id FROM media_versions WHERE tenant_id = $1 AND media_id = $2`, tenantID, sourceID).Scan(&root)
	if err != nil && !isNoRows(err) {
		return "", err
	}
	err = tx.QueryRow(ctx, `SELECT id FROM media WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, root).Scan(&root)
	if isNoRows(err) {
		return "", problem.NotFoundf("media")
	}
	return root, err
}

const versionCols = `v.version, v.media_id, v.root_media_id, v.source_media_id, v.instruction, v.job_id, v.created_at`

// versionOfJob returns the version job jobID made.
func (s *Service) versionOfJob(ctx context.Context, tenantID, jobID string) (MediaVersion, error) {
	rows, err := s.db.Query(ctx, `SELECT `+versionCols+`, `+prefixed("m.")+` FROM media_versions v
		JOIN media m ON m.id = v.media_id WHERE v.tenant_id = $1 AND v.job_id = $2`, tenantID, jobID)
	if err != nil {
		return MediaVersion{}, fmt.Errorf("read the version of job %s: %w", jobID, err)
	}
	list, err := pgx.CollectRows(rows, scanVersion)
	if err != nil {
		return MediaVersion{}, fmt.Errorf("read the version of job %s: %w", jobID, err)
	}
	if len(list) == 0 {
		return MediaVersion{}, problem.NotFoundf("media version")
	}
	return list[0], nil
}

// MediaVersions lists the versions of the chain the tenant's media file
// mediaID belongs to (as the original or as any version), version 1 first.
// A file never edited is a chain of one.
func (s *Service) MediaVersions(ctx context.Context, tenantID, siteID, mediaID string) ([]MediaVersion, error) {
	if !ids.HasPrefix(mediaID, "med") {
		return nil, problem.NotFoundf("media")
	}
	if _, err := s.GetMedia(ctx, tenantID, siteID, mediaID); err != nil {
		return nil, err
	}
	rootID := mediaID
	err := s.db.QueryRow(ctx, `SELECT root_media_id FROM media_versions WHERE tenant_id = $1 AND media_id = $2`, tenantID, mediaID).Scan(&rootID)
	if err != nil && !isNoRows(err) {
		return nil, fmt.Errorf("find the original of media %s: %w", mediaID, err)
	}
	root, err := s.GetMedia(ctx, tenantID, siteID, rootID)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+versionCols+`, `+prefixed("m.")+` FROM media_versions v
		JOIN media m ON m.id = v.media_id WHERE v.tenant_id = $1 AND v.root_media_id = $2 AND m.site_id = $3
		ORDER BY v.version`, tenantID, rootID, siteID)
	if err != nil {
		return nil, fmt.Errorf("list versions of media %s: %w", rootID, err)
	}
	list, err := pgx.CollectRows(rows, scanVersion)
	if err != nil {
		return nil, fmt.Errorf("list versions of media %s: %w", rootID, err)
	}
	first := MediaVersion{Version: 1, MediaID: root.ID, RootMediaID: root.ID, CreatedAt: root.CreatedAt, Media: root}
	return append([]MediaVersion{first}, list...), nil
}

func scanVersion(row pgx.CollectableRow) (MediaVersion, error) {
	var v MediaVersion
	m := &v.Media
	err := row.Scan(&v.Version, &v.MediaID, &v.RootMediaID, &v.SourceMediaID, &v.Instruction, &v.JobID, &v.CreatedAt,
		&m.ID, &m.SiteID, &m.key, &m.Filename, &m.ContentType, &m.SizeBytes, &m.SHA256, &m.Width, &m.Height,
		&m.Title, &m.AltText, &m.Caption, &m.Tags, &m.Metadata, &m.CreatedAt, &m.UpdatedAt)
	if m.Tags == nil {
		m.Tags = []string{}
	}
	return v, err
}

// prefixed is mediaCols with every column qualified by prefix ("m.").
func prefixed(prefix string) string {
	cols := strings.Split(mediaCols, ",")
	for i, col := range cols {
		cols[i] = prefix + strings.TrimSpace(col)
	}
	return strings.Join(cols, ", ")
}
