package translate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/jobs"
)

// The resource types a translation belongs to.
const (
	ResourcePost  = "post"
	ResourceMedia = "media"
)

// The statuses of a translation: that of the latest request for its
// language.
const (
	StatusPending   = "pending"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCanceled  = "canceled"
)

// Translation links a master post or media item to its translation into
// one language.
type Translation struct {
	ID           string `json:"id"`
	ResourceType string `json:"resource_type"`
	MasterID     string `json:"master_id"`
	Language     string `json:"language"`
	Status       string `json:"status"`
	// TranslatedPostID is the post holding a post's translation.
	TranslatedPostID *string `json:"translated_post_id,omitempty"`
	// Fields are a media item's translated title, alt text and caption.
	Fields *MediaFields `json:"fields,omitempty"`
	// Keep are the terms the request kept untranslated.
	Keep []string `json:"keep"`
	// TranslatedAt is when the translation in force was made, nil before
	// the first succeeds; MasterUpdatedAt is the master's updated_at then.
	TranslatedAt    *time.Time `json:"translated_at"`
	MasterUpdatedAt *time.Time `json:"master_updated_at"`
	// Stale reports that the master changed after the translation.
	Stale bool `json:"stale"`
	// JobID is the language job that made the translation in force;
	// ParentJobID the translate.post or translate.media job that asked last.
	JobID       *string        `json:"job_id"`
	ParentJobID *string        `json:"parent_job_id"`
	Error       *jobs.JobError `json:"error"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
}

// MediaFields are the translatable fields of a media item.
type MediaFields struct {
	Title   string `json:"title"`
	AltText string `json:"alt_text"`
	Caption string `json:"caption"`
}

// Store reads and writes translations. Every query takes the tenant.
type Store struct {
	db *pgxpool.Pool
}

// NewStore returns a Store over db.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

const translationCols = `id, resource_type, master_id, language, status, translated_post_id, fields, keep,
	translated_at, master_updated_at, job_id, parent_job_id, error_code, error_message, created_at, updated_at`

func scanTranslation(row pgx.Row) (Translation, error) {
	var tr Translation
	var fields []byte
	var code, msg *string
	err := row.Scan(&tr.ID, &tr.ResourceType, &tr.MasterID, &tr.Language, &tr.Status, &tr.TranslatedPostID, &fields, &tr.Keep,
		&tr.TranslatedAt, &tr.MasterUpdatedAt, &tr.JobID, &tr.ParentJobID, &code, &msg, &tr.CreatedAt, &tr.UpdatedAt)
	if err != nil {
		return tr, err
	}
	if len(fields) > 0 {
		tr.Fields = &MediaFields{}
		if err := json.Unmarshal(fields, tr.Fields); err != nil {
			return tr, fmt.Errorf("decode fields of translation %s: %w", tr.ID, err)
		}
	}
	if code != nil {
		tr.Error = &jobs.JobError{Code: *code}
		if msg != nil {
			tr.Error.Message = *msg
		}
	}
	if tr.Keep == nil {
		tr.Keep = []string{}
	}
	return tr, nil
}

// List returns the translations of the tenant's master masterID, newest
// first; masterUpdatedAt is the master's updated_at, against which each
// is marked stale.
func (s *Store) List(ctx context.Context, tenantID, masterID string, masterUpdatedAt time.Time, page pg.Page) ([]Translation, string, error) {
	rows, err := s.db.Query(ctx, `SELECT `+translationCols+` FROM translations
		WHERE tenant_id = $1 AND master_id = $2 AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4`,
		tenantID, masterID, page.After, page.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list translations of %s: %w", masterID, err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Translation, error) { return scanTranslation(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list translations of %s: %w", masterID, err)
	}
	for i := range list {
		list[i].Stale = stale(list[i], masterUpdatedAt)
	}
	list, next := pg.Trim(list, page, func(t Translation) string { return t.ID })
	return list, next, nil
}

// stale reports whether a translation is older than its master.
func stale(t Translation, masterUpdatedAt time.Time) bool {
	return t.TranslatedAt != nil && t.MasterUpdatedAt != nil && masterUpdatedAt.After(*t.MasterUpdatedAt)
}

// Stale returns the languages of the tenant's master masterID whose
// translation is older than the master, sorted, and the terms their
// requests kept.
func (s *Store) Stale(ctx context.Context, tenantID, masterID string, masterUpdatedAt time.Time) (languages, keep []string, err error) {
	rows, err := s.db.Query(ctx, `SELECT language, keep FROM translations
		WHERE tenant_id = $1 AND master_id = $2 AND translated_at IS NOT NULL AND master_updated_at < $3
		ORDER BY language`, tenantID, masterID, masterUpdatedAt)
	if err != nil {
		return nil, nil, fmt.Errorf("find stale translations of %s: %w", masterID, err)
	}
	languages, keep = []string{}, []string{}
	seen := map[string]bool{}
	var lang string
	var terms []string
	_, err = pgx.ForEachRow(rows, []any{&lang, &terms}, func() error {
		languages = append(languages, lang)
		for _, t := range terms {
			if !seen[t] {
				seen[t] = true
				keep = append(keep, t)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("find stale translations of %s: %w", masterID, err)
	}
	return languages, keep, nil
}

// MasterOf returns the id of the post that post postID of the tenant is a
// translation of, or "" when it is none's.
func (s *Store) MasterOf(ctx context.Context, tenantID, postID string) (string, error) {
	var master string
	err := s.db.QueryRow(ctx, `SELECT master_id FROM translations WHERE tenant_id = $1 AND translated_post_id = $2 LIMIT 1`,
		tenantID, postID).Scan(&master)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find the master of %s: %w", postID, err)
	}
	return master, nil
}

// master identifies what is translated.
type master struct {
	tenantID, siteID, resourceType, id string
}

// masterColumn is the column holding the master's id.
func (m master) masterColumn() string {
	if m.resourceType == ResourceMedia {
		return "master_media_id"
	}
	return "master_post_id"
}

// prepare marks the languages asked for by parentJobID pending, creating
// their rows, and records the terms kept.
func (s *Store) prepare(ctx context.Context, m master, languages, keep []string, parentJobID string) error {
	if keep == nil {
		keep = []string{}
	}
	return pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		for _, lang := range languages {
			_, err := tx.Exec(ctx, `INSERT INTO translations (id, tenant_id, site_id, resource_type, `+m.masterColumn()+`,
					language, keep, parent_job_id)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (master_id, language) DO UPDATE SET status = 'pending', keep = excluded.keep,
					parent_job_id = excluded.parent_job_id, error_code = NULL, error_message = NULL, updated_at = now()
				WHERE translations.tenant_id = excluded.tenant_id`,
				ids.New("trn"), m.tenantID, m.siteID, m.resourceType, m.id, lang, keep, parentJobID)
			if err != nil {
				return fmt.Errorf("prepare the %s translation of %s: %w", lang, m.id, err)
			}
		}
		return nil
	})
}

// translatedPost returns the post holding the translation of the master
// into lang, "" when there is none.
func (s *Store) translatedPost(ctx context.Context, m master, lang string) (string, error) {
	var postID *string
	err := s.db.QueryRow(ctx, `SELECT translated_post_id FROM translations WHERE tenant_id = $1 AND master_id = $2 AND language = $3`,
		m.tenantID, m.id, lang).Scan(&postID)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && postID == nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find the %s translation of %s: %w", lang, m.id, err)
	}
	return *postID, nil
}

// done is a translation a language job made.
type done struct {
	language        string
	jobID           string
	postID          string       // posts
	fields          *MediaFields // media
	masterUpdatedAt time.Time
}

// linkPost records d (a post's translation) as the translation in force,
// unless another post holds it already: then it returns that post's id
// and false.
func (s *Store) linkPost(ctx context.Context, m master, d done) (string, bool, error) {
	var id string
	err := s.db.QueryRow(ctx, `INSERT INTO translations (id, tenant_id, site_id, resource_type, master_post_id, language,
			status, translated_post_id, translated_at, master_updated_at, job_id)
		VALUES ($1, $2, $3, 'post', $4, $5, 'succeeded', $6, now(), $7, $8)
		ON CONFLICT (master_id, language) DO UPDATE SET status = 'succeeded', translated_post_id = excluded.translated_post_id,
			translated_at = now(), master_updated_at = excluded.master_updated_at, job_id = excluded.job_id,
			error_code = NULL, error_message = NULL, updated_at = now()
		WHERE translations.tenant_id = excluded.tenant_id
		  AND (translations.translated_post_id IS NULL OR translations.translated_post_id = excluded.translated_post_id)
		RETURNING id`,
		ids.New("trn"), m.tenantID, m.siteID, m.id, d.language, d.postID, d.masterUpdatedAt, d.jobID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		other, err := s.translatedPost(ctx, m, d.language)
		return other, false, err
	}
	if err != nil {
		return "", false, fmt.Errorf("link the %s translation of %s: %w", d.language, m.id, err)
	}
	return id, true, nil
}

// saveMedia records d (a media item's translation) as the translation in
// force and returns its id.
func (s *Store) saveMedia(ctx context.Context, m master, d done) (string, error) {
	fields, err := json.Marshal(d.fields)
	if err != nil {
		return "", fmt.Errorf("encode the %s translation of %s: %w", d.language, m.id, err)
	}
	var id string
	err = s.db.QueryRow(ctx, `INSERT INTO translations (id, tenant_id, site_id, resource_type, master_media_id, language,
			status, fields, translated_at, master_updated_at, job_id)
		VALUES ($1, $2, $3, 'media', $4, $5, 'succeeded', $6, now(), $7, $8)
		ON CONFLICT (master_id, language) DO UPDATE SET status = 'succeeded', fields = excluded.fields,
			translated_at = now(), master_updated_at = excluded.master_updated_at, job_id = excluded.job_id,
			error_code = NULL, error_message = NULL, updated_at = now()
		WHERE translations.tenant_id = excluded.tenant_id
		RETURNING id`,
		ids.New("trn"), m.tenantID, m.siteID, m.id, d.language, fields, d.masterUpdatedAt, d.jobID).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("save the %s translation of %s: %w", d.language, m.id, err)
	}
	return id, nil
}

// markFailed records that parentJobID's request for lang failed, unless a
// later request has taken the language over.
func (s *Store) markFailed(ctx context.Context, m master, lang, parentJobID string, e jobs.JobError) error {
	_, err := s.db.Exec(ctx, `UPDATE translations SET status = 'failed', error_code = $5, error_message = $6, updated_at = now()
		WHERE tenant_id = $1 AND master_id = $2 AND language = $3 AND parent_job_id = $4 AND status = 'pending'`,
		m.tenantID, m.id, lang, parentJobID, e.Code, e.Message)
	if err != nil {
		return fmt.Errorf("record the failed %s translation of %s: %w", lang, m.id, err)
	}
	return nil
}

// cancelPending records that the request parentJobID was canceled: its
// languages still pending are canceled.
func (s *Store) cancelPending(ctx context.Context, tenantID, parentJobID string) error {
	_, err := s.db.Exec(ctx, `UPDATE translations SET status = 'canceled', error_code = 'canceled',
			error_message = 'the translation job was canceled', updated_at = now()
		WHERE tenant_id = $1 AND parent_job_id = $2 AND status = 'pending'`, tenantID, parentJobID)
	if err != nil {
		return fmt.Errorf("record the cancel of %s: %w", parentJobID, err)
	}
	return nil
}
