// Package translate defines the translation kinds of Kiln's generation
// jobs. translate.post and translate.media fan out: the parent job submits
// one child job per target language (translate.post.language,
// translate.media.language: internal kinds, priced at nothing, since the
// parent holds the money), parks until they are final, and succeeds with
// each language's outcome and the sum of their usage.
//
// A post's translation is a post of its own (language set), linked to the
// master in the translations table; a media item's is its translated
// title, alt text and caption in that table (its bytes are not copied).
// Translating a language again updates the same translated post, and a
// translation is stale when its master changed after it was made.
//
// Markdown survives: code, link and image destinations, URLs and HTML are
// replaced by placeholders before the chat model sees the text and put
// back after; a translation that loses a placeholder, a heading, a list
// item or a term the caller asked to keep fails with the retryable code
// translation_lost_structure. The package owns the tables in its
// migrations folder.
package translate

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/ids"
	"github.com/kilnhq/kiln/internal/pg"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/settings"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the package's migration files for pg.NewMigrator.
func Migrations() pg.Source {
	return pg.Source{Owner: "translate", FS: migrations, Dir: "migrations"}
}

// Kind names.
const (
	KindPost          = "translate.post"
	KindMedia         = "translate.media"
	KindPostLanguage  = "translate.post.language"
	KindMediaLanguage = "translate.media.language"
)

// Prices, in credits per target language: what a language reserves and
// the most it is charged (tokens decide, one credit per 2,000).
const (
	PricePostLanguage  = 5
	PriceMediaLanguage = 1
)

// PromptType is the system prompt of the translation kinds
// (/api/v1/system-prompts/translate).
const PromptType = "translate"

// defaultPrompt is the platform default of PromptType.
const defaultPrompt = `You are a professional translator. Translate the user's content from {{.SourceLanguage}} into {{.TargetLanguage}}.

Rules:
- Translate the meaning faithfully and idiomatically, in the tone and register of the original. Add nothing, leave nothing out.
- Keep the Markdown structure exactly: the same headings with the same number of # marks, the same list items, tables, block quotes and emphasis.
- Tokens such as ⟦1⟧ stand for code, links, URLs and HTML. Copy each one exactly once, unchanged, where it belongs in the translated sentence; a token alone on its line stays alone on its line.
- Translate the text of links and images (inside the square brackets), never what follows it.
- Keep proper names as they are: people, companies, products, brands, software, and places without a usual name in {{.TargetLanguage}}.
{{- if .Keep}}
- Never translate these terms; copy them exactly as written: {{.Keep}}.
{{- end}}

Answer only with the JSON object the user asks for.`

// Prompts returns the default system prompts of the translation kinds.
func Prompts() []settings.PromptDefault {
	return []settings.PromptDefault{{
		Type:        PromptType,
		Description: "System prompt of translate.post and translate.media: how the chat model translates a post's title, excerpt and Markdown body, or a media item's title, alt text and caption.",
		Variables:   []string{"SourceLanguage", "TargetLanguage", "Keep"},
		Template:    defaultPrompt,
	}}
}

// Translator runs the translation kinds.
type Translator struct {
	content  *content.Service
	settings *settings.Service
	store    *Store
	log      *slog.Logger
	// park is how long a parent waits at most before it looks at its
	// children again; a finishing child wakes it sooner, this bounds the
	// delay when a wake is missed.
	park time.Duration
}

// New returns a Translator over the database (its translations table),
// the content service and the tenants' settings.
func New(db *pgxpool.Pool, c *content.Service, s *settings.Service, log *slog.Logger) *Translator {
	return &Translator{content: c, settings: s, store: NewStore(db), log: log, park: 10 * time.Second}
}

// Store returns the translations store.
func (t *Translator) Store() *Store { return t.store }

// Kinds returns the kinds to register.
func (t *Translator) Kinds() []jobs.Kind {
	return []jobs.Kind{t.postKind(), t.mediaKind(), t.postLanguageKind(), t.mediaLanguageKind()}
}

// cancel records a canceled parent's pending languages as canceled.
func (t *Translator) cancel(ctx context.Context, j jobs.Job) error {
	return t.store.cancelPending(ctx, j.TenantID, j.ID)
}

