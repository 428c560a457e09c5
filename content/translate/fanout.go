package translate

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/jobs"
)

// Result is a parent job's result: the master and each language's
// outcome, sorted by language.
type Result struct {
	ResourceType string `json:"resource_type"`
	MasterID     string `json:"master_id"`
	// Succeeded and Failed count the languages.
	Succeeded    int              `json:"succeeded"`
	Failed       int              `json:"failed"`
	Translations []LanguageResult `json:"translations"`
}

// LanguageResult is one language's outcome in a parent's result.
type LanguageResult struct {
	Language string      `json:"language"`
	Status   jobs.Status `json:"status"`
	// TranslationID is the translation's row; TranslatedPostID the post
	// holding a post's translation.
	TranslationID    string         `json:"translation_id,omitempty"`
	TranslatedPostID string         `json:"translated_post_id,omitempty"`
	JobID            string         `json:"job_id"`
	Credits          int64          `json:"credits"`
	Error            *jobs.JobError `json:"error,omitempty"`
}

// languageResult is a language job's result.
type languageResult struct {
	Language         string       `json:"language"`
	TranslationID    string       `json:"translation_id"`
	TranslatedPostID string       `json:"translated_post_id,omitempty"`
	Title            string       `json:"title,omitempty"`
	Fields           *MediaFields `json:"fields,omitempty"`
}

// fanOut is what a parent translates: the master, the languages, the
// terms to keep, and the kind of its children.
type fanOut struct {
	master    master
	languages []string
	keep      []string
	childKind string
}

func (t *Translator) runPost(ctx context.Context, run *jobs.Run) (any, error) {
	var in PostInput
	if err := run.Input(&in); err != nil {
		return nil, err
	}
	post, err := t.content.FindPost(ctx, run.Job.TenantID, in.PostID)
	if err != nil {
		return nil, missing(err, "post_not_found", "the post to translate no longer exists")
	}
	return t.fanOut(ctx, run, fanOut{master: master{tenantID: run.Job.TenantID, siteID: post.SiteID, resourceType: ResourcePost, id: post.ID},
		languages: in.TargetLanguages, keep: in.Keep, childKind: KindPostLanguage})
}

func (t *Translator) runMedia(ctx context.Context, run *jobs.Run) (any, error) {
	var in MediaInput
	if err := run.Input(&in); err != nil {
		return nil, err
	}
	if run.Job.SiteID == nil {
		return nil, jobs.Permanent("site_required", "translate.media needs the job's site_id: the media item's site", nil)
	}
	m, err := t.content.GetMedia(ctx, run.Job.TenantID, *run.Job.SiteID, in.MediaID)
	if err != nil {
		return nil, missing(err, "media_not_found", "the media item to translate is not in the job's site")
	}
	return t.fanOut(ctx, run, fanOut{master: master{tenantID: run.Job.TenantID, siteID: m.SiteID, resourceType: ResourceMedia, id: m.ID},
		languages: in.TargetLanguages, keep: in.Keep, childKind: KindMediaLanguage})
}

// missing turns a not-found problem into a permanent failure with code.
func missing(err error, code, message string) error {
	if p, ok := problem.As(err); ok && p.Kind == problem.NotFound {
		return jobs.Permanent(code, message, err)
	}
	return err
}

// fanOut runs a parent: the first time, it marks the languages pending and
// submits one child per language; while children run, it parks; once all
// are final, it records the failures and ends with every language's
// outcome. Every step is safe to repeat: it runs again from the top each
// time it is woken.
func (t *Translator) fanOut(ctx context.Context, run *jobs.Run, f fanOut) (any, error) {
	kids, err := run.Children(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the children of %s: %w", run.Job.ID, err)
	}
	if len(kids) < len(f.languages) {
		if kids, err = t.submitChildren(ctx, run, f, len(kids) == 0); err != nil {
			return nil, err
		}
	}
	final := 0
	for _, k := range kids {
		if k.Status.Final() {
			final++
		}
	}
	if final < len(kids) {
		if p := 5 + 90*final/len(kids); final > 0 && p != run.Job.Progress {
			_ = run.Progress(ctx, p, fmt.Sprintf("%d of %d languages done", final, len(kids)))
		}
		return nil, jobs.Await(t.park)
	}
	return t.conclude(ctx, run, f, kids)
}

