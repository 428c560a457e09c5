package video

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/kilnhq/kiln/ai"
	"github.com/kilnhq/kiln/internal/problem"
)

// Sentinel errors callers branch on; they come wrapped with what was being
// done. Provider failures are ai's problems instead (see the package doc).
var (
	// ErrAlreadyCompleted: Cancel found the request already finished, so
	// there was nothing to stop; fetch its result or ignore it.
	ErrAlreadyCompleted = errors.New("the fal request had already completed")
	// ErrRequestNotFound: fal has no such request for the model's app
	// (a wrong id or model, or a request too old to keep).
	ErrRequestNotFound = errors.New("fal has no request with that id for the model")
	// ErrTooLarge: Download stopped at its size limit.
	ErrTooLarge = errors.New("the file is larger than the size limit")
	// ErrAnswerLost: a request got no answer (a network failure or a
	// timeout). For Submit it means fal may have queued the request:
	// submitting again could generate, and bill, twice. It comes wrapped
	// with ai.ErrProviderUnavailable.
	ErrAnswerLost = errors.New("the request got no answer, so fal may have received it")
)

// ContentPolicyType is the type fal's model errors carry when the model's
// safety checker refused the input or the output.
const ContentPolicyType = "content_policy_violation"

// statusError is an HTTP error status fal answered with.
type statusError struct {
	status int
	header http.Header
	// detail is fal's message; types are the machine-readable types of
	// a detail array; errorType is a request error's error_type.
	detail    string
	types     []string
	errorType string
	// state is the "status" field of the body, e.g. ALREADY_COMPLETED.
	state string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.detail) }

// lostError is a request that got no answer: a network failure or a
// timeout. fal may or may not have acted on it.
type lostError struct{ msg string }

func (e *lostError) Error() string { return e.msg }

// tooLargeError is an answer past the size limit; size is -1 when the
// server did not say it.
type tooLargeError struct{ size, limit int64 }

func (e *tooLargeError) Error() string {
	if e.size < 0 {
		return fmt.Sprintf("more than %d bytes", e.limit)
	}
	return fmt.Sprintf("%d bytes, more than %d", e.size, e.limit)
}

func (e *tooLargeError) Unwrap() error { return ErrTooLarge }

// falError is the error body of fal's APIs: detail is a message, an
// array of {loc, msg, type} (model errors) or, from some models, an
// object; error_type names a request error.
type falError struct {
	Detail    json.RawMessage `json:"detail"`
	ErrorType string          `json:"error_type"`
	Status    string          `json:"status"`
}

// modelError is one entry of a detail array.
type modelError struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

func newStatusError(status int, h http.Header, body []byte) *statusError {
	e := &statusError{status: status, header: h, errorType: h.Get("X-Fal-Error-Type")}
	var fe falError
	if json.Unmarshal(body, &fe) != nil {
		e.detail = clip(strings.TrimSpace(string(body)))
		return e
	}
	e.state = fe.Status
	e.errorType = or(fe.ErrorType, e.errorType)
	e.detail, e.types = parseDetail(fe.Detail)
	if e.detail == "" {
		e.detail = or(fe.Status, http.StatusText(status))
	}
	return e
}

// parseDetail reads fal's detail: a string, or model errors joined as
// "body.prompt: msg; ...", with their types.
func parseDetail(raw json.RawMessage) (string, []string) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return clip(s), nil
	}
	var list []modelError
	if json.Unmarshal(raw, &list) != nil {
		return clip(strings.TrimSpace(string(raw))), nil
	}
	msgs := make([]string, 0, len(list))
	types := make([]string, 0, len(list))
	for _, m := range list {
		msgs = append(msgs, locString(m.Loc)+m.Msg)
		types = append(types, m.Type)
	}
	return clip(strings.Join(msgs, "; ")), types
}

// locString is "body.prompt: " for a loc of ["body", "prompt"]; empty
// for a loc of only "body".
func locString(loc []any) string {
	if len(loc) < 2 {
		return ""
	}
	parts := make([]string, len(loc))
	for i, p := range loc {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, ".") + ": "
}

// clip shortens a message for an error.
func clip(s string) string {
	const limit = 500
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}

// contentPolicy reports whether a model error is a safety refusal: by its
// type, or, for models not yet on fal's typed errors, by its message.
func contentPolicy(types []string, detail string) bool {
	for _, t := range types {
		if t == ContentPolicyType {
			return true
		}
	}
	d := strings.ToLower(detail)
	return strings.Contains(d, "content policy") || strings.Contains(d, "content checker") ||
		strings.Contains(d, ContentPolicyType)
}

// fail turns the last error of an operation into its returned error: a
// provider problem, or a context error, wrapped with op and the number of
// requests made.
func fail(op string, requests int, err error) error {
	return fmt.Errorf("%s after %d requests: %w", op, requests, classify(err))
}

// classify maps a failure to ai's provider problems. Context errors and
// sentinels pass through.
func classify(err error) error {
	var (
		se   *statusError
		lost *lostError
	)
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTooLarge):
		return err
	case errors.As(err, &lost):
		return fmt.Errorf("%w [%w]", provider(ai.ErrProviderUnavailable, " ("+lost.msg+")"), ErrAnswerLost)
	case errors.As(err, &se):
		return statusProblem(se)
	}
	return err
}

// statusProblem maps an HTTP error status to its provider problem.
func statusProblem(se *statusError) error {
	base := ai.ErrProviderUnavailable
	switch {
	case se.status == http.StatusTooManyRequests:
		base = ai.ErrProviderRateLimited
	case se.status == http.StatusUnauthorized || se.status == http.StatusForbidden:
		base = ai.ErrProviderAuthFailed
	case se.status >= 400 && se.status < 500 && contentPolicy(se.types, se.detail):
		base = ai.ErrContentRejected
	case se.status >= 400 && se.status < 500:
		base = ai.ErrProviderRequestRejected
	}
	return provider(base, fmt.Sprintf(" (HTTP %d: %s)", se.status, se.detail))
}

// provider is a problem with base's kind and code and a message about
// fal with detail, a parenthesized specific.
func provider(base *problem.Problem, detail string) *problem.Problem {
	var msg string
	switch base.Code {
	case ai.ErrProviderRateLimited.Code:
		msg = "fal is rate limiting requests" + detail + "; the work is retried later"
	case ai.ErrProviderAuthFailed.Code:
		msg = "fal refused the API key" + detail +
			"; the operator must check KILN_FAL_API_KEY or the tenant's fal integration settings"
	case ai.ErrContentRejected.Code:
		msg = "the video model's content policy rejected the request" + detail + "; change the prompt or the input"
	case ai.ErrProviderRequestRejected.Code:
		msg = "fal rejected the video request" + detail + "; check the model id and its input"
	default:
		msg = "fal or the video model failed" + detail + "; try again later"
	}
	return &problem.Problem{Kind: base.Kind, Code: base.Code, Message: msg}
}