// PostInput is translate.post's input.
type PostInput struct {
	PostID string `json:"post_id"`
	Request
}

// MediaInput is translate.media's input.
type MediaInput struct {
	MediaID string `json:"media_id"`
	Request
}

// languageInput is the input of a language job.
type languageInput struct {
	MasterID string   `json:"master_id"`
	SiteID   string   `json:"site_id"`
	Language string   `json:"language"`
	Keep     []string `json:"keep,omitempty"`
	// ParentJobID is the job that asked, so a failure is recorded on the
	// request it belongs to.
	ParentJobID string `json:"parent_job_id"`
	// Share is the credits the parent reserved for this language: the
	// most it is charged.
	Share *int64 `json:"share,omitempty"`
}

// shareOr is the language's share of the parent's reservation, or def for
// a child submitted before shares were recorded.
func (in languageInput) shareOr(def int64) int64 {
	if in.Share == nil {
		return def
	}
	return *in.Share
}

// requestSchema is the JSON Schema of the parents' inputs, for idKey.
func requestSchema(idKey, idDesc string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"type":"object","required":[%q,"target_languages"],"additionalProperties":false,"properties":{
		%q:{"type":"string","description":%q},
		"target_languages":{"type":"array","minItems":1,"maxItems":%d,"uniqueItems":true,
			"items":{"type":"string","description":"a BCP 47 language tag such as de, fr or pt-BR, not the original's language"}},
		"keep":{"type":"array","maxItems":%d,"items":{"type":"string","minLength":1,"maxLength":%d},
			"description":"terms never to translate (proper names, product names); checked to survive"}}}`,
		idKey, idKey, idDesc, MaxLanguages, MaxKeep, maxKeepTerm))
}

func (t *Translator) postKind() jobs.Kind {
	return jobs.Kind{
		Name: KindPost,
		Description: "Translate a post into up to 20 languages, one child job per language; each language becomes a post of its own, " +
			"linked to the master. Markdown structure, code, links and the terms in keep survive.",
		Schema:      requestSchema("post_id", "the master post (post_…)"),
		Validate:    validatePostInput,
		Units:       languageUnits,
		Price:       PricePostLanguage,
		Timeout:     time.Minute,
		MaxAttempts: 3,
		Preflight:   t.preflightPost,
		Handler:     t.runPost,
		OnCancel:    t.cancel,
	}
}

func (t *Translator) mediaKind() jobs.Kind {
	return jobs.Kind{
		Name: KindMedia,
		Description: "Translate a media item's title, alt text and caption into up to 20 languages, one child job per language; " +
			"the job's site_id is the media item's site.",
		Schema:      requestSchema("media_id", "the master media item (med_…)"),
		Validate:    validateMediaInput,
		Units:       languageUnits,
		Price:       PriceMediaLanguage,
		Timeout:     time.Minute,
		MaxAttempts: 3,
		Preflight:   t.preflightChat,
		Handler:     t.runMedia,
		OnCancel:    t.cancel,
	}
}

func (t *Translator) postLanguageKind() jobs.Kind {
	return jobs.Kind{
		Name:        KindPostLanguage,
		Description: "One language of a translate.post job (internal).",
		Schema:      languageSchema,
		Validate:    validateLanguageInput,
		Internal:    true,
		Timeout:     10 * time.Minute,
		MaxAttempts: 3,
		Handler:     t.runPostLanguage,
	}
}

func (t *Translator) mediaLanguageKind() jobs.Kind {
	return jobs.Kind{
		Name:        KindMediaLanguage,
		Description: "One language of a translate.media job (internal).",
		Schema:      languageSchema,
		Validate:    validateLanguageInput,
		Internal:    true,
		Timeout:     2 * time.Minute,
		MaxAttempts: 3,
		Handler:     t.runMediaLanguage,
	}
}

var languageSchema = json.RawMessage(`{"type":"object","required":["master_id","site_id","language","parent_job_id"],
	"additionalProperties":false,"properties":{"master_id":{"type":"string"},"site_id":{"type":"string"},
	"language":{"type":"string"},"keep":{"type":"array","items":{"type":"string"}},"parent_job_id":{"type":"string"}}}`)

func validatePostInput(raw json.RawMessage) (json.RawMessage, error) {
	var in PostInput
	return validateParent(raw, &in, &in.Request, &in.PostID, "post", "post_id", "post")
}

func validateMediaInput(raw json.RawMessage) (json.RawMessage, error) {
	var in MediaInput
	return validateParent(raw, &in, &in.Request, &in.MediaID, "med", "media_id", "media item")
}

// validateParent decodes a parent's input into in, checks its request
// (req, inside in) and its master's id (id, inside in: prefix, field and
// noun name it), and returns the normalised input.
func validateParent(raw json.RawMessage, in any, req *Request, id *string, prefix, field, noun string) (json.RawMessage, error) {
	if err := jobs.StrictDecode(raw, in); err != nil {
		return nil, err
	}
	checked, err := req.Check("")
	var f problem.FieldErrors
	if p, ok := problem.As(err); ok {
		f = p.Fields
	}
	f.Check(!ids.HasPrefix(*id, prefix), field, fmt.Sprintf("is required: the id of the %s to translate (%s_…)", noun, prefix))
	if err := f.Err(); err != nil {
		return nil, err
	}
	*req = checked
	return json.Marshal(in)
}

func validateLanguageInput(raw json.RawMessage) (json.RawMessage, error) {
	var in languageInput
	if err := jobs.StrictDecode(raw, &in); err != nil {
		return nil, err
	}
	var f problem.FieldErrors
	_, ok := Language(in.Language)
	f.Check(!ok, "language", "must be a known BCP 47 language tag")
	f.Check(in.MasterID == "" || in.SiteID == "" || in.ParentJobID == "", "master_id", "master_id, site_id and parent_job_id are required")
	if err := f.Err(); err != nil {
		return nil, err
	}
	return raw, nil
}

// languageUnits prices a parent per target language.
func languageUnits(raw json.RawMessage) int64 {
	var in Request
	if json.Unmarshal(raw, &in) != nil {
		return 1
	}
	return int64(max(1, len(in.TargetLanguages)))
}

// preflightChat answers 503 provider_not_configured at submit when the
// tenant has no chat model.
func (t *Translator) preflightChat(ctx context.Context, tenantID string, _ json.RawMessage) error {
	return t.settings.Require(ctx, tenantID, ai.CapChat)
}

// preflightPost also checks, before anything is written, that the post is
// the tenant's, is not itself a translation, and is not written in a
// target language.
func (t *Translator) preflightPost(ctx context.Context, tenantID string, raw json.RawMessage) error {
	if err := t.preflightChat(ctx, tenantID, raw); err != nil {
		return err
	}
	var in PostInput
	if err := json.Unmarshal(raw, &in); err != nil {
		return fmt.Errorf("read translate.post input: %w", err)
	}
	post, err := t.content.FindPost(ctx, tenantID, in.PostID)
	if err != nil {
		return err
	}
	_, err = t.store.CheckPost(ctx, tenantID, post, in.Request)
	return err
}

// CheckPost validates a request to translate the tenant's post and
// returns it normalised: 422 for bad languages or terms (also the post's
// own language), 409 translation_of_translation for a post that is itself
// a translation.
func (s *Store) CheckPost(ctx context.Context, tenantID string, post content.Post, r Request) (Request, error) {
	req, err := r.Check(post.Language)
	if err != nil {
		return req, err
	}
	masterID, err := s.MasterOf(ctx, tenantID, post.ID)
	if err != nil {
		return req, err
	}
	if masterID != "" {
		return req, problem.New(problem.Conflict, "translation_of_translation",
			fmt.Sprintf("post %s is the %s translation of post %s; translate the master instead", post.ID, post.Language, masterID))
	}
	return req, nil
}

// CheckMedia validates a request to translate a media item of a site
// written in siteLanguage: 422 for bad languages or terms, 409
// nothing_to_translate when the item has no title, alt text or caption.
func CheckMedia(m content.Media, siteLanguage string, r Request) (Request, error) {
	req, err := r.Check(siteLanguage)
	if err != nil {
		return req, err
	}
	if strings.TrimSpace(m.Title+m.AltText+m.Caption) == "" {
		return req, problem.New(problem.Conflict, "nothing_to_translate",
			"the media item has no title, alt text or caption to translate; set them first (PATCH the media item)")
	}
	return req, nil
}
