package translate

import "context"

// LanguageJob is a language job's input, for tests that run a language's
// work without the engine.
type LanguageJob = languageInput

// LanguageJobResult is a language job's result.
type LanguageJobResult = languageResult

// TranslatePost does a translate.post.language job's work as job jobID.
func (t *Translator) TranslatePost(ctx context.Context, tenantID, jobID string, in LanguageJob) (LanguageJobResult, int64, error) {
	return t.translatePost(ctx, tenantID, jobID, in)
}

// TranslateMedia does a translate.media.language job's work as job jobID.
func (t *Translator) TranslateMedia(ctx context.Context, tenantID, jobID string, in LanguageJob) (LanguageJobResult, int64, error) {
	return t.translateMedia(ctx, tenantID, jobID, in)
}
