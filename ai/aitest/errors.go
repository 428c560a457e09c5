package aitest

import (
	"fmt"
	"net/http"
)

// nullCode is a Step code that OpenAI sends as JSON null.
const nullCode = "\x00null"

// apiError is OpenAI's error object: {"error": {...}}.
type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// badRequest is a 400 invalid_request_error about param ("" for none).
func badRequest(msg, param string) Step {
	st := Fail(http.StatusBadRequest).Message(msg).Code(nullCode)
	st.param = param
	return st
}

// writeAPIError answers a failing step in OpenAI's shape.
func writeAPIError(w http.ResponseWriter, st Step) {
	st.setRetryAfter(w.Header())
	if st.status == http.StatusBadGateway || st.status == http.StatusGatewayTimeout {
		writeEdgeError(w, st.status)
		return
	}
	writeJSON(w, st.status, map[string]apiError{"error": openAIError(st)})
}

// writeEdgeError answers the HTML page a proxy in front of OpenAI sends,
// which is not JSON: clients must cope with that too.
func writeEdgeError(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	text := http.StatusText(status)
	_, _ = fmt.Fprintf(w, "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n"+
		"<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n", status, text, status, text)
}

// openAIError fills in OpenAI's type, code and message for the step's
// status where the step does not set them.
func openAIError(st Step) apiError {
	typ, code, msg := errorDefaults(st)
	if st.code != "" {
		code = st.code
	}
	if st.message != "" {
		msg = st.message
	}
	e := apiError{Message: msg, Type: typ}
	if code != nullCode && code != "" {
		e.Code = &code
	}
	if st.param != "" {
		e.Param = &st.param
	}
	return e
}

// errorDefaults returns OpenAI's type, code and message for a status.
func errorDefaults(st Step) (typ, code, msg string) {
	switch st.status {
	case http.StatusBadRequest:
		return "invalid_request_error", nullCode, "aitest: scripted bad request"
	case http.StatusUnauthorized:
		return "invalid_request_error", "invalid_api_key",
			"Incorrect API key provided: sk-aites************cdef. You can find your API key at " +
				"https://platform.openai.com/account/api-keys."
	case http.StatusForbidden:
		return "invalid_request_error", "unsupported_country_region_territory",
			"Country, region, or territory not supported"
	case http.StatusNotFound:
		return "invalid_request_error", "model_not_found", "The requested model does not exist."
	case http.StatusTooManyRequests:
		if st.code == "insufficient_quota" {
			return "insufficient_quota", "insufficient_quota",
				"You exceeded your current quota, please check your plan and billing details."
		}
		return "requests", "rate_limit_exceeded", fmt.Sprintf(
			"Rate limit reached for requests. Please try again in %dms.", max(st.retryAfterMS, 1))
	case http.StatusInternalServerError:
		return "server_error", nullCode, "The server had an error while processing your request. Sorry about that!"
	case http.StatusServiceUnavailable:
		return "server_error", nullCode, "The engine is currently overloaded, please try again later."
	}
	if st.status >= 500 {
		return "server_error", nullCode, http.StatusText(st.status)
	}
	return "invalid_request_error", nullCode, http.StatusText(st.status)
}
