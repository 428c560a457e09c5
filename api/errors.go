package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/kilnhq/kiln/internal/problem"
)

// errorBody is the error envelope of CONVENTIONS.md section 3.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// statusOf maps a problem kind to its HTTP status.
func statusOf(k problem.Kind) int {
	switch k {
	case problem.Malformed:
		return http.StatusBadRequest
	case problem.Unauthenticated:
		return http.StatusUnauthorized
	case problem.PaymentRequired:
		return http.StatusPaymentRequired
	case problem.Forbidden:
		return http.StatusForbidden
	case problem.NotFound:
		return http.StatusNotFound
	case problem.Conflict:
		return http.StatusConflict
	case problem.TooLarge:
		return http.StatusRequestEntityTooLarge
	case problem.Unsupported:
		return http.StatusUnsupportedMediaType
	case problem.Invalid:
		return http.StatusUnprocessableEntity
	case problem.RateLimited:
		return http.StatusTooManyRequests
	case problem.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// fail writes err as the JSON error body and stops the handler chain. An
// error that is not a *problem.Problem is logged and answered as a 500 that
// reveals nothing but the request id.
func (s *Server) fail(c *gin.Context, err error) {
	p, ok := problem.As(err)
	if !ok {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			p = problem.New(problem.TooLarge, "body_too_large", fmt.Sprintf("the request body is larger than %d bytes", mbe.Limit))
		} else if unreachable(err) {
			logger(c, s.log).WarnContext(c.Request.Context(), "dependency unavailable", "err", err)
			c.Header("Retry-After", "5")
			p = problem.New(problem.Unavailable, "dependency_unavailable", "Postgres or Redis cannot be reached right now; retry shortly (GET /health/ready says which)")
		} else {
			logger(c, s.log).ErrorContext(c.Request.Context(), "request failed", "err", err)
			p = problem.New(problem.Unknown, "internal_error", "something went wrong on our side; retry later and quote request id "+requestID(c))
		}
	}
	body := errorBody{Error: errorDetail{Code: p.Code, Message: p.Message, Details: p.Details}}
	if len(p.Fields) > 0 {
		if body.Error.Details == nil {
			body.Error.Details = map[string]any{}
		}
		body.Error.Details["fields"] = p.Fields
	}
	if p.Kind == problem.Unauthenticated {
		c.Header("WWW-Authenticate", `Bearer realm="kiln"`)
	}
	c.AbortWithStatusJSON(statusOf(p.Kind), body)
}

// unreachable reports whether err means a dependency could not be reached
// (connection refused, reset or timed out), as opposed to a fault of ours.
func unreachable(err error) bool {
	var connect *pgconn.ConnectError
	var netErr net.Error
	var opErr *net.OpError
	return errors.As(err, &connect) || errors.As(err, &opErr) || (errors.As(err, &netErr) && netErr.Timeout())
}

// bindJSON decodes the request body into dst. Unreadable JSON is a 400;
// unknown fields and wrong types are a 422 naming the field; a body over the
// limit is a 413.
func bindJSON(c *gin.Context, dst any) error {
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if dec.More() {
			return problem.New(problem.Malformed, "malformed_json", "the body holds more than one JSON value")
		}
		return nil
	}
	return jsonProblem(err)
}

func jsonProblem(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return problem.New(problem.Malformed, "malformed_json", "the request body is empty; send a JSON object")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return problem.New(problem.Malformed, "malformed_json", "the request body is not valid JSON: "+err.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return problem.New(problem.Malformed, "malformed_json", "the request body must be a JSON object")
		}
		return &problem.Problem{Kind: problem.Invalid, Code: "validation_failed", Message: "some fields are invalid; see details.fields",
			Fields: map[string]string{field: "must be " + jsonType(typ.Type.Kind().String())}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &problem.Problem{Kind: problem.Invalid, Code: "validation_failed", Message: "some fields are invalid; see details.fields",
			Fields: map[string]string{field: "is not a known field"}}
	}
	return problem.New(problem.Malformed, "malformed_json", "the request body could not be read: "+err.Error())
}

func jsonType(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return "a number"
}

// bindOptionalJSON decodes the body into dst like bindJSON, but an empty
// body leaves dst as it is.
func bindOptionalJSON(c *gin.Context, dst any) error {
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(raw))
	return bindJSON(c, dst)
}