// submitChildren submits one child per language (idempotent per language);
// first, before any child exists, it marks the languages pending.
func (t *Translator) submitChildren(ctx context.Context, run *jobs.Run, f fanOut, first bool) ([]jobs.Job, error) {
	if first {
		if err := t.store.prepare(ctx, f.master, f.languages, f.keep, run.Job.ID); err != nil {
			return nil, err
		}
	}
	reqs := make([]jobs.ChildRequest, 0, len(f.languages))
	share := run.Job.Credits.Reserved / int64(max(len(f.languages), 1))
	for _, lang := range f.languages {
		reqs = append(reqs, jobs.ChildRequest{Key: lang, Kind: f.childKind, Input: languageInput{MasterID: f.master.id,
			SiteID: f.master.siteID, Language: lang, Keep: f.keep, ParentJobID: run.Job.ID, Share: &share}})
	}
	kids, err := run.SubmitChildren(ctx, reqs)
	if err != nil {
		return nil, fmt.Errorf("submit the languages of %s: %w", run.Job.ID, err)
	}
	_ = run.Progress(ctx, 5, fmt.Sprintf("translating into %s", strings.Join(f.languages, ", ")))
	return kids, nil
}

// conclude records the failed languages and builds the result. The usage
// is the sum of the succeeded languages' usage: a failed language costs
// nothing. When every language failed, the job fails with
// translation_failed (and is not charged).
func (t *Translator) conclude(ctx context.Context, run *jobs.Run, f fanOut, kids []jobs.Job) (any, error) {
	res := Result{ResourceType: f.master.resourceType, MasterID: f.master.id, Translations: []LanguageResult{}}
	var usage int64
	var failures []string
	for _, k := range kids {
		lr, err := t.outcome(ctx, run, f, k)
		if err != nil {
			return nil, err
		}
		if lr.Status == jobs.StatusSucceeded {
			res.Succeeded++
			usage += lr.Credits
		} else {
			res.Failed++
			failures = append(failures, lr.Language+": "+lr.Error.Code)
		}
		res.Translations = append(res.Translations, lr)
	}
	slices.SortFunc(res.Translations, func(a, b LanguageResult) int { return strings.Compare(a.Language, b.Language) })
	if res.Succeeded == 0 {
		slices.Sort(failures)
		return nil, jobs.Permanent("translation_failed", "no language could be translated ("+strings.Join(failures, "; ")+
			"); the job's result is empty and nothing is charged", nil)
	}
	run.SetUsage(usage)
	return res, nil
}

// outcome reads one child's outcome, recording a failure in its
// translation's row.
func (t *Translator) outcome(ctx context.Context, run *jobs.Run, f fanOut, k jobs.Job) (LanguageResult, error) {
	var in languageInput
	if err := json.Unmarshal(k.Input, &in); err != nil {
		return LanguageResult{}, fmt.Errorf("read the input of child %s: %w", k.ID, err)
	}
	lr := LanguageResult{Language: in.Language, Status: k.Status, JobID: k.ID}
	if k.Status == jobs.StatusSucceeded {
		var r languageResult
		if err := json.Unmarshal(k.Result, &r); err != nil {
			return LanguageResult{}, fmt.Errorf("read the result of child %s: %w", k.ID, err)
		}
		lr.TranslationID, lr.TranslatedPostID, lr.Credits = r.TranslationID, r.TranslatedPostID, childUsage(k)
		return lr, nil
	}
	lr.Error = k.Error
	if lr.Error == nil {
		lr.Error = &jobs.JobError{Code: string(k.Status), Message: "the language's job ended " + string(k.Status)}
	}
	return lr, t.store.markFailed(ctx, f.master, in.Language, run.Job.ID, *lr.Error)
}

// childUsage is the credits a child reported using.
func childUsage(k jobs.Job) int64 { return k.Usage }
