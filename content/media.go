package content

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // image.DecodeConfig reads GIF dimensions
	_ "image/jpeg" // and JPEG
	_ "image/png"  // and PNG
	"io"
	"mime"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gabriel-vasile/mimetype"
	"github.com/jackc/pgx/v5"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/storage"
)

// Media is a file of a site: an image, audio, video, PDF or text. Its bytes
// live in the Service's storage.Store; the row describes them.
type Media struct {
	ID       string `json:"id"`
	SiteID   string `json:"site_id"`
	Filename string `json:"filename"`
	// ContentType is sniffed from the bytes; what the uploader claimed is
	// not trusted.
	ContentType string          `json:"content_type"`
	SizeBytes   int64           `json:"size_bytes"`
	SHA256      string          `json:"sha256"`
	Width       *int            `json:"width"`
	Height      *int            `json:"height"`
	Title       string          `json:"title"`
	AltText     string          `json:"alt_text"`
	Caption     string          `json:"caption"`
	Tags        []string        `json:"tags"`
	Metadata    json.RawMessage `json:"metadata"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`

	key string
}

// MediaInput holds a media file's writable fields; nil leaves a field
// unchanged on update and empty on create. Filename, the uploader's name
// for the file, is used on create only, cleaned of any path.
type MediaInput struct {
	Filename string           `json:"-"`
	Title    *string          `json:"title"`
	AltText  *string          `json:"alt_text"`
	Caption  *string          `json:"caption"`
	Tags     *[]string        `json:"tags"`
	Metadata *json.RawMessage `json:"metadata"`
}

// Errors about media that callers branch on.
var (
	// ErrUnsupportedMediaType is a file whose bytes are not of an allowed type.
	ErrUnsupportedMediaType = problem.New(problem.Unsupported, "unsupported_media_type",
		"this kind of file is not accepted; upload an image, audio, video, PDF, plain text or Markdown file")
	// ErrMediaStorageUnavailable means the Service was built without a store.
	ErrMediaStorageUnavailable = problem.New(problem.Unavailable, "media_storage_unavailable",
		"media storage is not configured on this installation; ask the operator")
)

// MediaTooLarge is the problem of a file over max bytes (code
// media_too_large).
func MediaTooLarge(max int64) error {
	return &problem.Problem{Kind: problem.TooLarge, Code: "media_too_large",
		Message: fmt.Sprintf("the file is larger than %d bytes, the most this installation accepts (KILN_MEDIA_MAX_MB)", max),
		Details: map[string]any{"max_bytes": max}}
}

// allowedType reports whether files of sniffed type t (without
// parameters) are accepted. SVG and HTML are absent on purpose: a browser
// runs their scripts.
func allowedType(t string) bool {
	switch t {
	case "image/png", "image/vnd.mozilla.apng", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp",
		"image/tiff", "image/heic", "image/heif", "image/jxl", "image/x-icon",
		"audio/mpeg", "audio/flac", "audio/wav", "audio/aiff", "audio/aac", "audio/mp4", "audio/x-m4a", "audio/ogg",
		"audio/midi", "audio/amr", "audio/basic",
		"video/mp4", "video/webm", "video/ogg", "video/quicktime", "video/mpeg", "video/3gpp", "video/3gpp2",
		"video/x-msvideo", "video/x-matroska", "video/x-m4v",
		"application/pdf", "text/plain":
		return true
	}
	return false
}

// headSize is how much of a file is read up front, to sniff its type and
// read an image's dimensions.
const headSize = 64 << 10

// Limits on media fields.
const (
	maxFilename = 200
	maxAltText  = 1000
	maxCaption  = 5000
)

func (in MediaInput) check() error {
	var f problem.FieldErrors
	f.Check(in.Title != nil && utf8.RuneCountInString(*in.Title) > maxTitle, "title", "must be at most 500 characters")
	f.Check(in.AltText != nil && utf8.RuneCountInString(*in.AltText) > maxAltText, "alt_text", "must be at most 1000 characters")
	f.Check(in.Caption != nil && utf8.RuneCountInString(*in.Caption) > maxCaption, "caption", "must be at most 5000 characters")
	if in.Tags != nil {
		checkTags(&f, "tags", *in.Tags)
	}
	if in.Metadata != nil {
		checkMetadata(&f, "metadata", *in.Metadata)
	}
	return f.Err()
}

