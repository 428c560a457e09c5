// Package problem is the shared vocabulary for errors a caller can act on.
// Domain packages return a *Problem with a kind, a stable snake_case code and
// a message that says what to do; the API turns the kind into an HTTP status
// and writes the CONVENTIONS.md error body. Any other error is internal.
package problem

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Kind classifies a problem; each maps to one HTTP status.
type Kind int

// The kinds of problem, in the order of their HTTP statuses.
const (
	Malformed       Kind = iota // 400: the request cannot be read
	Unauthenticated             // 401
	PaymentRequired             // 402
	Forbidden                   // 403
	NotFound                    // 404, also for another tenant's resource
	Conflict                    // 409
	TooLarge                    // 413
	Unsupported                 // 415: a file type that is not accepted
	Invalid                     // 422: readable, but values are wrong
	RateLimited                 // 429
	Unavailable                 // 503: a dependency is down
	Unknown                     // 500: a fault of ours, never bad input
)

// Problem is an error the caller can understand and act on.
type Problem struct {
	Kind    Kind
	Code    string
	Message string
	// Fields names each invalid field and what is wrong with it (Invalid).
	Fields map[string]string
	// Details carries further machine-readable facts.
	Details map[string]any
}

func (p *Problem) Error() string {
	if len(p.Fields) == 0 {
		return p.Code + ": " + p.Message
	}
	names := make([]string, 0, len(p.Fields))
	for f := range p.Fields {
		names = append(names, f)
	}
	sort.Strings(names)
	return fmt.Sprintf("%s: %s (%s)", p.Code, p.Message, strings.Join(names, ", "))
}

// Is matches another *Problem with the same kind and code, so callers can
// branch with errors.Is(err, identity.ErrEmailTaken).
func (p *Problem) Is(target error) bool {
	var t *Problem
	return errors.As(target, &t) && t.Kind == p.Kind && t.Code == p.Code
}

// New returns a problem of kind with code and message.
func New(kind Kind, code, message string) *Problem {
	return &Problem{Kind: kind, Code: code, Message: message}
}

// NotFoundf is the usual "no such thing" problem for a resource type.
func NotFoundf(resource string) *Problem {
	return New(NotFound, resource+"_not_found", fmt.Sprintf("no %s with that id was found; check the id, and that it belongs to your tenant", strings.ReplaceAll(resource, "_", " ")))
}

// As returns the *Problem in err's chain, if any.
func As(err error) (*Problem, bool) {
	var p *Problem
	ok := errors.As(err, &p)
	return p, ok
}

// FieldErrors collects invalid fields, so a request reports all of them at
// once. The zero value is ready to use.
type FieldErrors map[string]string

// Add records that field is invalid for reason, keeping the first reason.
func (f *FieldErrors) Add(field, reason string) {
	if *f == nil {
		*f = FieldErrors{}
	}
	if _, ok := (*f)[field]; !ok {
		(*f)[field] = reason
	}
}

// Check records reason for field when bad is true.
func (f *FieldErrors) Check(bad bool, field, reason string) {
	if bad {
		f.Add(field, reason)
	}
}

// Err returns an Invalid problem naming every field, or nil when none failed.
func (f FieldErrors) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Problem{Kind: Invalid, Code: "validation_failed", Message: "some fields are invalid; see details.fields", Fields: f}
}
