package aitest

import (
	"net/http"
	"strconv"
	"time"
)

// Step is how a test server answers one call: normally (OK, Reply) or
// with a fault (Fail, ContentPolicy, InvalidAPIKey), optionally after a
// delay. Steps are values; the methods return modified copies.
type Step struct {
	status       int
	code         string
	message      string
	param        string
	retryAfterMS int
	msHeader     bool
	delay        time.Duration
	reply        string
	hasReply     bool
}

// OK answers the call normally.
func OK() Step { return Step{} }

// Reply answers a chat completion normally with text as the assistant's
// message (in JSON mode, text is used as is when it is a JSON object and
// wrapped as {"reply": text} otherwise). On other endpoints it is OK.
func Reply(text string) Step { return Step{reply: text, hasReply: true} }

// Fail answers with an HTTP error status in the API's error shape. The
// OpenAI server fills in OpenAI's message, type and code for the status:
// 400 invalid_request_error, 401 invalid_api_key, 403 permission denied,
// 404 model_not_found, 429 rate_limit_exceeded, 500 server_error,
// 503 overloaded; 502 and 504 come as an HTML page, as from OpenAI's
// edge proxy. The video queue answers {"detail": message}.
func Fail(status int) Step { return Step{status: status} }

// ContentPolicy is OpenAI's 400 for a prompt its safety system rejects,
// with code "content_policy_violation".
func ContentPolicy() Step {
	return Step{status: http.StatusBadRequest, code: "content_policy_violation",
		message: "Your request was rejected as a result of our safety system. " +
			"Your prompt may contain text that is not allowed by our safety system."}
}

// InvalidAPIKey is OpenAI's 401 with code "invalid_api_key", whatever key
// was sent.
func InvalidAPIKey() Step { return Fail(http.StatusUnauthorized) }

// RetryAfter adds a Retry-After header of whole seconds.
func (s Step) RetryAfter(seconds int) Step {
	s.retryAfterMS, s.msHeader = seconds*1000, false
	return s
}

// RetryAfterMS adds OpenAI's retry-after-ms header with ms milliseconds,
// and Retry-After with the seconds rounded up, so clients that read
// either can honour a short wait.
func (s Step) RetryAfterMS(ms int) Step {
	s.retryAfterMS, s.msHeader = ms, true
	return s
}

// After delays the answer by d. The delay ends early, without an answer,
// when the client cancels the request.
func (s Step) After(d time.Duration) Step {
	s.delay = d
	return s
}

// Message replaces the error message.
func (s Step) Message(msg string) Step {
	s.message = msg
	return s
}

// Code replaces the error code, e.g. Fail(429).Code("insufficient_quota").
func (s Step) Code(code string) Step {
	s.code = code
	return s
}

// fails reports whether the step answers with an error.
func (s Step) fails() bool { return s.status >= 300 }

// setRetryAfter writes the retry headers of the step, if any.
func (s Step) setRetryAfter(h http.Header) {
	if s.retryAfterMS <= 0 {
		return
	}
	h.Set("Retry-After", strconv.Itoa((s.retryAfterMS+999)/1000))
	if s.msHeader {
		h.Set("Retry-After-Ms", strconv.Itoa(s.retryAfterMS))
	}
}