// MediaMaxBytes is the largest file CreateMedia accepts.
func (s *Service) MediaMaxBytes() int64 { return s.media.MaxBytes }

const mediaCols = `id, site_id, storage_key, filename, content_type, size_bytes, sha256, width, height, title, alt_text,
	caption, tags, metadata, created_at, updated_at`

func scanMedia(row pgx.Row) (Media, error) {
	var m Media
	err := row.Scan(&m.ID, &m.SiteID, &m.key, &m.Filename, &m.ContentType, &m.SizeBytes, &m.SHA256, &m.Width, &m.Height,
		&m.Title, &m.AltText, &m.Caption, &m.Tags, &m.Metadata, &m.CreatedAt, &m.UpdatedAt)
	if m.Tags == nil {
		m.Tags = []string{}
	}
	return m, err
}

// CreateMedia stores the file read from r in the tenant's site siteID and
// records it. Its type is sniffed from its bytes (ErrUnsupportedMediaType
// outside the allow list); more than MediaMaxBytes is media_too_large. The
// bytes are streamed to the store, and removed again if the row cannot be
// written: a failure leaves neither bytes nor row.
func (s *Service) CreateMedia(ctx context.Context, tenantID, siteID string, r io.Reader, meta MediaInput) (Media, error) {
	if s.store == nil {
		return Media{}, ErrMediaStorageUnavailable
	}
	if err := meta.check(); err != nil {
		return Media{}, err
	}
	if err := s.siteExists(ctx, tenantID, siteID); err != nil {
		return Media{}, err
	}
	head := make([]byte, headSize)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Media{}, fmt.Errorf("read media file: %w", err)
	}
	head = head[:n]
	contentType, err := sniff(head, meta.Filename)
	if err != nil {
		return Media{}, err
	}
	m := Media{ID: ids.New("med"), SiteID: siteID, ContentType: contentType, Filename: cleanFilename(meta.Filename, contentType)}
	m.key = tenantID + "/" + siteID + "/" + m.ID
	m.Width, m.Height = dimensions(head, contentType)
	if err := s.putMedia(ctx, &m, io.MultiReader(bytes.NewReader(head), r)); err != nil {
		return Media{}, err
	}
	saved, err := s.insertMedia(ctx, tenantID, m, meta)
	if err != nil {
		s.discard(ctx, m.key)
		return Media{}, err
	}
	return saved, nil
}

// putMedia streams r to the store under m's key, recording its size and
// hash in m.
func (s *Service) putMedia(ctx context.Context, m *Media, r io.Reader) error {
	sum := sha256.New()
	n, err := s.store.Put(ctx, m.key, io.TeeReader(r, sum), s.media.MaxBytes)
	if errors.Is(err, storage.ErrTooLarge) {
		return MediaTooLarge(s.media.MaxBytes)
	}
	if err != nil {
		return fmt.Errorf("store media %s: %w", m.ID, err)
	}
	m.SizeBytes, m.SHA256 = n, hex.EncodeToString(sum.Sum(nil))
	return nil
}

func (s *Service) insertMedia(ctx context.Context, tenantID string, m Media, meta MediaInput) (Media, error) {
	return s.mediaRow(ctx, "site", `INSERT INTO media (id, tenant_id, site_id, storage_key, filename, content_type, size_bytes,
		sha256, width, height, title, alt_text, caption, tags, metadata)
		SELECT $1, s.tenant_id, s.id, $4, $5, $6, $7, $8, $9, $10, coalesce($11, ''), coalesce($12, ''), coalesce($13, ''),
			coalesce($14::text[], '{}'), coalesce($15::jsonb, '{}')
		FROM sites s WHERE s.tenant_id = $2 AND s.id = $3
		RETURNING `+mediaCols,
		m.ID, tenantID, m.SiteID, m.key, m.Filename, m.ContentType, m.SizeBytes, m.SHA256, m.Width, m.Height,
		meta.Title, meta.AltText, meta.Caption, cleanTags(meta.Tags), meta.Metadata)
}

// discard deletes stored bytes no row points at, even when ctx has ended.
func (s *Service) discard(ctx context.Context, key string) {
	if s.store == nil {
		s.log.ErrorContext(ctx, "media bytes to delete but no store configured; they are orphaned", "key", key)
		return
	}
	if err := s.store.Delete(context.WithoutCancel(ctx), key); err != nil {
		s.log.ErrorContext(ctx, "delete media bytes without a row; they are orphaned", "key", key, "err", err)
	}
}

func (s *Service) siteExists(ctx context.Context, tenantID, siteID string) error {
	var ok bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sites WHERE tenant_id = $1 AND id = $2)`, tenantID, siteID).Scan(&ok); err != nil {
		return fmt.Errorf("find site %s: %w", siteID, err)
	}
	if !ok {
		return problem.NotFoundf("site")
	}
	return nil
}

// sniff returns the content type of a file that starts with head, or a
// problem when the type is not allowed. Plain text named .md or .markdown
// is text/markdown.
func sniff(head []byte, filename string) (string, error) {
	if len(head) == 0 {
		return "", &problem.Problem{Kind: problem.Invalid, Code: "validation_failed", Message: "some fields are invalid; see details.fields",
			Fields: map[string]string{"file": "is empty"}}
	}
	detected := mimetype.Detect(head).String()
	base, params, err := mime.ParseMediaType(detected)
	if err != nil || !allowedType(base) {
		p := *ErrUnsupportedMediaType
		p.Details = map[string]any{"detected_type": base}
		return "", &p
	}
	if base != "text/plain" {
		return base, nil
	}
	if ext := strings.ToLower(path.Ext(filename)); ext == ".md" || ext == ".markdown" {
		base = "text/markdown"
	}
	if cs := params["charset"]; cs != "" {
		return mime.FormatMediaType(base, map[string]string{"charset": cs}), nil
	}
	return base, nil
}

// dimensions reads an image's width and height from its first bytes, or
// nil for other files and formats the standard library cannot read.
func dimensions(head []byte, contentType string) (w, h *int) {
	if !strings.HasPrefix(contentType, "image/") {
		return nil, nil
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(head))
	if err != nil {
		return nil, nil
	}
	return &cfg.Width, &cfg.Height
}

// cleanFilename keeps the last element of an uploader's file name, without
// control characters, quotes or separators, at most 200 characters; an
// empty name becomes "file" with an extension for contentType.
func cleanFilename(name, contentType string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '"' || r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ' {
			return -1
		}
		return r
	}, name)
	name = strings.Trim(strings.TrimSpace(name), ".")
	if runes := []rune(name); len(runes) > maxFilename {
		name = string(runes[len(runes)-maxFilename:])
	}
	if name != "" {
		return name
	}
	base, _, _ := mime.ParseMediaType(contentType)
	if base == "text/markdown" {
		return "file.md"
	}
	if m := mimetype.Lookup(base); m != nil {
		return "file" + m.Extension()
	}
	return "file"
}

// ListMedia lists the media files of the tenant's site, newest first.
func (s *Service) ListMedia(ctx context.Context, tenantID, siteID string, page pg.Page) ([]Media, string, error) {
	rows, err := s.db.Query(ctx, `SELECT `+mediaCols+` FROM media
		WHERE tenant_id = $1 AND site_id = $2 AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4`,
		tenantID, siteID, page.After, page.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list media: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Media, error) { return scanMedia(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list media: %w", err)
	}
	list, next := pg.Trim(list, page, func(m Media) string { return m.ID })
	return list, next, nil
}

// GetMedia returns media file mediaID of the tenant's site.
func (s *Service) GetMedia(ctx context.Context, tenantID, siteID, mediaID string) (Media, error) {
	if !ids.HasPrefix(mediaID, "med") {
		return Media{}, problem.NotFoundf("media")
	}
	return s.mediaRow(ctx, "media", `SELECT `+mediaCols+` FROM media WHERE tenant_id = $1 AND site_id = $2 AND id = $3`,
		tenantID, siteID, mediaID)
}

// OpenMedia returns the tenant's media file mediaID and its bytes, which
// the caller closes.
func (s *Service) OpenMedia(ctx context.Context, tenantID, mediaID string) (Media, io.ReadSeekCloser, error) {
	if s.store == nil {
		return Media{}, nil, ErrMediaStorageUnavailable
	}
	if !ids.HasPrefix(mediaID, "med") {
		return Media{}, nil, problem.NotFoundf("media")
	}
	m, err := s.mediaRow(ctx, "media", `SELECT `+mediaCols+` FROM media WHERE tenant_id = $1 AND id = $2`, tenantID, mediaID)
	if err != nil {
		return Media{}, nil, err
	}
	f, err := s.store.Open(ctx, m.key)
	if err != nil {
		return Media{}, nil, fmt.Errorf("open media %s: %w", m.ID, err)
	}
	return m, f, nil
}

// UpdateMedia changes the fields of in that are not nil.
func (s *Service) UpdateMedia(ctx context.Context, tenantID, siteID, mediaID string, in MediaInput) (Media, error) {
	if !ids.HasPrefix(mediaID, "med") {
		return Media{}, problem.NotFoundf("media")
	}
	if err := in.check(); err != nil {
		return Media{}, err
	}
	return s.mediaRow(ctx, "media", `UPDATE media SET title = coalesce($4, title), alt_text = coalesce($5, alt_text),
		caption = coalesce($6, caption), tags = coalesce($7::text[], tags), metadata = coalesce($8::jsonb, metadata),
		updated_at = now()
		WHERE tenant_id = $1 AND site_id = $2 AND id = $3 RETURNING `+mediaCols,
		tenantID, siteID, mediaID, in.Title, in.AltText, in.Caption, cleanTags(in.Tags), in.Metadata)
}

// DeleteMedia deletes media file mediaID of the tenant's site and its
// bytes. The row goes only if the bytes do: on a storage error both stay.
func (s *Service) DeleteMedia(ctx context.Context, tenantID, siteID, mediaID string) error {
	if s.store == nil {
		return ErrMediaStorageUnavailable
	}
	if !ids.HasPrefix(mediaID, "med") {
		return problem.NotFoundf("media")
	}
	return pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var key string
		err := tx.QueryRow(ctx, `DELETE FROM media WHERE tenant_id = $1 AND site_id = $2 AND id = $3 RETURNING storage_key`,
			tenantID, siteID, mediaID).Scan(&key)
		if isNoRows(err) {
			return problem.NotFoundf("media")
		}
		if err != nil {
			return fmt.Errorf("delete media %s: %w", mediaID, err)
		}
		if err := s.store.Delete(ctx, key); err != nil {
			return fmt.Errorf("delete media %s: %w", mediaID, err)
		}
		return nil
	})
}

// siteMediaKeys returns the storage keys of a site's media, inside tx.
func siteMediaKeys(ctx context.Context, tx pgx.Tx, tenantID, siteID string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT storage_key FROM media WHERE tenant_id = $1 AND site_id = $2`, tenantID, siteID)
	if err != nil {
		return nil, fmt.Errorf("list media of site %s: %w", siteID, err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list media of site %s: %w", siteID, err)
	}
	return keys, nil
}

func (s *Service) mediaRow(ctx context.Context, missing, sql string, args ...any) (Media, error) {
	m, err := scanMedia(s.db.QueryRow(ctx, sql, args...))
	if isNoRows(err) {
		return Media{}, problem.NotFoundf(missing)
	}
	if err != nil {
		return Media{}, fmt.Errorf("media: %w", err)
	}
	return m, nil
}
